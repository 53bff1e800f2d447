"""Open-set evaluation of a PyTorch embedding network on held-out classes."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edge_runtime.identity.openset import (
    Answers,
    EpisodeSampler,
    Roc,
    episode_answers,
    largest_way,
    mean_and_interval,
    open_set_identification,
    operating_point,
    pair_scores,
    roc_curve,
    threshold_at_far,
    verification_metrics,
    verification_pairs,
)
from edge_runtime.imaging.preprocessing import InputSpec, input_normalisation
from train.datasets import ImageSet


@torch.no_grad()
def embed_images(
    model: nn.Module, images: np.ndarray, spec: InputSpec, device: torch.device, batch_size: int = 256
) -> np.ndarray:
    """L2-normalised embeddings of fitted images (N×H×W×C uint8), in evaluation mode. The images
    travel to `device` as bytes and are normalised there, as `to_input_tensor` does."""
    was_training = model.training
    model.eval()
    mean, scale = (torch.from_numpy(v).to(device) for v in input_normalisation(spec))
    rows = []
    for start in range(0, len(images), batch_size):
        pixels = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])).to(device)
        batch = ((pixels.float() - mean) * scale).permute(0, 3, 1, 2).contiguous()
        rows.append(model(batch).float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(rows) if rows else np.empty((0, 0), np.float32)


def feasible_way(image_set: ImageSet, way: int, shot: int, same_group: bool) -> int:
    """The largest N ≤ `way` for which N-way `shot`-shot episodes can be drawn from this set."""
    return min(way, largest_way(image_set.labels, image_set.groups, shot, same_group))


def calibrate_threshold(embeddings: np.ndarray, labels: np.ndarray, target_far: float) -> float:
    """The cosine threshold that accepts `target_far` of the impostor pairs of these classes."""
    first, second, same = verification_pairs(labels)
    return threshold_at_far(pair_scores(embeddings, first, second), same, target_far)


def answers(
    embeddings: np.ndarray, image_set: ImageSet, *, way: int, shot: int = 1, episodes: int = 1000,
    same_group: bool = False, seed: int = 0,
) -> Answers:  # fmt: skip
    """Every answer of N-way K-shot episodes: the same episodes for any embeddings of this set."""
    sampler = EpisodeSampler(image_set.labels, image_set.groups, way=way, shot=shot, same_group=same_group)
    return episode_answers(embeddings, sampler, episodes=episodes, seed=seed)


def evaluate_embeddings(
    embeddings: np.ndarray,
    image_set: ImageSet,
    *,
    way: int,
    shot: int = 1,
    episodes: int = 1000,
    same_group: bool = False,
    threshold: float | None = None,
    seed: int = 0,
) -> tuple[dict, Roc]:
    """Few-shot accuracy, verification metrics and (with a threshold) open-set rates; and the ROC."""
    given = answers(embeddings, image_set, way=way, shot=shot, episodes=episodes, same_group=same_group, seed=seed)
    accuracy, interval = mean_and_interval(given.per_episode())
    first, second, same = verification_pairs(image_set.labels, seed=seed)
    scores = pair_scores(embeddings, first, second)
    metrics = {
        "way": way,
        "shot": shot,
        "same_group": same_group,
        "episodes": episodes,
        "few_shot_accuracy": accuracy,
        "few_shot_ci95": interval,
        "classes": len(image_set.class_names),
        "images": len(image_set),
        "genuine_pairs": int(same.sum()),
        "impostor_pairs": int((~same).sum()),
        **verification_metrics(scores, same),
    }
    if threshold is not None:
        metrics["threshold"] = threshold
        point = operating_point(embeddings, image_set.labels, threshold, seed=seed)
        metrics["far_at_threshold"], metrics["tar_at_threshold"] = point.far, point.tar
        metrics.update(open_set_identification(embeddings, image_set.labels, threshold, seed=seed))
    return metrics, roc_curve(scores, same)
