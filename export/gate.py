"""The export gate's statistics: is what a variant loses significant, clearly within bounds, or undecided?

Both losses are measured with 95% two-sided confidence intervals:

- one-shot accuracy, paired: the reference and the variant answer the same queries of the same
  episodes. The episodes are drawn again and again from one set of held-out images, so answers are
  not independent: the interval resamples held-out classes (a cluster-robust standard error over
  classes, with Student's t for their number), and it is never narrower than the rule of three over
  the distinct query images (a change no image showed could still move the mean by 100·3.69/images
  points, 3.69 = -ln 0.025);
- the false accept rate at the shipped threshold: the Wilson score interval of the variant's
  false accepts among the impostor pairs (taken as independent).

A variant is refused when the whole interval lies above its limit (the loss is significant),
accepted when the whole interval lies at or below it, and undecided otherwise: then the sample is
too small to tell, and the decision says how large a sample would tell, at the loss observed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_runtime.identity.openset import Z_95, Answers

REFUSED, ACCEPTED, UNDECIDED = "refused", "accepted", "undecided"
LARGEST_SAMPLE = 10**9  # beyond this a sample "would decide" only in theory
RULE_OF_THREE = math.log(40)  # nothing seen in n trials: its chance is below 3.69/n (two-sided 95%)
# Student's t, 97.5th percentile, for 1 to 30 degrees of freedom; beyond, its Cornish-Fisher expansion
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_975(freedom: int) -> float:
    """The 97.5th percentile of Student's t with `freedom` degrees of freedom."""
    if freedom <= len(T_975):
        return T_975[freedom - 1]
    z = Z_95
    return z + (z**3 + z) / (4 * freedom) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * freedom**2)


@dataclass(frozen=True)
class Decision:
    """A measured loss, its 95% interval, the limit it is held to and the verdict; `needed` is how many
    `unit` would decide an undecided loss (None when decided, or when none would)."""

    estimate: float
    low: float
    high: float
    limit: float
    sample: int
    verdict: str
    needed: int | None = None
    unit: str = ""


def as_change(decision: Decision) -> str:
    """An accuracy drop shown as the change it is, in points, with its interval: "-0.83 [-2.10, +0.44]"."""
    change, low, high = (0.0 - value for value in (decision.estimate, decision.high, decision.low))  # never -0.00
    return f"{change:+.2f} [{low:+.2f}, {high:+.2f}]"


def _verdict(low: float, high: float, limit: float) -> str:
    if low > limit:
        return REFUSED
    return ACCEPTED if high <= limit else UNDECIDED


def accuracy_drop(reference: Answers, variant: Answers, max_drop_points: float) -> Decision:
    """The drop in one-shot accuracy, in points, from the two models' answers to the same queries."""
    if reference.images.shape != variant.images.shape or not np.array_equal(reference.images, variant.images):
        raise ValueError("the accuracy gate needs both models' answers to the same queries")
    changes = 100.0 * (reference.correct.astype(np.float64) - variant.correct).ravel()
    _, cluster = np.unique(reference.classes.ravel(), return_inverse=True)
    classes = int(cluster.max()) + 1
    if classes < 2:
        raise ValueError("the accuracy gate needs queries of two held-out classes at least")
    mean = float(changes.mean())
    sums, counts = np.bincount(cluster, weights=changes), np.bincount(cluster)
    spread = math.sqrt(classes / (classes - 1) * float(np.sum((sums - counts * mean) ** 2))) / changes.size
    by_classes = t_975(classes - 1) * spread
    images = len(np.unique(reference.images))
    by_images = 100.0 * RULE_OF_THREE / images
    half = max(by_classes, by_images)
    low, high = max(-100.0, mean - half), min(100.0, mean + half)
    verdict = _verdict(low, high, max_drop_points)
    needed, unit = None, ""
    margin = abs(mean - max_drop_points)
    if verdict == UNDECIDED and margin > 0:
        if by_images >= by_classes:
            needed, unit = math.ceil(100.0 * RULE_OF_THREE / margin) + 1, "held-out images"
        else:
            needed = math.ceil(classes * (Z_95 * spread / margin) ** 2) + 1  # the error shrinks as 1/sqrt(classes)
            needed, unit = min(LARGEST_SAMPLE, max(needed, classes + 1)), "held-out classes"
    return Decision(mean, low, high, max_drop_points, len(reference.correct), verdict, needed, unit)


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
    return Decision(rate, low, high, max_far, impostor_pairs, verdict, needed, "impostor pairs")
