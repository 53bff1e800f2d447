"""Open-set evaluation of L2-normalised embeddings: few-shot episodes, verification ROC, rejection.

Scores are cosine similarities (bigger means more alike); a pair is accepted as "same" when its
score is at least the threshold. Everything here is numpy, so training, export and the benchmark
measure accuracy with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z_95 = 1.959964


@dataclass(frozen=True)
class Roc:
    """A ROC curve: false accept and true accept rates at decreasing thresholds."""

    far: np.ndarray
    tar: np.ndarray
    thresholds: np.ndarray


def class_pools(
    labels: np.ndarray, groups: np.ndarray | None, minimum_images: int, same_group: bool
) -> tuple[dict[int, np.ndarray], list[np.ndarray]]:
    """The image indices of each class with `minimum_images` or more, and the pools episodes draw
    their classes from: all of those classes, or (with `same_group`) one pool per group."""
    members = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
    members = {c: idx for c, idx in members.items() if len(idx) >= minimum_images}
    classes = np.array(sorted(members), dtype=np.int64)
    if not same_group or groups is None:
        return members, [classes]
    by_group: dict = {}
    for c in classes:
        by_group.setdefault(groups[members[c][0]], []).append(c)
    return members, [np.array(cs) for cs in by_group.values()]


def largest_way(labels: np.ndarray, groups: np.ndarray | None, shot: int, same_group: bool, queries: int = 1) -> int:
    """The largest N for which N-way `shot`-shot episodes can be drawn from these images."""
    _, pools = class_pools(labels, groups, shot + queries, same_group)
    return max((len(pool) for pool in pools), default=0)


class EpisodeSampler:
    """N-way K-shot episodes: `way` classes, `shot` support and `queries` query images per class.

    With `same_group`, all the classes of an episode come from one group (one alphabet): the
    harder, within-alphabet Omniglot protocol of Lake et al. and Koch et al.
    """

    def __init__(
        self,
        labels: np.ndarray,
        groups: np.ndarray | None = None,
        *,
        way: int = 20,
        shot: int = 1,
        queries: int = 1,
        same_group: bool = False,
    ) -> None:
        self.way, self.shot, self.queries, self.labels = way, shot, queries, np.asarray(labels)
        self.members, pools = class_pools(labels, groups, shot + queries, same_group)
        self.pools = [pool for pool in pools if len(pool) >= way]
        if not self.pools:
            scope = "any one group" if same_group else "the set"
            raise ValueError(f"no {way}-way episodes possible: {scope} has fewer than {way} usable classes")

    def episode(self, rng: np.random.Generator) -> np.ndarray:
        """One episode as a way×(shot+queries) index array: support columns first, then queries."""
        pool = self.pools[rng.integers(len(self.pools))]
        classes = rng.choice(pool, size=self.way, replace=False)
        size = self.shot + self.queries
        return np.stack([rng.choice(self.members[c], size=size, replace=False) for c in classes])


@dataclass(frozen=True)
class Answers:
    """Every query of a run of episodes (episodes × queries): answered right or not, its image, its class."""

    correct: np.ndarray
    images: np.ndarray
    classes: np.ndarray

    def per_episode(self) -> np.ndarray:
        """The accuracy of each episode."""
        return self.correct.mean(axis=1)


def episode_answers(embeddings: np.ndarray, sampler: EpisodeSampler, *, episodes: int = 1000, seed: int = 0) -> Answers:
    """The answer to every query of N-way K-shot episodes (the same episodes for the same seed and sampler).

    A query is right when the nearest class prototype (its mean support embedding, by cosine
    similarity) is its own class.
    """
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(sampler.way), sampler.queries)
    correct = np.empty((episodes, len(truth)), bool)
    images = np.empty((episodes, len(truth)), np.int64)
    for episode in range(episodes):
        picks = sampler.episode(rng)
        prototypes = embeddings[picks[:, : sampler.shot]].mean(axis=1)
        prototypes /= np.linalg.norm(prototypes, axis=1, keepdims=True) + 1e-12
        images[episode] = picks[:, sampler.shot :].reshape(-1)
        predicted = np.argmax(embeddings[images[episode]] @ prototypes.T, axis=1)
        correct[episode] = predicted == truth
    return Answers(correct, images, sampler.labels[images])


def mean_and_interval(values: np.ndarray) -> tuple[float, float]:
    """The mean of `values` and the half-width of its normal 95% interval (0 for one value)."""
    half_width = Z_95 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return float(values.mean()), float(half_width)


def few_shot_accuracy(
    embeddings: np.ndarray, sampler: EpisodeSampler, *, episodes: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Mean N-way K-shot accuracy over episodes and its 95% interval half-width."""
    return mean_and_interval(episode_answers(embeddings, sampler, episodes=episodes, seed=seed).per_episode())


