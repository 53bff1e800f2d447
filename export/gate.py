"""The export gate's statistics: is what a variant loses significant, clearly within bounds, or undecided?

Both losses are measured with 95% two-sided confidence intervals:

- one-shot accuracy, paired: the reference and the variant answer the same episodes, and the
  interval is the normal one of the per-episode differences (in points), or the rule of three's
  where the episodes show no spread;
- the false accept rate at the shipped threshold: the Wilson score interval of the variant's
  false accepts among the impostor pairs.

A variant is refused when the whole interval lies above its limit (the loss is significant),
accepted when the whole interval lies at or below it, and undecided otherwise: then the sample is
too small to tell, and the decision says how large a sample would tell, at the loss observed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_runtime.identity.openset import Z_95, mean_and_interval

REFUSED, ACCEPTED, UNDECIDED = "refused", "accepted", "undecided"
LARGEST_SAMPLE = 10**9  # beyond this a sample "would decide" only in theory
RULE_OF_THREE = 3.0  # with nothing seen in n trials, the 95% upper bound of its chance is about 3/n


@dataclass(frozen=True)
class Decision:
    """A measured loss, its 95% interval, the limit it is held to and the verdict; `needed` is the
    sample size that would decide an undecided loss (None when decided, or when none would)."""

    estimate: float
    low: float
    high: float
    limit: float
    sample: int
    verdict: str
    needed: int | None = None


def as_change(decision: Decision) -> str:
    """An accuracy drop shown as the change it is, in points, with its interval: "-0.83 [-2.10, +0.44]"."""
    change, low, high = (0.0 - value for value in (decision.estimate, decision.high, decision.low))  # never -0.00
    return f"{change:+.2f} [{low:+.2f}, {high:+.2f}]"


def _verdict(low: float, high: float, limit: float) -> str:
    if low > limit:
        return REFUSED
    return ACCEPTED if high <= limit else UNDECIDED


def accuracy_drop(reference: np.ndarray, variant: np.ndarray, max_drop_points: float) -> Decision:
    """The drop in one-shot accuracy, in points, from paired per-episode accuracies (fractions).

    Where every episode changed alike (most often: not at all), the sample shows no spread, and the
    normal interval would be a point; then the rule of three bounds it instead: an episode that
    changes differently has a chance below 3/n, and can move the mean by at most 100/n points.
    """
    if reference.shape != variant.shape or len(reference) < 2:
        raise ValueError("the accuracy gate needs the same episodes, two at least, for both models")
    differences = 100.0 * (reference - variant)
    mean, half = mean_and_interval(differences)
    unseen = np.all(differences == differences[0])
    if unseen:
        half = RULE_OF_THREE * 100.0 / len(differences)
    verdict = _verdict(mean - half, mean + half, max_drop_points)
    needed = None
    if verdict == UNDECIDED and mean != max_drop_points:
        margin = abs(mean - max_drop_points)
        width = RULE_OF_THREE * 100.0 / margin if unseen else (Z_95 * differences.std(ddof=1) / margin) ** 2
        needed = min(LARGEST_SAMPLE, math.ceil(width) + 1)
    return Decision(mean, mean - half, mean + half, max_drop_points, len(differences), verdict, needed)


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a rate: sound at rates near 0, where false accepts live."""
    if trials == 0:
        return 0.0, 1.0
    rate, z2 = successes / trials, Z_95**2
    centre = (rate + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z_95 * math.sqrt(rate * (1 - rate) / trials + z2 / (4 * trials**2)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def _decides(rate: float, trials: int, limit: float) -> bool:
    low, high = wilson_interval(round(rate * trials), trials)
    return low > limit or high <= limit


def _trials_to_decide(rate: float, trials: int, limit: float) -> int | None:
    """The fewest trials whose interval, at the same rate, no longer straddles `limit`."""
    upper = max(trials, 1)
    while not _decides(rate, upper, limit):
        if upper >= LARGEST_SAMPLE:
            return None
        upper *= 2
    lower = upper // 2
    while upper - lower > max(1, upper // 1000):  # a tenth of a percent is exact enough to advise
        middle = (lower + upper) // 2
        lower, upper = (lower, middle) if _decides(rate, middle, limit) else (middle, upper)
    return upper


def false_accept_rate(false_accepts: int, impostor_pairs: int, max_far: float) -> Decision:
    """The false accept rate at the threshold, against `max_far`."""
    low, high = wilson_interval(false_accepts, impostor_pairs)
    verdict = _verdict(low, high, max_far)
    rate = false_accepts / max(1, impostor_pairs)
    needed = _trials_to_decide(rate, impostor_pairs, max_far) if verdict == UNDECIDED else None
    return Decision(rate, low, high, max_far, impostor_pairs, verdict, needed)
