"""Datasets on disk: finding the classes, splitting them by group, loading the images into memory.

Two layouts are understood. `folders`: `root/<class>/<image>`, one class per folder, each class
its own group. `omniglot`: `root/<alphabet>/<character>/<image>`, one class per character, grouped
by alphabet. Splits are by group, so training and evaluation never share a class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge_runtime.core.errors import DatasetError, ImageReadError
from edge_runtime.imaging.image_folders import LAYOUTS, ImageRecord, detect_layout, scan_dataset  # noqa: F401 (re-exported)
from edge_runtime.imaging.preprocessing import InputSpec, fit_image, read_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassSplit:
    """Which classes train, which validate (early stopping, calibration) and which test."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        """Plain lists for the checkpoint."""
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}


@dataclass
class ImageSet:
    """Images loaded into memory at the model's input size (N×H×W×C uint8) with their classes."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    groups: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def split_classes(records: list[ImageRecord], sizes: tuple[float, float, float], seed: int) -> ClassSplit:
    """Split the groups into train/validation/test, deterministically for a given seed.

    `sizes` are fractions that add up to 1, or whole numbers of groups. Classes of one group
    (the characters of an alphabet) always land in the same part.
    """
    groups = sorted({r.group for r in records})
    counts = _split_counts(sizes, len(groups))
    order = np.random.default_rng(seed).permutation(len(groups))
    shuffled = [groups[i] for i in order]
    parts = (
        shuffled[: counts[0]],
        shuffled[counts[0] : counts[0] + counts[1]],
        shuffled[counts[0] + counts[1] :],
    )
    classes_of = {}
    for record in records:
        classes_of.setdefault(record.group, set()).add(record.label)
    train, val, test = (tuple(sorted(c for g in part for c in classes_of[g])) for part in parts)
    if len(train) < 2:
        raise DatasetError("the training part of the split has fewer than two classes")
    return ClassSplit(train=train, val=val, test=test)


def _split_counts(sizes: tuple[float, float, float], total: int) -> tuple[int, int, int]:
    if len(sizes) != 3 or min(sizes) < 0:
        raise DatasetError(f"a split needs three non-negative sizes (train,val,test), got {sizes}")
    if all(float(s).is_integer() for s in sizes) and sum(sizes) > 1:
        counts = tuple(int(s) for s in sizes)
        if sum(counts) != total:
            raise DatasetError(f"split sizes {counts} add up to {sum(counts)}, but there are {total} groups")
        return counts
    if abs(sum(sizes) - 1.0) > 1e-6:
        raise DatasetError(f"split fractions {sizes} must add up to 1")
    val = round(sizes[1] * total)
    test = round(sizes[2] * total)
    return total - val - test, val, test


def load_images(
    records: list[ImageRecord],
    classes: tuple[str, ...],
    spec: InputSpec,
    progress: Callable[[int, int], None] | None = None,
) -> ImageSet:
    """Decode and fit the images of `classes`; unreadable files are skipped and counted in the log."""
    wanted = set(classes)
    chosen = [r for r in records if r.label in wanted]
    images, labels, groups, skipped = [], [], [], []
    index_of = {name: i for i, name in enumerate(classes)}
    for done, record in enumerate(chosen, start=1):
        try:
            images.append(fit_image(read_image(record.path), spec))
        except ImageReadError as error:
            skipped.append(record.path)
            log.debug("%s", error)
        else:
            labels.append(index_of[record.label])
            groups.append(record.group)
        if progress is not None:
            progress(done, len(chosen))
    if skipped:
        log.warning("skipped %d unreadable image(s), e.g. %s", len(skipped), skipped[0])
    found = set(labels)
    empty = [name for name in classes if index_of[name] not in found]
    if empty:
        raise DatasetError(f"class {empty[0]!r} has no readable image")
    shape = (0, spec.height, spec.width, spec.channels)
    return ImageSet(
        images=np.stack(images) if images else np.empty(shape, np.uint8),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=list(classes),
        groups=np.asarray(groups),
    )


def add_rotated_classes(image_set: ImageSet) -> ImageSet:
    """Add each class rotated by 90, 180 and 270 degrees as three new classes (Omniglot's trick)."""
    if image_set.images.shape[1] != image_set.images.shape[2]:
        raise DatasetError("rotated classes need a square input size")
    images = [image_set.images]
    labels = [image_set.labels]
    names = list(image_set.class_names)
    groups = [image_set.groups]
    for quarter in (1, 2, 3):
        images.append(np.rot90(image_set.images, k=quarter, axes=(1, 2)))
        labels.append(image_set.labels + quarter * len(image_set.class_names))
        names.extend(f"{name}@rot{90 * quarter}" for name in image_set.class_names)
        groups.append(np.char.add(image_set.groups.astype(str), f"@rot{90 * quarter}"))
    return ImageSet(
        images=np.ascontiguousarray(np.concatenate(images)),
        labels=np.concatenate(labels),
        class_names=names,
        groups=np.concatenate(groups),
    )


def channel_statistics(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 images, on the [0, 1] scale."""
    pixels = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    std = np.maximum(pixels.std(axis=0), 1e-3)
    return tuple(float(v) for v in pixels.mean(axis=0)), tuple(float(v) for v in std)
