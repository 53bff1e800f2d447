"""Thresholds chosen by what they mean, not typed in as cosines.

A model carries a FAR table (`far_table` in its metadata, written at export): for each pairwise false
accept rate from 1e-1 to 1e-5, the threshold that gives it on people the model never saw, the true
accept rate there, and how many impostor and genuine pairs stand behind the figures. A row resting
on fewer than `MIN_FALSE_ACCEPTS` impostor pairs above its threshold has no threshold: it says "too
few pairs" instead of extrapolating.

`--far F` picks the row of F. `--false-name-rate R` asks for the chance that a stranger's face gets
SOME enrolled name: it is compared with each of the N people enrolled, so the pairwise FAR is
1 - (1 - R)^(1/N) (about R/N), and the loosest row at or below it is taken. `--threshold` overrides
both; without any of them, a threshold stored in the gallery by `edge-gallery calibrate` is used,
else the model's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.words import counted
from edge_runtime.identity.openset import threshold_at_far

FAR_LEVELS = (1e-1, 5e-2, 2e-2, 1e-2, 5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5)
MIN_FALSE_ACCEPTS = 10  # impostor pairs at or above a row's threshold: fewer, and its FAR is a guess
NO_TABLE = (
    "the model carries no FAR table (add one with python -m export.far_table MODEL --data HELD_OUT_PEOPLE --write)"
)


class ThresholdError(SiameseEdgeError):
    """A threshold that cannot be chosen as asked."""


@dataclass(frozen=True)
class FarRow:
    """One row of a FAR table: the threshold giving pairwise FAR `far` on held-out people and the TAR
    there, with the pairs behind them; `threshold` is None where too few impostor pairs could tell."""

    far: float
    threshold: float | None
    tar: float | None
    impostor_pairs: int
    genuine_pairs: int

    def to_dict(self) -> dict:
        """The row as the model's metadata stores it."""
        return {"far": self.far, "threshold": self.threshold, "tar": self.tar,
                "impostor_pairs": self.impostor_pairs, "genuine_pairs": self.genuine_pairs}  # fmt: skip

    @classmethod
    def from_dict(cls, row: dict) -> FarRow:
        """A row read back from the model's metadata."""
        threshold, tar = (None if row.get(key) is None else float(row[key]) for key in ("threshold", "tar"))
        return cls(float(row["far"]), threshold, tar, int(row["impostor_pairs"]), int(row["genuine_pairs"]))

    def describe(self) -> str:
        """What the row rests on, in words."""
        tar = f", TAR {100 * self.tar:.1f}% on {self.genuine_pairs:,} genuine pairs" if self.tar is not None else ""
        return f"FAR {self.far:g} on {self.impostor_pairs:,} impostor pairs of held-out people{tar}"


def far_table(scores: np.ndarray, same: np.ndarray, levels: tuple[float, ...] = FAR_LEVELS) -> list[FarRow]:
    """The FAR table of verification pair `scores` (`same`: genuine pairs) of held-out people."""
    impostors, genuine = int((~same).sum()), scores[same]
    rows = []
    for far in levels:
        if far * impostors < MIN_FALSE_ACCEPTS:
            rows.append(FarRow(far, None, None, impostors, len(genuine)))
            continue
        threshold = math.ceil(threshold_at_far(scores, same, far) * 1e6) / 1e6  # stored rounded, never looser
        tar = float(np.mean(genuine >= threshold)) if len(genuine) else None
        rows.append(FarRow(far, threshold, tar, impostors, len(genuine)))
    return rows


def table_of(rows: tuple[dict, ...] | list[dict]) -> list[FarRow]:
    """A model's FAR table from its metadata's rows."""
    return [FarRow.from_dict(row) for row in rows]


