"""The training loop: it composes a run's data, model and outputs, and trains epoch by epoch with
checkpoints and early stopping.

Randomness is a function of (seed, epoch, batch), never of what ran before, so `--resume` from an
epoch's checkpoint continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge_runtime.imaging.preprocessing import InputSpec
from train import distributed
from train.batch_workers import prepared_batches, too_many_workers
from train.batches import PreparedBatch, prepare_batch
from train.checkpoint import load_checkpoint, save_checkpoint
from train.config import TrainConfig
from train.datasets import ImageSet
from train.distillation import TeacherTargets
from train.model_setup import ModelSetup, set_up_model
from train.payload import checkpoint_payload, resumed_config, versions
from train.progress import Progress
from train.report import final_report, log_epoch, write_metrics_log
from train.run_data import Augment, RunData, augmentation, prepare_data
from train.samplers import PairBatch, PairSampler, PKSampler
from train.teacher import Teacher, load_teacher
from train.validation import evaluate_validation

__all__ = ["PreparedBatch", "TrainResult", "Trainer", "versions"]

log = logging.getLogger(__name__)

BEST, LAST = "best.pt", "last.pt"


@dataclass(frozen=True)
class TrainResult:
    """Where the outputs are and the test report."""

    best_checkpoint: Path
    report: dict


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
            config = resumed_config(self.resumed["config"], config)
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
        self.data: RunData = prepare_data(
            config, resumed=self.resumed, teacher=self.teacher, out_dir=self.out_dir, is_main=self.cluster.is_main,
            show_progress=show_progress,
        )  # fmt: skip
        self.setup: ModelSetup = set_up_model(
            config, self.data, self.cluster, teacher=self.teacher, resumed=self.resumed, init_weights=init_weights,
            amp=self.amp,
        )  # fmt: skip
        self.history: list[dict] = []
        self.start_epoch = 0
        self.best_score = -1.0
        self.best_epoch = -1
        self.stale_epochs = 0
        if self.resumed is not None:
            self._restore(self.resumed)

    # --- what the loop reads from the run's data and model ---------------------------------

    @property
    def spec(self) -> InputSpec:
        """The model's input (size, channels, normalisation)."""
        return self.data.spec

    @property
    def train_set(self) -> ImageSet:
        """The training images."""
        return self.data.train_set

    @property
    def teaching(self) -> TeacherTargets | None:
        """The teacher's targets of the training images, or None (no --teacher)."""
        return self.data.teaching

    @property
    def model(self) -> nn.Module:
        """The network being trained."""
        return self.setup.model

    @property
    def sampler(self) -> PairSampler | PKSampler:
        """What draws the training batches."""
        return self.setup.sampler

    def _augment(self) -> Augment | None:
        """The training distortion, or None (--no-augment)."""
        return augmentation(self.config)

    def _restore(self, payload: dict) -> None:
        """Continue from a `last.pt`: its weights, optimizer state and standing (epochs done, best score)."""
        training = self.setup.restore(payload)
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
        """Train one epoch on this process's share of its batches; returns the loss averaged over all processes."""
        config, cluster = self.config, self.cluster
        rng = np.random.default_rng([config.seed, epoch])
        # Every process takes the same number of steps (DDP's gradient exchange waits for all of
        # them): the epoch's batches are rounded up to a multiple of the processes and dealt out.
        steps_each = -(-self.setup.steps_per_epoch // cluster.world_size)
        batches = [self.sampler.batch(rng) for _ in range(steps_each * cluster.world_size)]
        mine = batches[cluster.rank :: cluster.world_size]
        seeds = [[config.seed, epoch, cluster.rank + step * cluster.world_size] for step in range(len(mine))]
        progress = Progress(
            f"epoch {epoch + 1}/{config.epochs}", len(mine), enabled=self.show_progress and cluster.is_main
        )
        setup = self.setup
        setup.step_module.train()
        total = 0.0
        pin = self.device.type == "cuda"
        prepared = prepared_batches(self._prepare_batch, mine, seeds, config.workers, pin_memory=pin)
        for step, batch in enumerate(prepared):
            tensors = self._batch_tensors(batch)
            autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
            with autocast:
                loss = setup.step_module(*tensors)
            setup.optimizer.zero_grad(set_to_none=True)
            setup.scaler.scale(loss).backward()
            setup.scaler.step(setup.optimizer)
            setup.scaler.update()
            total += float(loss.detach())
            progress.update(step + 1, f"loss {total / (step + 1):.4f}")
        setup.scheduler.step()
        return distributed.mean_over_processes(total / max(1, len(mine)), cluster)

    def _prepare_batch(self, batch: PairBatch | np.ndarray, rng: np.random.Generator) -> PreparedBatch:
        """The CPU work of a batch (`--workers` processes do it): see `prepare_batch`."""
        return prepare_batch(batch, rng, self.data, self.config, self.setup.pairs, self._augment())

    def _batch_tensors(self, batch: PreparedBatch) -> tuple[torch.Tensor, ...]:
        """The prepared batch on the training device, with the teacher's embeddings of its view."""
        tensors = (batch.inputs.to(self.device, non_blocking=True), batch.targets.to(self.device))
        if self.teaching is None:
            return tensors
        view = None if batch.teacher_view is None else batch.teacher_view.numpy()
        return (*tensors, torch.from_numpy(self.teaching.embeddings(batch.index, view)).to(self.device))

    def _end_epoch(self, epoch: int, loss: float, seconds: float) -> bool:
        """Validate, log and checkpoint the epoch (rank 0); returns whether to stop early, on every process."""
        stop = False
        if self.cluster.is_main:
            metrics, _ = evaluate_validation(self.model, self.data, self.config, self.device)
            score = metrics["few_shot_accuracy"]
            improved = score > self.best_score
            if improved:
                self.best_score, self.best_epoch, self.stale_epochs = score, epoch + 1, 0
            else:
                self.stale_epochs += 1
            entry = {
                "epoch": epoch + 1,
                "train_loss": loss,
                "lr": self.setup.scheduler.get_last_lr()[0],
                "seconds": seconds,
                "world_size": self.cluster.world_size,
                "val_way": self.data.val_way,
                "val_few_shot_accuracy": score,
                "val_eer": metrics["eer"],
                "val_roc_auc": metrics["roc_auc"],
            }
            self.history.append(entry)
            log_epoch(entry, self.config.epochs, self.config.shot, improved)
            write_metrics_log(self.history, self.out_dir)
            if improved:
                save_checkpoint(self._payload(epoch + 1, with_optimizer=False), self.out_dir / BEST)
            save_checkpoint(self._payload(epoch + 1, with_optimizer=True), self.out_dir / LAST)
            stop = self.config.patience > 0 and self.stale_epochs >= self.config.patience
            if stop:
                log.info("early stop: no better validation accuracy for %d epochs", self.config.patience)
        return distributed.broadcast_flag(stop, self.cluster)

    def _payload(
        self, epoch: int, with_optimizer: bool, threshold: float | None = None, evaluation: dict | None = None
    ) -> dict:
        """The checkpoint after `epoch`: the run's standing, and with `with_optimizer` what --resume needs."""
        training = {
            "epoch": epoch,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "stale_epochs": self.stale_epochs,
            "history": self.history,
        }
        if with_optimizer:
            training.update(self.setup.optimizer_states())
        return checkpoint_payload(self.config, self.data, self.setup, self.teacher, training, threshold, evaluation)

    # --- the end -----------------------------------------------------------------------------

    def _finish(self) -> TrainResult:
        """Report on the best weights and write them, with the calibrated threshold and the report, to best.pt."""
        best_path = self.out_dir / BEST
        best = load_checkpoint(best_path)
        self.model.load_state_dict(best["model_state"])
        best_epoch = best["training"]["epoch"]
        report = final_report(self.model, self.data, self.config, self.device, self.out_dir, self.setup.arch["name"],
                              best_epoch)  # fmt: skip
        payload = self._payload(best_epoch, with_optimizer=False, threshold=report["threshold"], evaluation=report)
        save_checkpoint(payload, best_path)
        return TrainResult(best_checkpoint=best_path, report=report)
