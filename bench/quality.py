"""What speed costs: agreement with the FP32 CPU embeddings, and one-shot accuracy on held-out classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.measure import Measurement
from edge_runtime.errors import ImageReadError, SiameseEdgeError
from edge_runtime.openset import EpisodeSampler, few_shot_accuracy
from edge_runtime.preprocessing import read_image
from train.datasets import scan_dataset


def load_validation(folder: str | Path, limit: int = 5000) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Images, labels and groups of a class-per-folder (or Omniglot-layout) set of held-out classes."""
    records = scan_dataset(folder)[:limit]
    images, labels, groups = [], [], []
    names = {name: i for i, name in enumerate(sorted({r.label for r in records}))}
    for record in records:
        try:
            images.append(read_image(record.path))
        except ImageReadError:
            continue
        labels.append(names[record.label])
        groups.append(record.group)
    if len(names) < 2:
        raise SiameseEdgeError(f"{folder} needs two classes at least for one-shot accuracy")
    return images, np.asarray(labels), np.asarray(groups)


def synthetic_images(count: int = 64, size: int = 112, seed: int = 0) -> list[np.ndarray]:
    """Smooth random images, for timing and numerical agreement when no real images are given."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        images.append(np.kron(small, np.ones((size // 8, size // 8, 1), np.uint8)))
    return images


def add_agreement(rows: list[dict], measurements: list[Measurement]) -> None:
    """Fill `min_cosine_vs_fp32_cpu` of each row from the FP32 CPU model of the same input and size."""
    references = {m.family: m.embeddings for m in measurements if m.precision == "fp32" and m.provider == "cpu"}
    for row, measurement in zip(rows, measurements, strict=True):
        reference = references.get(measurement.family)
        if reference is None or measurement.embeddings is None:
            row["min_cosine_vs_fp32_cpu"] = None
            continue
        row["min_cosine_vs_fp32_cpu"] = float(np.einsum("ij,ij->i", reference, measurement.embeddings).min())


def add_accuracy(rows, measurements, labels, groups, way: int, episodes: int, same_group: bool = False) -> None:
    """Fill `one_shot_accuracy` (N-way 1-shot on the validation classes) of each row."""
    sampler = EpisodeSampler(labels, groups, way=way, shot=1, same_group=same_group)
    for row, measurement in zip(rows, measurements, strict=True):
        accuracy, interval = few_shot_accuracy(measurement.embeddings, sampler, episodes=episodes)
        row["one_shot_accuracy"], row["one_shot_ci95"] = accuracy, interval
