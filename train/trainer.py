"""The training loop: data, model, loss, epochs, checkpoints, early stopping and the final report.

Randomness is a function of (seed, epoch, batch), never of what ran before, so `--resume` from an
epoch's checkpoint continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import platform
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from edge_runtime.core.atomic import atomic_write_bytes
from edge_runtime.core.errors import CheckpointError, DatasetError, ImageReadError
from edge_runtime.core.version import package_version
from edge_runtime.faces.face_alignment import TEMPLATE_FILE, folder_template
from edge_runtime.imaging.preprocessing import InputSpec, read_image, to_input_tensor
from edge_runtime.io.charts import draw_roc
from train import distributed
from train.augment import augment_batch, turn_batch
from train.backbones import BACKBONES, build_model, embedding_size
from train.batch_workers import prepared_batches, too_many_workers
from train.checkpoint import load_checkpoint, load_weights, save_checkpoint
from train.config import TrainConfig
from train.datasets import (
    ImageSet,
    add_rotated_classes,
    channel_statistics,
    detect_layout,
    load_images,
    scan_dataset,
    split_classes,
)
from train.distances import make_distance
from train.distillation import (
    TeacherTargets,
    check_teacher,
    parallel_records,
    require_same_length,
    start_at_teacher_mean,
    teacher_targets,
)
from train.evaluation import calibrate_threshold, embed_images, evaluate_embeddings, feasible_way
from train.losses import (
    LOSSES,
    PAIR_LOSSES,
    ContrastiveLoss,
    CosFaceLoss,
    DistillationLoss,
    TripletLoss,
    VerificationLoss,
)
from train.progress import Progress
from train.samplers import PairSampler, PKSampler
from train.teacher import Teacher, load_teacher

log = logging.getLogger(__name__)

BEST, LAST, METRICS, REPORT, ROC_IMAGE = "best.pt", "last.pt", "metrics.jsonl", "report.json", "roc.png"


@dataclass(frozen=True)
class PreparedBatch:
    """A training batch as `_prepare_batch` leaves it: the student's input tensor, its targets, the
    images' indices, and the teacher's augmented view of them (None: no teacher, or un-augmented)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    index: np.ndarray
    teacher_view: torch.Tensor | None = None

    def pin_memory(self) -> PreparedBatch:
        """The batch in page-locked memory (DataLoader's pin_memory calls this), for asynchronous copies to a GPU."""
        view = None if self.teacher_view is None else self.teacher_view.pin_memory()
        return replace(self, inputs=self.inputs.pin_memory(), targets=self.targets.pin_memory(), teacher_view=view)


@dataclass(frozen=True)
class TrainResult:
    """Where the outputs are and the test report."""

    best_checkpoint: Path
    report: dict


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


def _detect_channels(records) -> int:
    image = None
    for record in records[:20]:
        try:
            image = read_image(record.path)
        except ImageReadError:
            continue
        if image.ndim == 3 and not (
            np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])
        ):
            return 3
    return 1


def _fixed_input(backbone: str) -> InputSpec | None:
    """The input a backbone was built for, when it fixes one (converted networks), else None."""
    return getattr(BACKBONES.get(backbone), "fixed_input", None)


def _resumed_config(saved: dict, given: TrainConfig) -> TrainConfig:
    """The saved settings, except where the data lies and what this machine runs on."""
    config = TrainConfig.from_dict(saved)
    config.data = given.data or config.data
    if given.teacher and not config.teacher:
        raise CheckpointError("this checkpoint was trained without a teacher; start a new run to distil")
    config.teacher = given.teacher or config.teacher  # the teacher's file may have moved; its hash must match
    config.device, config.threads, config.workers = given.device, given.threads, given.workers
    return config


