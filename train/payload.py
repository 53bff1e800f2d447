"""What a run's checkpoints hold (best.pt, last.pt), and the settings a run resumed from one trains with."""

from __future__ import annotations

import platform

import numpy as np
import torch

from edge_runtime.core.errors import CheckpointError
from edge_runtime.core.version import package_version
from train.config import TrainConfig
from train.model_setup import ModelSetup
from train.run_data import RunData
from train.teacher import Teacher


def versions() -> dict[str, str]:
    """The versions of what made a checkpoint (siamese-edge, torch, numpy, Python)."""
    return {
        "siamese_edge": package_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


def checkpoint_payload(
    config: TrainConfig,
    data: RunData,
    setup: ModelSetup,
    teacher: Teacher | None,
    training: dict,
    threshold: float | None = None,
    evaluation: dict | None = None,
) -> dict:
    """A checkpoint of the run: the model and how to rebuild and feed it, the data it saw, the settings,
    the `training` record and, at the end, the calibrated threshold and the final report."""
    return {
        "arch": setup.arch,
        "model_state": setup.model.state_dict(),
        "loss_state": setup.loss.state_dict(),
        "input": data.spec.to_dict(),
        "embedding_size": setup.embedding_size,
        "metric": "cosine",
        "threshold": threshold,
        "target_far": config.target_far,
        "split": data.split.to_dict(),
        "dataset": {
            "name": data.root.name,
            "root": str(data.root.resolve()),
            "layout": data.layout,
            "num_classes": len(data.split.train) + len(data.split.val) + len(data.split.test),
            "num_train_classes": len(data.split.train),
        },
        "config": config.to_dict(),
        "teacher": teacher.describe() if teacher is not None else None,
        "versions": versions(),
        "training": training,
        "evaluation": evaluation,
    }


def resumed_config(saved: dict, given: TrainConfig) -> TrainConfig:
    """The saved settings, except where the data lies and what this machine runs on."""
    config = TrainConfig.from_dict(saved)
    config.data = given.data or config.data
    if given.teacher and not config.teacher:
        raise CheckpointError("this checkpoint was trained without a teacher; start a new run to distil")
    config.teacher = given.teacher or config.teacher  # the teacher's file may have moved; its hash must match
    config.device, config.threads, config.workers = given.device, given.threads, given.workers
    return config
