"""Online triplet mining inside a P×K batch: which positive and negative each anchor is paired with.

A miner takes the batch's distance matrix and labels and returns, per triplet, the anchor-positive
and anchor-negative distances that the triplet loss compares.
"""

from __future__ import annotations

import torch


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def batch_hard(distances: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per anchor: its farthest positive and its nearest negative (Hermans et al., 2017)."""
    positive, negative = _masks(labels)
    valid = positive.any(1) & negative.any(1)
    hardest_positive = distances.masked_fill(~positive, float("-inf")).amax(1)
    hardest_negative = distances.masked_fill(~negative, float("inf")).amin(1)
    return hardest_positive[valid], hardest_negative[valid]


def semi_hard(distances: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per anchor-positive pair: the nearest negative farther than the positive (Schroff et al., 2015).

    When no negative is farther than the positive, the farthest negative is used instead, as in
    FaceNet's reference implementation.
    """
    positive, negative = _masks(labels)
    anchor, other = positive.nonzero(as_tuple=True)
    positive_distance = distances[anchor, other]
    negative_distances = distances[anchor]
    negative_rows = negative[anchor]
    farther = negative_rows & (negative_distances > positive_distance[:, None])
    nearest_farther = negative_distances.masked_fill(~farther, float("inf")).amin(1)
    farthest = negative_distances.masked_fill(~negative_rows, float("-inf")).amax(1)
    chosen = torch.where(farther.any(1), nearest_farther, farthest)
    valid = negative_rows.any(1)
    return positive_distance[valid], chosen[valid]


MINERS = {"batch-hard": batch_hard, "semi-hard": semi_hard}