def versions() -> dict[str, str]:
    """The versions of what made a checkpoint (siamese-edge, torch, numpy, Python)."""
    return {
        "siamese_edge": package_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


class Trainer:
    """One training run: `run()` trains, evaluates on the test classes and writes every output."""

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | Path,
        *,
        resume: str | Path | None = None,
        init_weights: str | Path | None = None,
        show_progress: bool = True,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.show_progress = show_progress
        self.resumed = load_checkpoint(resume) if resume else None
        if self.resumed is not None:
            config = _resumed_config(self.resumed["config"], config)
        self.config = config
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        if too_many_workers(config.workers):
            log.warning("--workers %d is more than this machine's %d cores: they will take turns", config.workers,
                        os.cpu_count())  # fmt: skip
        self.cluster = distributed.start(config.device)
        self.device = self.cluster.device
        self.amp = config.amp and self.device.type == "cuda"
        self.teacher: Teacher | None = load_teacher(config.teacher, self.device) if config.teacher else None
        self.teaching: TeacherTargets | None = None
        self._prepare_data()
        self._prepare_model(init_weights)
        self.history: list[dict] = []
        self.start_epoch = 0
        self.best_score = -1.0
        self.best_epoch = -1
        self.stale_epochs = 0
        if self.resumed is not None:
            self._restore(self.resumed)

    # --- setup -------------------------------------------------------------------------------

    def _prepare_data(self) -> None:
        config = self.config
        self.root = Path(config.data)
        self.layout = detect_layout(self.root) if config.layout == "auto" and self.root.is_dir() else config.layout
        self.records = scan_dataset(self.root, self.layout, config.group_separator)
        self.split = split_classes(self.records, config.split, config.split_seed)
        if self.resumed is not None:
            saved = self.resumed["split"]
            if list(self.split.train) != saved["train"] or list(self.split.val) != saved["val"]:
                raise CheckpointError("the dataset's classes changed since this checkpoint was written; cannot resume")
            self.spec = InputSpec.from_dict(self.resumed["input"])
        else:
            self.spec = self._initial_spec()
        if len(self.split.val) < 2:
            raise DatasetError("the validation part of the split needs two classes at least (see --split)")
        self.train_set = self._load("train", self.split.train)
        self.val_set = self._load("validation", self.split.val)
        self.test_set = self._load("test", self.split.test) if self.split.test else None
        if self.resumed is None and _fixed_input(config.backbone) is None:
            mean, std = channel_statistics(self.train_set.images)
            self.spec = replace(self.spec, mean=mean, std=std)
        if config.rotate_classes:
            self.train_set = add_rotated_classes(self.train_set)
        if self.teacher is not None:
            self._prepare_teaching()
        self.val_way = feasible_way(self.val_set, config.way, config.shot, config.same_group)
        if self.val_way < 2:
            raise DatasetError("the validation classes allow no 2-way episode; give the split more validation classes")
        if self.test_set is not None:
            test_way = feasible_way(self.test_set, config.way, config.shot, config.same_group)
            if test_way < config.way:
                scope = "within one group" if config.same_group else "in the test split"
                raise DatasetError(
                    f"{config.way}-way episodes need {config.way} classes {scope}; only {test_way} (see --way)"
                )
        log.info(
            "classes: %d train (%d images), %d validation, %d test; input %dx%dx%d",
            len(self.train_set.class_names),
            len(self.train_set),
            len(self.split.val),
            len(self.split.test),
            self.spec.height,
            self.spec.width,
            self.spec.channels,
        )

    def _initial_spec(self) -> InputSpec:
        """The input before measuring the training images: the backbone's own (dlib-resnet) or the
        configured size and channels; faces cut to a template (`face_template.json` beside the
        classes) keep that template."""
        config = self.config
        points, landmarks = folder_template(self.root) or (None, "yunet")
        fixed = _fixed_input(config.backbone)
        if fixed is not None:
            log.info("the %s backbone takes %dx%d input with its own normalisation", config.backbone,
                     fixed.height, fixed.width)  # fmt: skip
            if points is None and config.kind == "face":
                log.warning("%s has no %s: its faces may not be cut as the backbone expects", self.root, TEMPLATE_FILE)
            return replace(fixed, resize=config.resize, face_template=points, face_landmarks=landmarks)
        channels = config.channels or _detect_channels(self.records)
        neutral = (0.5,) * channels
        return InputSpec(
            config.height, config.width, channels, mean=neutral, std=neutral, resize=config.resize,
            face_template=points, face_landmarks=landmarks,
        )  # fmt: skip

    def _augment(self):
        """The training distortion, or None (--no-augment)."""
        if not self.config.augment:
            return None
        config = self.config
        return functools.partial(augment_batch, flip=config.flip, photometric=config.photometric, mixup=config.mixup)

    def _prepare_teaching(self) -> None:
        """The teacher's view of the training images (distillation, --teacher)."""
        teacher, saved = self.teacher, (self.resumed or {}).get("teacher")
        records, template = self.records, self.spec.face_template
        if self.config.teacher_data:  # the same photos, cut as the teacher wants them
            other = Path(self.config.teacher_data)
            records = parallel_records(self.records, self.root, other, self.split.train)
            template = (folder_template(other) or (None, ""))[0]
        check_teacher(teacher, saved, self.split.val + self.split.test, template)
        self.teaching = teacher_targets(
            teacher, records, self.split.train, self.train_set, rotate_classes=self.config.rotate_classes,
            augment=self._augment(), out_dir=self.out_dir, write_cache=self.cluster.is_main,
        )  # fmt: skip

    def _load(self, name: str, classes: tuple[str, ...]) -> ImageSet:
        progress = Progress(f"loading {name} images", 1, enabled=self.show_progress and self.cluster.is_main)

        def report(done: int, total: int) -> None:
            progress.total = total
            progress.update(done)

        return load_images(self.records, classes, self.spec, report)

    def _prepare_model(self, init_weights) -> None:
        config = self.config
        kwargs = {"in_channels": self.spec.channels, "height": self.spec.height, "width": self.spec.width}
        if self.resumed is not None:
            name, kwargs = self.resumed["arch"]["name"], dict(self.resumed["arch"]["kwargs"])
        else:
            name = config.backbone
            if config.embedding_size:
                kwargs["embedding_size"] = config.embedding_size
        torch.manual_seed(config.seed)
        self.arch = {"name": name, "kwargs": kwargs}
        self.model = build_model(name, **kwargs).to(self.device)
        self.embedding_size = embedding_size(self.model, self.spec.channels, self.spec.height, self.spec.width)
        if self.teacher is not None:
            require_same_length(self.teacher, self.embedding_size)
        if init_weights is not None:
            weights = load_weights(init_weights)
            if not set(weights) & set(self.model.state_dict()):
                raise CheckpointError(f"none of the weights in {init_weights} belong to the {name} backbone")
            missing, unexpected = self.model.load_state_dict(weights, strict=False)
            log.info(
                "initial weights from %s (%d missing, %d unexpected keys)", init_weights, len(missing), len(unexpected)
            )
        if self.teaching is not None and self.resumed is None and init_weights is None:
            sample = torch.from_numpy(to_input_tensor(self.train_set.images[:256], self.spec)).to(self.device)
            start_at_teacher_mean(self.model, self.teaching.mean, sample)
        self.loss = _make_loss(config, self.embedding_size, len(self.train_set.class_names)).to(self.device)
        self.pairs = config.loss in PAIR_LOSSES
        step = _LossStep(self.model, self.loss, self.pairs, config.distill_weight, config.relation_weight)
        self.step_module: nn.Module = step
        if self.cluster.world_size > 1:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.step_module = DistributedDataParallel(step, device_ids=device_ids)
        self.optimizer = torch.optim.AdamW(step.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(1, config.epochs))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        if self.pairs:
            self.sampler = PairSampler(self.train_set.labels, config.pairs_per_batch)
            batch_images = config.pairs_per_batch * 2
        else:
            self.sampler = PKSampler(self.train_set.labels, config.classes_per_batch, config.images_per_class)
            batch_images = self.sampler.classes_per_batch * config.images_per_class
        self.steps_per_epoch = config.steps_per_epoch or max(1, len(self.train_set) // batch_images)

    def _restore(self, payload: dict) -> None:
        self.model.load_state_dict(payload["model_state"])
        self.loss.load_state_dict(payload["loss_state"])
        training = payload["training"]
        if "optimizer" not in training:
            raise CheckpointError("this checkpoint holds no optimizer state; resume from last.pt, not best.pt")
        self.optimizer.load_state_dict(training["optimizer"])
        self.scheduler.load_state_dict(training["scheduler"])
        self.scaler.load_state_dict(training["scaler"])
        self.history = list(training["history"])
        self.start_epoch = training["epoch"]
        self.best_score = training["best_score"]
        self.best_epoch = training["best_epoch"]
        self.stale_epochs = training["stale_epochs"]
        log.info("resumed after epoch %d of %d", self.start_epoch, self.config.epochs)

    # --- training ----------------------------------------------------------------------------

    def run(self) -> TrainResult | None:
        """Train, evaluate and write the outputs; returns the result on rank 0, None elsewhere."""
        stopped = self.config.patience > 0 and self.stale_epochs >= self.config.patience
        for epoch in range(self.start_epoch, self.config.epochs):
            if stopped:
                break
            started = time.monotonic()
            loss = self._train_epoch(epoch)
            stopped = self._end_epoch(epoch, loss, time.monotonic() - started)
        result = self._finish() if self.cluster.is_main else None
        distributed.stop(self.cluster)
        return result

    def _train_epoch(self, epoch: int) -> float:
        config, cluster = self.config, self.cluster
        rng = np.random.default_rng([config.seed, epoch])
        # Every process takes the same number of steps (DDP's gradient exchange waits for all of
        # them): the epoch's batches are rounded up to a multiple of the processes and dealt out.
        steps_each = -(-self.steps_per_epoch // cluster.world_size)
        batches = [self.sampler.batch(rng) for _ in range(steps_each * cluster.world_size)]
        mine = batches[cluster.rank :: cluster.world_size]
        seeds = [[config.seed, epoch, cluster.rank + step * cluster.world_size] for step in range(len(mine))]
        progress = Progress(
            f"epoch {epoch + 1}/{config.epochs}", len(mine), enabled=self.show_progress and cluster.is_main
        )
        self.step_module.train()
        total = 0.0
        pin = self.device.type == "cuda"
        prepared = prepared_batches(self._prepare_batch, mine, seeds, config.workers, pin_memory=pin)
        for step, batch in enumerate(prepared):
            tensors = self._batch_tensors(batch)
            autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
            with autocast:
                loss = self.step_module(*tensors)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total += float(loss.detach())
            progress.update(step + 1, f"loss {total / (step + 1):.4f}")
        self.scheduler.step()
        return distributed.mean_over_processes(total / max(1, len(mine)), cluster)

    def _prepare_batch(self, batch, rng: np.random.Generator) -> PreparedBatch:
        """The CPU work of a batch (`--workers` processes do it): the student's inputs and targets
        (1 = same for pairs, else class labels), and with a teacher its view of the same images,
        distorted by the same draws as the student's."""
        if self.pairs:
            index = np.concatenate([batch.first, batch.second])
            targets = torch.from_numpy(batch.same)
        else:
            index = batch
            targets = torch.from_numpy(self.train_set.labels[index])
        images = self.train_set.images[index]
        augment = self._augment()
        teacher_rng = copy.deepcopy(rng) if augment and self.teaching is not None else None
        if augment:
            images = augment(images, rng)
        if self.config.student_turn and teacher_rng is not None:  # the student's view alone
            images = turn_batch(images, rng, self.config.student_turn)
        inputs = torch.from_numpy(to_input_tensor(images, self.spec))
        if self.teaching is None:
            return PreparedBatch(inputs, targets, index)
        view = self.teaching.view(index, teacher_rng)
        return PreparedBatch(inputs, targets, index, None if view is None else torch.from_numpy(view))

    def _batch_tensors(self, batch: PreparedBatch) -> tuple[torch.Tensor, ...]:
        """The prepared batch on the training device, with the teacher's embeddings of its view."""
        tensors = (batch.inputs.to(self.device, non_blocking=True), batch.targets.to(self.device))
        if self.teaching is None:
            return tensors
        view = None if batch.teacher_view is None else batch.teacher_view.numpy()
        return (*tensors, torch.from_numpy(self.teaching.embeddings(batch.index, view)).to(self.device))

    def _end_epoch(self, epoch: int, loss: float, seconds: float) -> bool:
        stop = False
        if self.cluster.is_main:
            metrics, _ = self._evaluate_validation()
            score = metrics["few_shot_accuracy"]
            improved = score > self.best_score
            if improved:
                self.best_score, self.best_epoch, self.stale_epochs = score, epoch + 1, 0
            else:
                self.stale_epochs += 1
            entry = {
                "epoch": epoch + 1,
                "train_loss": loss,
                "lr": self.scheduler.get_last_lr()[0],
                "seconds": seconds,
                "world_size": self.cluster.world_size,
                "val_way": self.val_way,
                "val_few_shot_accuracy": score,
                "val_eer": metrics["eer"],
                "val_roc_auc": metrics["roc_auc"],
            }
            self.history.append(entry)
            log.info(
                "epoch %d/%d: loss %.4f, validation %d-way %d-shot %.2f%%, EER %.2f%%%s",
                epoch + 1,
                self.config.epochs,
                loss,
                self.val_way,
                self.config.shot,
                100 * score,
                100 * metrics["eer"],
                " (best)" if improved else "",
            )
            self._write_metrics_log()
            if improved:
                save_checkpoint(self._payload(epoch + 1, with_optimizer=False), self.out_dir / BEST)
            save_checkpoint(self._payload(epoch + 1, with_optimizer=True), self.out_dir / LAST)
            stop = self.config.patience > 0 and self.stale_epochs >= self.config.patience
            if stop:
                log.info("early stop: no better validation accuracy for %d epochs", self.config.patience)
        return distributed.broadcast_flag(stop, self.cluster)

    def _evaluate_validation(self, calibrate: bool = False):
        """Validation metrics and ROC; with `calibrate`, at a threshold calibrated on these classes."""
        embeddings = embed_images(self.model, self.val_set.images, self.spec, self.device)
        threshold = None
        if calibrate:
            threshold = calibrate_threshold(embeddings, self.val_set.labels, self.config.target_far)
        return evaluate_embeddings(
            embeddings,
            self.val_set,
            way=self.val_way,
            shot=self.config.shot,
            episodes=self.config.val_episodes,
            same_group=self.config.same_group,
            threshold=threshold,
        )

    def _write_metrics_log(self) -> None:
        lines = "".join(json.dumps(entry) + "\n" for entry in self.history)
        atomic_write_bytes(self.out_dir / METRICS, lines.encode())

    def _payload(self, epoch: int, with_optimizer: bool, threshold=None, evaluation=None) -> dict:
        training = {
            "epoch": epoch,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "stale_epochs": self.stale_epochs,
            "history": self.history,
        }
        if with_optimizer:
            training.update(
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                scaler=self.scaler.state_dict(),
            )
        return {
            "arch": self.arch,
            "model_state": self.model.state_dict(),
            "loss_state": self.loss.state_dict(),
            "input": self.spec.to_dict(),
            "embedding_size": self.embedding_size,
            "metric": "cosine",
            "threshold": threshold,
            "target_far": self.config.target_far,
            "split": self.split.to_dict(),
            "dataset": {
                "name": self.root.name,
                "root": str(self.root.resolve()),
                "layout": self.layout,
                "num_classes": len(self.split.train) + len(self.split.val) + len(self.split.test),
                "num_train_classes": len(self.split.train),
            },
            "config": self.config.to_dict(),
            "teacher": self.teacher.describe() if self.teacher is not None else None,
            "versions": versions(),
            "training": training,
            "evaluation": evaluation,
        }

    # --- the end -----------------------------------------------------------------------------

    def _finish(self) -> TrainResult:
        best_path = self.out_dir / BEST
        best = load_checkpoint(best_path)
        self.model.load_state_dict(best["model_state"])
        val_metrics, val_roc = self._evaluate_validation(calibrate=True)
        threshold = val_metrics["threshold"]
        curves = {f"validation ({len(self.val_set.class_names)} classes)": (val_roc.far, val_roc.tar)}
        report = {
            "best_epoch": best["training"]["epoch"],
            "threshold": threshold,
            "target_far": self.config.target_far,
            "validation": val_metrics,
            "test": None,
        }
        if self.test_set is not None:
            test_embeddings = embed_images(self.model, self.test_set.images, self.spec, self.device)
            test_metrics, test_roc = evaluate_embeddings(
                test_embeddings,
                self.test_set,
                way=self.config.way,
                shot=self.config.shot,
                episodes=self.config.episodes,
                same_group=self.config.same_group,
                threshold=threshold,
            )
            report["test"] = test_metrics
            curves[f"test ({len(self.test_set.class_names)} unseen classes)"] = (test_roc.far, test_roc.tar)
        draw_roc(curves, self.out_dir / ROC_IMAGE, title=f"ROC of {self.arch['name']} on {self.root.name}")
        atomic_write_bytes(self.out_dir / REPORT, (json.dumps(report, indent=2) + "\n").encode())
        payload = self._payload(best["training"]["epoch"], with_optimizer=False, threshold=threshold, evaluation=report)
        save_checkpoint(payload, best_path)
        return TrainResult(best_checkpoint=best_path, report=report)