def verification_pairs(
    labels: np.ndarray, *, max_impostors: int = 200_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every genuine pair and up to `max_impostors` random impostor pairs: (first, second, same)."""
    rng = np.random.default_rng(seed)
    first, second = np.triu_indices(len(labels), k=1)
    same = labels[first] == labels[second]
    genuine = np.flatnonzero(same)
    impostor = np.flatnonzero(~same)
    if len(impostor) > max_impostors:
        impostor = rng.choice(impostor, size=max_impostors, replace=False)
    keep = np.concatenate([genuine, np.sort(impostor)])
    return first[keep], second[keep], same[keep]


def pair_scores(embeddings: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair of (L2-normalised) embeddings."""
    return np.einsum("ij,ij->i", embeddings[first], embeddings[second])


def roc_curve(scores: np.ndarray, same: np.ndarray) -> Roc:
    """The ROC curve of verification scores, one point per distinct threshold."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_same = same[order]
    true_accepts = np.cumsum(sorted_same)
    false_accepts = np.cumsum(~sorted_same)
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]
    far = np.r_[0.0, false_accepts[last_of_tie] / max(1, (~same).sum())]
    tar = np.r_[0.0, true_accepts[last_of_tie] / max(1, same.sum())]
    thresholds = np.r_[np.inf, sorted_scores[last_of_tie]]
    return Roc(far=far, tar=tar, thresholds=thresholds)


def roc_auc(roc: Roc) -> float:
    """Area under the ROC curve (the trapezoid rule, written out: numpy 1.26 has no `np.trapezoid`)."""
    return float(np.sum(np.diff(roc.far) * (roc.tar[1:] + roc.tar[:-1]) / 2.0))


def equal_error_rate(roc: Roc) -> float:
    """The rate at which false accepts equal false rejects (interpolated between ROC points)."""
    frr = 1.0 - roc.tar
    crossing = int(np.argmax(roc.far >= frr))
    if crossing == 0:
        return float(roc.far[0])
    far0, far1 = roc.far[crossing - 1], roc.far[crossing]
    frr0, frr1 = frr[crossing - 1], frr[crossing]
    denominator = (far1 - far0) - (frr1 - frr0)
    weight = 0.0 if denominator == 0 else (frr0 - far0) / denominator
    return float(far0 + weight * (far1 - far0))


def tar_at_far(roc: Roc, target_far: float) -> float:
    """The best true accept rate whose false accept rate does not exceed `target_far`."""
    allowed = roc.far <= target_far
    return float(roc.tar[allowed].max())


def threshold_at_far(scores: np.ndarray, same: np.ndarray, target_far: float) -> float:
    """The lowest threshold that accepts at most `target_far` of the impostor pairs."""
    impostors = np.sort(scores[~same])[::-1]
    if len(impostors) == 0:
        raise ValueError("threshold calibration needs impostor pairs (two classes at least)")
    allowed = int(np.floor(target_far * len(impostors)))
    if allowed >= len(impostors):
        return float(impostors[-1])
    return float(np.nextafter(impostors[allowed], np.inf))


@dataclass(frozen=True)
class OperatingPoint:
    """What a threshold does to the verification pairs of a set: false and true accepts."""

    threshold: float
    false_accepts: int
    impostor_pairs: int
    true_accepts: int
    genuine_pairs: int

    @property
    def far(self) -> float:
        """False accept rate: impostor pairs scored at or above the threshold."""
        return self.false_accepts / max(1, self.impostor_pairs)

    @property
    def tar(self) -> float:
        """True accept rate: genuine pairs scored at or above the threshold."""
        return self.true_accepts / max(1, self.genuine_pairs)


def operating_point(embeddings: np.ndarray, labels: np.ndarray, threshold: float, seed: int = 0) -> OperatingPoint:
    """False and true accepts at `threshold` over the verification pairs of these images."""
    first, second, same = verification_pairs(labels, seed=seed)
    accepted = pair_scores(embeddings, first, second) >= threshold
    return OperatingPoint(float(threshold), int((accepted & ~same).sum()), int((~same).sum()),
                          int((accepted & same).sum()), int(same.sum()))  # fmt: skip


def verification_metrics(scores: np.ndarray, same: np.ndarray, fars=(1e-2, 1e-3)) -> dict[str, float]:
    """ROC AUC, equal error rate and TAR at each FAR of `fars`, as a flat dictionary."""
    roc = roc_curve(scores, same)
    metrics = {"roc_auc": roc_auc(roc), "eer": equal_error_rate(roc)}
    for far in fars:
        metrics[f"tar_at_far_{far:g}"] = tar_at_far(roc, far)
    return metrics


def open_set_identification(
    embeddings: np.ndarray, labels: np.ndarray, threshold: float, *, seed: int = 0, enrolled: int | None = None
) -> dict[str, float]:
    """One-shot identification with an "unknown" answer, the way the runtime uses a gallery.

    `enrolled` classes (default: half) are enrolled with ONE image each; every other image is a
    probe. Known probes must get their own name with a score at or above the threshold,
    never-enrolled ones must be rejected as unknown.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError("open-set identification needs two classes at least")
    count = len(classes) // 2 if enrolled is None else min(enrolled, len(classes) - 1)
    enrolled = rng.choice(classes, size=count, replace=False)
    gallery_index = np.array([rng.choice(np.flatnonzero(labels == c)) for c in enrolled])
    probes = np.setdiff1d(np.arange(len(labels)), gallery_index)
    scores = embeddings[probes] @ embeddings[gallery_index].T
    best = np.argmax(scores, axis=1)
    best_score = scores[np.arange(len(probes)), best]
    accepted = best_score >= threshold
    known = np.isin(labels[probes], enrolled)
    correct = enrolled[best] == labels[probes]
    return {
        "enrolled_identities": int(len(enrolled)),
        "known_probes": int(known.sum()),
        "unknown_probes": int((~known).sum()),
        "known_identification_rate": float(np.mean(correct[known] & accepted[known])) if known.any() else 0.0,
        "unknown_rejection_rate": float(np.mean(~accepted[~known])) if (~known).any() else 0.0,
    }
