"""Training batches prepared ahead of the training step, in worker processes (`siamese-train --workers`).

A batch's augmentation (and the teacher's view of it) is CPU work in numpy and OpenCV; on a GPU
it, not the network, sets the pace. Every batch is drawn from its own generator, seeded by (seed,
epoch, batch), so the batches are the same whichever process prepares them, and in what order.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np
from torch.utils.data import DataLoader, Dataset

from edge_runtime.core.errors import SiameseEdgeError, error_line

Prepared = Any
Prepare = Callable[[Any, np.random.Generator], Prepared]


class BatchWorkerError(SiameseEdgeError):
    """A batch worker process failed or died."""


class _Steps(Dataset):
    """Step i of an epoch: `prepare(batches[i], rng seeded by seeds[i])`."""

    def __init__(self, prepare: Prepare, batches: Sequence, seeds: Sequence[Sequence[int]]) -> None:
        self.prepare, self.batches, self.seeds = prepare, batches, seeds

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, step: int) -> Prepared:
        return self.prepare(self.batches[step], np.random.default_rng(self.seeds[step]))


def fork_available() -> bool:
    """Whether worker processes can be forked here (`--workers`): on Linux. macOS offers fork, but
    its system libraries are not safe to use in a forked child."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def prepared_batches(
    prepare: Prepare, batches: Sequence, seeds: Sequence[Sequence[int]], workers: int, pin_memory: bool = False
) -> Iterator[Prepared]:
    """`prepare(batch, rng)` for each batch in order, with `workers` processes preparing the next
    ones meanwhile (0: each prepared here, when it is wanted). The workers are forked for each call
    (an epoch), so they share the loaded images without copying them and see the epoch's state."""
    steps = _Steps(prepare, batches, seeds)
    if workers <= 0:
        yield from (steps[i] for i in range(len(steps)))
        return
    if not fork_available():
        raise BatchWorkerError("--workers needs worker processes started by fork (Linux); give --workers 0")
    # OpenCV's thread pool does not survive a fork: a child that inherits a running pool hangs in its
    # first call to it (setNumThreads included). The pool is stopped while the workers are forked,
    # so they run OpenCV on one thread each (they are the parallelism), and started again after.
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with warnings.catch_warnings():  # DataLoader's multi-line advice on more workers than cores
            warnings.filterwarnings("ignore", message="This DataLoader will create")
            loader = DataLoader(steps, batch_size=None, num_workers=workers, prefetch_factor=4, pin_memory=pin_memory,
                                multiprocessing_context=multiprocessing.get_context("fork"))  # fmt: skip
            batches_ahead = iter(loader)  # forks the workers
    finally:
        cv2.setNumThreads(threads)
    try:
        yield from batches_ahead
    except Exception as error:  # torch's message of a failed worker holds the worker's traceback
        raise BatchWorkerError(f"a batch worker failed: {error_line(error, last=True)}") from None


def too_many_workers(workers: int) -> bool:
    """Whether `workers` exceeds this machine's cores (each worker is one busy process)."""
    return workers > (os.cpu_count() or 1)
