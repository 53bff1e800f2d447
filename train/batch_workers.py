"""Training batches prepared ahead of the training step, in worker processes (`siamese-train --workers`).

A batch's augmentation (and the teacher's view of it) is CPU work in numpy and OpenCV; on a GPU
it, not the network, sets the pace. Every batch is drawn from its own generator, seeded by (seed,
epoch, batch), so the batches are the same whichever process prepares them, and in what order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np
from torch.utils.data import DataLoader, Dataset

Prepared = Any
Prepare = Callable[[Any, np.random.Generator], Prepared]


class _Steps(Dataset):
    """Step i of an epoch: `prepare(batches[i], rng seeded by seeds[i])`."""

    def __init__(self, prepare: Prepare, batches: Sequence, seeds: Sequence[Sequence[int]]) -> None:
        self.prepare, self.batches, self.seeds = prepare, batches, seeds

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, step: int) -> Prepared:
        return self.prepare(self.batches[step], np.random.default_rng(self.seeds[step]))


def _one_thread_each(_: int) -> None:
    cv2.setNumThreads(1)  # the workers are the parallelism; OpenCV's own pool would oversubscribe


def prepared_batches(
    prepare: Prepare, batches: Sequence, seeds: Sequence[Sequence[int]], workers: int, pin_memory: bool = False
) -> Iterator[Prepared]:
    """`prepare(batch, rng)` for each batch in order, with `workers` processes preparing the next
    ones meanwhile (0: each prepared here, when it is wanted). Worker processes are forked, so they
    share the loaded images without copying them; where fork is missing (Windows, macOS's default
    is spawn) only `workers=0` is offered."""
    steps = _Steps(prepare, batches, seeds)
    if workers <= 0:
        return (steps[i] for i in range(len(steps)))
    loader = DataLoader(
        steps,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4,
        pin_memory=pin_memory,
        worker_init_fn=_one_thread_each,
        multiprocessing_context=multiprocessing.get_context("fork"),
    )
    return iter(loader)


def fork_available() -> bool:
    """Whether this platform can fork worker processes (`--workers`)."""
    return "fork" in multiprocessing.get_all_start_methods()