def pairwise_far(false_name_rate: float, people: int) -> float:
    """The pairwise FAR at which a stranger compared with `people` enrolled people gets some name with
    probability `false_name_rate`."""
    return -math.expm1(math.log1p(-false_name_rate) / max(1, people))


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold a run uses and, in words, where it came from; `by_size` gives it again for
    another number of people enrolled, where it depends on that (--false-name-rate)."""

    threshold: float
    why: str
    by_size: Callable[[int], ThresholdChoice] | None = None


def _row_for_far(table: list[FarRow], far: float) -> FarRow:
    if not table:
        raise ThresholdError(f"--far needs a FAR table: {NO_TABLE}; give --threshold")
    for row in table:
        if math.isclose(row.far, far, rel_tol=1e-6):
            if row.threshold is None:
                raise ThresholdError(
                    f"FAR {far:g} needs more impostor pairs than the model was calibrated on "
                    f"({row.impostor_pairs:,}, fewer than {MIN_FALSE_ACCEPTS} above any threshold); choose a larger "
                    "--far, or calibrate on your own photos (edge-gallery calibrate)"
                )
            return row
    raise ThresholdError(f"--far {far:g} is not in the model's table; choose one of {_levels(table)}")


def _row_for_false_name_rate(table: list[FarRow], rate: float, people: int) -> tuple[FarRow, float]:
    if not table:
        raise ThresholdError(f"--false-name-rate needs a FAR table: {NO_TABLE}; give --threshold")
    wanted = pairwise_far(rate, people)
    fitting = [row for row in table if row.threshold is not None and row.far <= wanted * (1 + 1e-9)]
    if not fitting:
        lowest = min((row.far for row in table if row.threshold is not None), default=None)
        reach = f"the lowest it measured is {lowest:g}" if lowest is not None else "it measured none"
        raise ThresholdError(
            f"a false-name rate of {rate:g} with {counted(people, 'person', 'people')} enrolled needs "
            f"a pairwise FAR of {wanted:.2g}; "
            f"the model's table has too few impostor pairs to tell ({reach}): give --threshold, or calibrate on "
            "your own photos (edge-gallery calibrate)"
        )
    return max(fitting, key=lambda row: row.far), wanted


def _levels(table: list[FarRow]) -> str:
    return ", ".join(f"{row.far:g}" for row in table if row.threshold is not None) or "none (too few pairs)"


def check_request(
    rows: tuple[dict, ...] | list[dict],
    *,
    threshold: float | None = None,
    far: float | None = None,
    false_name_rate: float | None = None,
) -> None:
    """Refuse, before any work, a request no gallery could satisfy: two ways of setting the threshold
    at once, a FAR the table lacks, or a rate asked of a model with no table."""
    asked = [name for name, value in (("--threshold", threshold), ("--far", far),
                                      ("--false-name-rate", false_name_rate)) if value is not None]  # fmt: skip
    if len(asked) > 1:
        raise ThresholdError(f"give one of {' and '.join(asked)}, not both: each sets the threshold")
    if far is not None:
        _row_for_far(table_of(rows), far)
    if false_name_rate is not None and not rows:
        raise ThresholdError(f"--false-name-rate needs a FAR table: {NO_TABLE}; give --threshold")


def choose_threshold(
    model_threshold: float | None,
    rows: tuple[dict, ...] | list[dict],
    *,
    threshold: float | None = None,
    far: float | None = None,
    false_name_rate: float | None = None,
    people: int = 1,
    stored: tuple[float, str] | None = None,
    model_far: float | None = None,
) -> ThresholdChoice:
    """The threshold of a run: `threshold` if given, else the table's row for `far`, else for
    `false_name_rate` with `people` enrolled, else `stored` in the gallery (value, note), else the model's
    (`model_far`: the FAR it was calibrated for)."""
    check_request(rows, threshold=threshold, far=far, false_name_rate=false_name_rate)
    table = table_of(rows)
    if threshold is not None:
        return ThresholdChoice(float(threshold), "given by --threshold")
    if far is not None:
        row = _row_for_far(table, far)
        return ThresholdChoice(row.threshold, f"for --far {far:g}: {row.describe()}")
    if false_name_rate is not None:
        row, wanted = _row_for_false_name_rate(table, false_name_rate, people)
        return ThresholdChoice(
            row.threshold,
            f"for --false-name-rate {false_name_rate:g} with {counted(people, 'person', 'people')} enrolled: "
            "pairwise FAR at most "
            f"{wanted:.2g}, the table's {row.describe()}",
            lambda size: choose_threshold(model_threshold, rows, false_name_rate=false_name_rate, people=size),
        )
    if stored is not None:
        return ThresholdChoice(float(stored[0]), f"stored in the gallery ({stored[1]})")
    if model_threshold is None:
        raise ThresholdError("the model carries no calibrated threshold; pass --threshold")
    calibrated = f", set for FAR {model_far:g} at export" if model_far else ""
    row = next((r for r in table if model_far and r.threshold is not None and math.isclose(r.far, model_far)), None)
    measured = f"; this file's FAR table puts FAR {row.far:g} at {row.threshold:.4f}" if row else ""
    return ThresholdChoice(float(model_threshold), f"the model's own{calibrated}{measured}")
