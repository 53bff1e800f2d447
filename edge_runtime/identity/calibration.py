"""Thresholds measured on the user's own photos (`edge-gallery calibrate`): other photos of the
enrolled people and photos of strangers, from the user's own camera, recognised against the gallery
at each candidate threshold: how many enrolled photos get their own name, how many get another's,
and how many strangers get some name."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.faces.regions import RegionFinder
from edge_runtime.identity.enrollment import file_digest, usable_region
from edge_runtime.identity.gallery import Gallery
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.thresholds import table_of
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference.embedder import Embedder
from edge_runtime.inference.model_info import ModelInfo

log = logging.getLogger("edge_runtime")


@dataclass(frozen=True)
class Probe:
    """One photo recognised: who it shows (a name, or "unknown" for a stranger), the gallery's best
    match and its score."""

    truth: str
    best: str
    score: float


@dataclass(frozen=True)
class CalibrationRow:
    """What one threshold does to the user's photos."""

    threshold: float
    source: str
    named_right: int
    wrong_names: int
    enrolled_photos: int
    strangers_named: int
    strangers: int

    @property
    def tar(self) -> float:
        """The share of enrolled people's photos given their own name."""
        return self.named_right / max(1, self.enrolled_photos)

    @property
    def false_name_rate(self) -> float:
        """The share of strangers' photos given some enrolled name."""
        return self.strangers_named / max(1, self.strangers)

    def note(self) -> str:
        """How this choice was measured, as the gallery stores it."""
        return (f"edge-gallery calibrate: {self.source}; {100 * self.tar:.1f}% of {self.enrolled_photos} enrolled "
                f"people's photos named right, {self.wrong_names} wrongly, {self.strangers_named} of "
                f"{self.strangers} strangers' photos named")  # fmt: skip


def recognise_photos(
    gallery: Gallery, embedder: Embedder, regions: RegionFinder, photos: list[tuple[str, Path]]
) -> list[Probe]:
    """Each photo (truth, path) matched against the gallery; photos without a usable face, and photos
    the gallery was enrolled from (they would match themselves), are skipped with a warning."""
    enrolled_from = set(gallery.digests)
    faces, truths = [], []
    for truth, path in photos:
        try:
            if file_digest(path) in enrolled_from:
                log.warning("%s: enrolled in the gallery itself; left out (give other photos)", path)
                continue
            faces.append(usable_region(read_image(path), regions, str(path)))
            truths.append(truth)
        except (SiameseEdgeError, OSError) as error:
            log.warning("left out: %s", error)
    if not faces:
        return []
    matches = gallery.match(embedder.embed(faces))
    return [Probe(truth, best[0].name, best[0].score) for truth, best in zip(truths, matches, strict=True)]


def candidate_thresholds(
    info: ModelInfo, stored: tuple[float, str] | None, probes: list[Probe]
) -> list[tuple[float, str]]:
    """The thresholds worth comparing: each row of the model's FAR table, the model's own, the one
    stored in the gallery, and the loosest that names none of these strangers."""
    candidates = [(row.threshold, f"pairwise FAR {row.far:g} (model's table)") for row in table_of(info.far_table)
                  if row.threshold is not None]  # fmt: skip
    if info.threshold is not None:
        candidates.append((float(info.threshold), "the model's own"))
    if stored is not None:
        candidates.append((stored[0], "stored in the gallery now"))
    strangers = [p.score for p in probes if p.truth == UNKNOWN]
    if strangers:
        loosest = (math.floor(max(strangers) * 1e4) + 1) / 1e4  # four decimals, as printed and given to --store
        candidates.append((loosest, "names none of these strangers"))
    return sorted(candidates, key=lambda candidate: candidate[0])


def calibration_rows(probes: list[Probe], candidates: list[tuple[float, str]]) -> list[CalibrationRow]:
    """What each candidate threshold (value, where it comes from) does to the probes."""
    known = [p for p in probes if p.truth != UNKNOWN]
    strangers = [p for p in probes if p.truth == UNKNOWN]
    return [
        CalibrationRow(
            threshold=threshold,
            source=source,
            named_right=sum(p.score >= threshold and p.best == p.truth for p in known),
            wrong_names=sum(p.score >= threshold and p.best != p.truth for p in known),
            enrolled_photos=len(known),
            strangers_named=sum(p.score >= threshold for p in strangers),
            strangers=len(strangers),
        )
        for threshold, source in candidates
    ]
