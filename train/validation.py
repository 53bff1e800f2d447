"""Scoring the model on the validation classes: after each epoch, and calibrating its threshold at the end."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edge_runtime.identity.openset import Roc
from train.config import TrainConfig
from train.datasets import ImageSet
from train.evaluation import calibrate_threshold, embed_images, evaluate_embeddings
from train.run_data import RunData


def evaluate_set(
    embeddings: np.ndarray, image_set: ImageSet, config: TrainConfig, *, way: int, episodes: int,
    threshold: float | None = None,
) -> tuple[dict, Roc]:  # fmt: skip
    """Metrics and ROC of one held-out set's embeddings under the run's protocol, at `threshold` when given."""
    return evaluate_embeddings(embeddings, image_set, way=way, shot=config.shot, episodes=episodes,
                               same_group=config.same_group, threshold=threshold)  # fmt: skip


def evaluate_validation(
    model: nn.Module, data: RunData, config: TrainConfig, device: torch.device, calibrate: bool = False
) -> tuple[dict, Roc]:
    """Validation metrics and ROC; with `calibrate`, at a threshold calibrated on these classes."""
    embeddings = embed_images(model, data.val_set.images, data.spec, device)
    threshold = calibrate_threshold(embeddings, data.val_set.labels, config.target_far) if calibrate else None
    return evaluate_set(embeddings, data.val_set, config, way=data.val_way, episodes=config.val_episodes,
                        threshold=threshold)  # fmt: skip
