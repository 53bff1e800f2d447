"""A training batch's CPU work: from the sampled indices to the student's inputs and targets and the teacher's view."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import torch

from edge_runtime.imaging.preprocessing import to_input_tensor
from train.augment import turn_batch
from train.config import TrainConfig
from train.run_data import Augment, RunData
from train.samplers import PairBatch


@dataclass(frozen=True)
class PreparedBatch:
    """A training batch as `prepare_batch` leaves it: the student's input tensor, its targets, the
    images' indices, and the teacher's augmented view of them (None: no teacher, or un-augmented)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    index: np.ndarray
    teacher_view: torch.Tensor | None = None

    def pin_memory(self) -> PreparedBatch:
        """The batch in page-locked memory (DataLoader's pin_memory calls this), for asynchronous copies to a GPU."""
        view = None if self.teacher_view is None else self.teacher_view.pin_memory()
        return replace(self, inputs=self.inputs.pin_memory(), targets=self.targets.pin_memory(), teacher_view=view)


def prepare_batch(
    batch: PairBatch | np.ndarray,
    rng: np.random.Generator,
    data: RunData,
    config: TrainConfig,
    pairs: bool,
    augment: Augment | None,
) -> PreparedBatch:
    """The student's inputs and targets (1 = same for pairs, else class labels), and with a teacher its
    view of the same images, distorted by the same draws as the student's."""
    if pairs:
        index = np.concatenate([batch.first, batch.second])
        targets = torch.from_numpy(batch.same)
    else:
        index = batch
        targets = torch.from_numpy(data.train_set.labels[index])
    images = data.train_set.images[index]
    teacher_rng = copy.deepcopy(rng) if augment and data.teaching is not None else None
    if augment:
        images = augment(images, rng)
    if config.student_turn and teacher_rng is not None:  # the student's view alone
        images = turn_batch(images, rng, config.student_turn)
    inputs = torch.from_numpy(to_input_tensor(images, data.spec))
    if data.teaching is None:
        return PreparedBatch(inputs, targets, index)
    view = data.teaching.view(index, teacher_rng)
    return PreparedBatch(inputs, targets, index, None if view is None else torch.from_numpy(view))
