"""What a run trains and how: the model, its loss, the optimizer and the batch sampler, built afresh or restored."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from edge_runtime.core.errors import CheckpointError
from edge_runtime.imaging.preprocessing import InputSpec, to_input_tensor
from train.backbones import build_model, embedding_size
from train.checkpoint import load_weights
from train.config import TrainConfig
from train.datasets import ImageSet
from train.distances import make_distance
from train.distillation import require_same_length, start_at_teacher_mean
from train.distributed import Cluster
from train.losses import (
    LOSSES,
    PAIR_LOSSES,
    ContrastiveLoss,
    CosFaceLoss,
    DistillationLoss,
    TripletLoss,
    VerificationLoss,
)
from train.run_data import RunData
from train.samplers import PairSampler, PKSampler
from train.teacher import Teacher

log = logging.getLogger(__name__)


class _LossStep(nn.Module):
    """Model and loss in one module, so that DistributedDataParallel sees every parameter.

    With a teacher's embeddings of the batch, the loss is w · distillation + (1 − w) · the identity
    loss, w being `distill_weight`.
    """

    def __init__(self, model: nn.Module, loss: nn.Module, pairs: bool, distill_weight: float = 1.0,
                 relation_weight: float = 1.0) -> None:  # fmt: skip
        super().__init__()
        self.model, self.loss, self.pairs = model, loss, pairs
        self.distill, self.distill_weight = DistillationLoss(relation_weight), distill_weight

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        embeddings = self.model(inputs)
        if self.pairs:
            half = len(embeddings) // 2
            loss = self.loss(embeddings[:half], embeddings[half:], targets)
        else:
            loss = self.loss(embeddings, targets)
        if teacher is None:
            return loss
        return self.distill_weight * self.distill(embeddings, teacher) + (1.0 - self.distill_weight) * loss


@dataclass
class ModelSetup:
    """The trainable parts of a run: the backbone (`arch` names it and its arguments), the loss, the two
    in one step module (DDP-wrapped across processes), optimizer, schedule, AMP scaler and the sampler
    of its batches."""

    arch: dict
    model: nn.Module
    embedding_size: int
    loss: nn.Module
    pairs: bool
    step_module: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    sampler: PairSampler | PKSampler
    steps_per_epoch: int

    def optimizer_states(self) -> dict:
        """The optimizer's, the schedule's and the scaler's state, as `last.pt` keeps them for --resume."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def restore(self, payload: dict) -> dict:
        """Load a checkpoint's weights and optimizer state into these parts; returns its training record."""
        self.model.load_state_dict(payload["model_state"])
        self.loss.load_state_dict(payload["loss_state"])
        training = payload["training"]
        if "optimizer" not in training:
            raise CheckpointError("this checkpoint holds no optimizer state; resume from last.pt, not best.pt")
        self.optimizer.load_state_dict(training["optimizer"])
        self.scheduler.load_state_dict(training["scheduler"])
        self.scaler.load_state_dict(training["scaler"])
        return training


def set_up_model(
    config: TrainConfig,
    data: RunData,
    cluster: Cluster,
    *,
    teacher: Teacher | None,
    resumed: dict | None,
    init_weights: str | Path | None,
    amp: bool,
) -> ModelSetup:
    """Build the model (a resumed run's architecture, else --backbone), its loss and optimizer; start
    from --init-weights or, distilling, at the teacher's mean embedding."""
    device = cluster.device
    arch, model = _build(config, data.spec, resumed, device)
    size = embedding_size(model, data.spec.channels, data.spec.height, data.spec.width)
    if teacher is not None:
        require_same_length(teacher, size)
    if init_weights is not None:
        _load_initial_weights(model, init_weights, arch["name"])
    if data.teaching is not None and resumed is None and init_weights is None:
        sample = torch.from_numpy(to_input_tensor(data.train_set.images[:256], data.spec)).to(device)
        start_at_teacher_mean(model, data.teaching.mean, sample)
    loss = _make_loss(config, size, len(data.train_set.class_names)).to(device)
    pairs = config.loss in PAIR_LOSSES
    step = _LossStep(model, loss, pairs, config.distill_weight, config.relation_weight)
    step_module: nn.Module = step
    if cluster.world_size > 1:
        device_ids = [device.index] if device.type == "cuda" else None
        step_module = DistributedDataParallel(step, device_ids=device_ids)
    optimizer = torch.optim.AdamW(step.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs))
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    sampler, steps_per_epoch = _sampler(config, data.train_set, pairs)
    return ModelSetup(arch, model, size, loss, pairs, step_module, optimizer, scheduler, scaler, sampler,
                      steps_per_epoch)  # fmt: skip


def _build(config: TrainConfig, spec: InputSpec, resumed: dict | None, device: torch.device) -> tuple[dict, nn.Module]:
    """The architecture (name and arguments) and the freshly seeded model built to it, on `device`."""
    kwargs = {"in_channels": spec.channels, "height": spec.height, "width": spec.width}
    if resumed is not None:
        name, kwargs = resumed["arch"]["name"], dict(resumed["arch"]["kwargs"])
    else:
        name = config.backbone
        if config.embedding_size:
            kwargs["embedding_size"] = config.embedding_size
    torch.manual_seed(config.seed)
    return {"name": name, "kwargs": kwargs}, build_model(name, **kwargs).to(device)


def _load_initial_weights(model: nn.Module, init_weights: str | Path, name: str) -> None:
    """Start `model` from the weights in `init_weights` that fit it (--init-weights)."""
    weights = load_weights(init_weights)
    if not set(weights) & set(model.state_dict()):
        raise CheckpointError(f"none of the weights in {init_weights} belong to the {name} backbone")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    log.info("initial weights from %s (%d missing, %d unexpected keys)", init_weights, len(missing), len(unexpected))


def _make_loss(config: TrainConfig, size: int, num_classes: int) -> nn.Module:
    if config.loss not in LOSSES:
        raise ValueError(f"unknown loss {config.loss!r}; choose one of {', '.join(LOSSES)}")
    distance = make_distance(config.metric)
    if config.loss == "triplet":
        return TripletLoss(distance, config.margin, config.mining)
    if config.loss == "cosface":
        return CosFaceLoss(num_classes, size, margin=config.margin)
    if config.loss == "contrastive":
        return ContrastiveLoss(distance, config.margin)
    return VerificationLoss(size)


def _sampler(config: TrainConfig, train_set: ImageSet, pairs: bool) -> tuple[PairSampler | PKSampler, int]:
    """The sampler of training batches (pairs, or P×K) and the steps of an epoch (--steps-per-epoch, else
    about one pass over the training images)."""
    if pairs:
        sampler = PairSampler(train_set.labels, config.pairs_per_batch)
        batch_images = config.pairs_per_batch * 2
    else:
        sampler = PKSampler(train_set.labels, config.classes_per_batch, config.images_per_class)
        batch_images = sampler.classes_per_batch * config.images_per_class
    return sampler, config.steps_per_epoch or max(1, len(train_set) // batch_images)
