"""Distances between embeddings. Smaller always means more alike; losses never need to know which."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class Distance:
    """A distance between embeddings, as a matrix (all pairs) or a vector (paired rows)."""

    name = "distance"

    def pairwise(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distances between every row of `a` and every row of `b`."""
        raise NotImplementedError

    def paired(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Distance between row i of `a` and row i of `b`."""
        raise NotImplementedError


class EuclideanDistance(Distance):
    """The L2 distance (with a small floor so that its gradient exists at zero)."""

    name = "euclidean"

    def pairwise(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """L2 distances between every row of `a` and every row of `b`."""
        squared = (a * a).sum(1, keepdim=True) - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
        return squared.clamp_min(1e-12).sqrt()

    def paired(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """L2 distance between row i of `a` and row i of `b`."""
        return ((a - b).pow(2).sum(1)).clamp_min(1e-12).sqrt()


class CosineDistance(Distance):
    """One minus the cosine similarity: 0 for the same direction, 2 for opposite ones."""

    name = "cosine"

    def pairwise(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Cosine distances between every row of `a` and every row of `b`."""
        return 1.0 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).T

    def paired(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Cosine distance between row i of `a` and row i of `b`."""
        return 1.0 - F.cosine_similarity(a, b, dim=1)


DISTANCES = {d.name: d for d in (EuclideanDistance, CosineDistance)}


def make_distance(name: str) -> Distance:
    """The distance called `name` (euclidean or cosine)."""
    if name not in DISTANCES:
        raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(DISTANCES)}")
    return DISTANCES[name]()
