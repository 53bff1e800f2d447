"""Losses for Siamese training. Label convention, everywhere in this project: 1 = same, 0 = different.

(The seed article writes the contrastive loss with 1 = different in its formula while its code
uses the opposite; here there is only this one convention.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from train.distances import Distance
from train.miners import MINERS


class ContrastiveLoss(nn.Module):
    """Hadsell et al. (2006): same pairs are pulled together, different pairs pushed past `margin`.

    loss = same · d² + (1 − same) · max(0, margin − d)²
    """

    def __init__(self, distance: Distance, margin: float = 1.0) -> None:
        super().__init__()
        self.distance, self.margin = distance, margin

    def forward(self, first: torch.Tensor, second: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        """The mean contrastive loss of the pairs (row i of `first` with row i of `second`)."""
        d = self.distance.paired(first, second)
        same = same.to(d.dtype)
        return (same * d.pow(2) + (1.0 - same) * F.relu(self.margin - d).pow(2)).mean()


class TripletLoss(nn.Module):
    """Each anchor is to be closer to its positive than to its negative by `margin`.

    loss = max(0, d(a, p) − d(a, n) + margin), over the triplets a miner picks in a P×K batch.
    """

    def __init__(self, distance: Distance, margin: float = 0.2, mining: str = "batch-hard") -> None:
        super().__init__()
        if mining not in MINERS:
            raise ValueError(f"unknown mining {mining!r}; choose one of {', '.join(MINERS)}")
        self.distance, self.margin, self.miner = distance, margin, MINERS[mining]

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean triplet loss of the triplets mined in this batch (zero, with a gradient, if none)."""
        positive, negative = self.miner(self.distance.pairwise(embeddings, embeddings), labels)
        if positive.numel() == 0:
            return embeddings.sum() * 0.0
        return F.relu(positive - negative + self.margin).mean()


class VerificationHead(nn.Module):
    """Koch et al. (2015): a learned weighting of |e1 − e2|, whose sigmoid is P(same)."""

    def __init__(self, embedding_size: int) -> None:
        super().__init__()
        self.weights = nn.Linear(embedding_size, 1)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """The logit of "same" for each pair (apply a sigmoid for the probability)."""
        return self.weights((first - second).abs()).squeeze(1)


class VerificationLoss(nn.Module):
    """Binary cross-entropy of the verification head's prediction against `same`."""

    def __init__(self, embedding_size: int) -> None:
        super().__init__()
        self.head = VerificationHead(embedding_size)

    def forward(self, first: torch.Tensor, second: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        """The mean binary cross-entropy of the head's "same" logits for the pairs."""
        logits = self.head(first, second)
        return F.binary_cross_entropy_with_logits(logits, same.to(logits.dtype))


class CosFaceLoss(nn.Module):
    """Large-margin cosine softmax over the training classes (Wang et al., 2018, "CosFace").

    Each training class has a learned direction; the cosine to its own class is reduced by
    `margin` before a softmax at temperature 1/`scale`. The class directions are thrown away
    after training: only the embedding is exported, so unseen classes work as with the others.
    """

    def __init__(self, num_classes: int, embedding_size: int, scale: float = 30.0, margin: float = 0.2) -> None:
        super().__init__()
        self.directions = nn.Parameter(torch.randn(num_classes, embedding_size) * 0.01)
        self.scale, self.margin = scale, margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean CosFace loss of the embeddings against their class labels."""
        cosine = F.normalize(embeddings, dim=1) @ F.normalize(self.directions, dim=1).T
        logits = self.scale * (cosine - self.margin * F.one_hot(labels, cosine.shape[1]))
        return F.cross_entropy(logits, labels)


PAIR_LOSSES = ("contrastive", "verification")
LOSSES = ("triplet", "cosface", *PAIR_LOSSES)


class DistillationLoss(nn.Module):
    """The student reproduces the teacher's embedding geometry on the same images.

    With s_i and t_i the L2-normalised student and teacher embeddings of image i of a batch of N:

    loss = 1/N · Σ_i (1 − s_i·t_i)  +  λ · 1/(N(N−1)) · Σ_{i≠j} (s_i·s_j − t_i·t_j)²

    The first term aligns each embedding's direction with the teacher's, the second makes every
    cosine similarity within the batch the teacher's, so a threshold on the student's scores
    separates pairs as the same threshold on the teacher's does. λ is `relation_weight`.
    """

    def __init__(self, relation_weight: float = 1.0) -> None:
        super().__init__()
        self.relation_weight = relation_weight

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """The distillation loss of a batch: the direction term plus λ times the relation term."""
        student, teacher = F.normalize(student, dim=1), F.normalize(teacher.to(student.dtype), dim=1)
        direction = (1.0 - (student * teacher).sum(dim=1)).mean()
        count = len(student)
        if count < 2 or self.relation_weight == 0:
            return direction
        gap = student @ student.T - teacher @ teacher.T
        off_diagonal = ~torch.eye(count, dtype=torch.bool, device=student.device)
        return direction + self.relation_weight * gap[off_diagonal].pow(2).mean()
