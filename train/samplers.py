"""Which images go together in a batch: balanced pairs, P×K batches, and N-way K-shot episodes.

Samplers return index arrays into an `ImageSet`; they draw from a numpy Generator they are given,
so an epoch's batches are a pure function of its seed (resume is exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _members_by_class(labels: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(labels == c) for c in np.unique(labels)]


@dataclass(frozen=True)
class PairBatch:
    """Two index arrays of equal length and `same` (1 = same class, 0 = different)."""

    first: np.ndarray
    second: np.ndarray
    same: np.ndarray


class PairSampler:
    """Batches of pairs, half from the same class and half from two different classes."""

    def __init__(self, labels: np.ndarray, pairs_per_batch: int) -> None:
        if pairs_per_batch < 2 or pairs_per_batch % 2:
            raise ValueError("pairs_per_batch must be an even number, 2 at least")
        self.members = [m for m in _members_by_class(labels) if len(m) >= 2]
        self.all_members = _members_by_class(labels)
        if not self.members or len(self.all_members) < 2:
            raise ValueError("pairs need two classes and a class with two images")
        self.pairs_per_batch = pairs_per_batch

    def batch(self, rng: np.random.Generator) -> PairBatch:
        """Draw one balanced batch of pairs."""
        half = self.pairs_per_batch // 2
        same_first, same_second = [], []
        for c in rng.integers(len(self.members), size=half):
            a, b = rng.choice(self.members[c], size=2, replace=False)
            same_first.append(a)
            same_second.append(b)
        diff_first, diff_second = [], []
        for _ in range(half):
            c1, c2 = rng.choice(len(self.all_members), size=2, replace=False)
            diff_first.append(rng.choice(self.all_members[c1]))
            diff_second.append(rng.choice(self.all_members[c2]))
        same = np.r_[np.ones(half, np.int64), np.zeros(half, np.int64)]
        return PairBatch(
            first=np.asarray(same_first + diff_first),
            second=np.asarray(same_second + diff_second),
            same=same,
        )


class PKSampler:
    """Batches of P classes with K images each, for online triplet mining."""

    def __init__(self, labels: np.ndarray, classes_per_batch: int, images_per_class: int) -> None:
        self.members = _members_by_class(labels)
        if len(self.members) < 2:
            raise ValueError("P×K batches need two classes at least")
        self.classes_per_batch = min(classes_per_batch, len(self.members))
        self.images_per_class = images_per_class

    def batch(self, rng: np.random.Generator) -> np.ndarray:
        """Draw one P×K batch of indices (a class with fewer than K images repeats some)."""
        chosen = rng.choice(len(self.members), size=self.classes_per_batch, replace=False)
        picks = [
            rng.choice(
                self.members[c], size=self.images_per_class, replace=len(self.members[c]) < self.images_per_class
            )
            for c in chosen
        ]
        return np.concatenate(picks)
