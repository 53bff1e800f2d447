"""Scoring the model on the validation classes: after each epoch, and calibrating its threshold at the end."""

from __future__ import annotations

import torch
from torch import nn

from edge_runtime.identity.openset import Roc
from train.config import TrainConfig
from train.evaluation import calibrate_threshold, embed_images, evaluate_embeddings
from train.run_data import RunData


def evaluate_validation(
    model: nn.Module, data: RunData, config: TrainConfig, device: torch.device, calibrate: bool = False
) -> tuple[dict, Roc]:
    """Validation metrics and ROC; with `calibrate`, at a threshold calibrated on these classes."""
    embeddings = embed_images(model, data.val_set.images, data.spec, device)
    threshold = None
    if calibrate:
        threshold = calibrate_threshold(embeddings, data.val_set.labels, config.target_far)
    return evaluate_embeddings(
        embeddings,
        data.val_set,
        way=data.val_way,
        shot=config.shot,
        episodes=config.val_episodes,
        same_group=config.same_group,
        threshold=threshold,
    )
