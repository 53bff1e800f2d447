"""What speed costs: agreement with the FP32 CPU embeddings, one-shot accuracy and FAR/TAR at the shipped
threshold on held-out classes (refused when a model was trained on them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.measure import Measurement
from edge_runtime.core.errors import ImageReadError, SiameseEdgeError
from edge_runtime.identity.openset import EpisodeSampler, few_shot_accuracy, operating_point
from edge_runtime.imaging.image_folders import scan_dataset
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference.embedder import read_model_info


@dataclass(frozen=True)
class Validation:
    """Held-out images with their class indices, groups and class names."""

    images: list[np.ndarray]
    labels: np.ndarray
    groups: np.ndarray
    class_names: list[str]


def load_validation(folder: str | Path, limit: int = 5000) -> Validation:
    """The images of a class-per-folder (or Omniglot-layout) set of held-out classes."""
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
    return Validation(images, np.asarray(labels), np.asarray(groups), list(names))


def require_unseen(validation: Validation, folder: str, models: list[str]) -> None:
    """Refuse held-out classes that a model lists among its training classes."""
    for model in models:
        refuse_seen(validation, folder, Path(model).name, read_model_info(Path(model)).training_classes, "--val")


def refuse_seen(validation: Validation, folder: str, name: str, training_classes: tuple[str, ...], option: str) -> None:
    """Refuse held-out classes that the model `name` was trained on (`option` is where to give others)."""
    seen = sorted(set(training_classes) & set(validation.class_names))
    if seen:
        examples = ", ".join(seen[:5]) + (", …" if len(seen) > 5 else "")
        raise SiameseEdgeError(
            f"{len(seen)} of the {len(validation.class_names)} classes of {folder} trained {name} "
            f"({examples}): its accuracy there says nothing about classes it never saw; give {option} held-out classes"
        )


def synthetic_images(count: int = 64, size: int = 112, seed: int = 0) -> list[np.ndarray]:
    """Smooth random images, for timing and numerical agreement when no real images are given."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        images.append(np.kron(small, np.ones((size // 8, size // 8, 1), np.uint8)))
    return images


def add_agreement(rows: list[dict], measurements: list[Measurement]) -> None:
    """Fill `min_cosine_vs_fp32_cpu` of each row: against the first FP32 CPU row of its family
    (that reference row itself gets None)."""
    references: dict[str, Measurement] = {}
    for m in measurements:
        if m.precision == "fp32" and m.ran_on == "cpu":
            references.setdefault(m.family, m)
    for row, measurement in zip(rows, measurements, strict=True):
        reference = references.get(measurement.family)
        if reference is None or reference is measurement or measurement.embeddings is None:
            row["min_cosine_vs_fp32_cpu"] = None
            continue
        row["min_cosine_vs_fp32_cpu"] = float(np.einsum("ij,ij->i", reference.embeddings, measurement.embeddings).min())


def add_accuracy(rows, measurements, labels, groups, way: int, episodes: int, same_group: bool = False) -> None:
    """Fill `one_shot_accuracy` (N-way 1-shot on the validation classes) of each row, and its false
    and true accept rates at the threshold the model ships with."""
    sampler = EpisodeSampler(labels, groups, way=way, shot=1, same_group=same_group)
    for row, measurement in zip(rows, measurements, strict=True):
        accuracy, interval = few_shot_accuracy(measurement.embeddings, sampler, episodes=episodes)
        row["one_shot_accuracy"], row["one_shot_ci95"] = accuracy, interval
        row["far_at_threshold"] = row["tar_at_threshold"] = None
        if measurement.threshold is not None:
            point = operating_point(measurement.embeddings, labels, measurement.threshold)
            row["far_at_threshold"], row["tar_at_threshold"] = point.far, point.tar
            row["impostor_pairs"] = point.impostor_pairs
