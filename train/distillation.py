"""What the teacher says about each training batch (`siamese-train --teacher`).

The teacher sees the training images at its own input (size, channels, normalisation, from its
checkpoint or metadata), distorted by the same random draws as the student's view of the batch,
so both embed the same augmented image. The teacher's embeddings of the un-augmented images are
computed once and cached in the run's folder (`teacher_cache.npz`, keyed by the teacher's hash
and the images): they give the teacher's mean embedding, where the student starts, and they are
the targets of every step without augmentation, so later epochs and `--resume` skip the teacher.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.errors import CheckpointError
from edge_runtime.imaging.image_folders import ImageRecord
from train.datasets import ImageSet, add_rotated_classes, load_images
from train.teacher import Teacher, TeacherError

log = logging.getLogger(__name__)

CACHE_FILE = "teacher_cache.npz"
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class TeacherTargets:
    """The teacher's embeddings of a batch of training images, as the student sees them. The
    embeddings of the un-augmented images (`cache`) are computed, or read from the cache file, only
    when first wanted: a student that does not start at the teacher's mean (--init-weights,
    --resume) and trains on augmented images never needs them."""

    def __init__(
        self, teacher: Teacher, images: np.ndarray, augment: Augment | None, cache: Callable[[], np.ndarray]
    ) -> None:
        self.teacher, self.images, self.augment, self._cache = teacher, images, augment, cache

    @functools.cached_property
    def cache(self) -> np.ndarray:
        """The teacher's embeddings of the un-augmented training images."""
        return self._cache()

    @property
    def mean(self) -> np.ndarray:
        """The mean of the teacher's embeddings of the un-augmented training images."""
        return self.cache.mean(axis=0)

    def view(self, index: np.ndarray, rng: np.random.Generator | None) -> np.ndarray | None:
        """The teacher's input images `index`, distorted by `rng` as the student's view (None when
        un-augmented: their embeddings are cached). Numpy alone: batch workers call this."""
        if rng is None or self.augment is None:
            return None
        return self.augment(self.images[index], rng)

    def embeddings(self, index: np.ndarray, view: np.ndarray | None) -> np.ndarray:
        """The teacher's embeddings of `view` (from `view`), or of the un-augmented images `index`."""
        return self.cache[index] if view is None else self.teacher.embed(view)


def teacher_targets(
    teacher: Teacher,
    records: list[ImageRecord],
    classes: tuple[str, ...],
    student: ImageSet,
    *,
    rotate_classes: bool,
    augment: Augment | None,
    out_dir: Path,
    write_cache: bool,
) -> TeacherTargets:
    """Load the training images (`classes`) at the teacher's input, in the order of the student's
    view of them (`student`), with the teacher's (cached) embeddings of them un-augmented to come."""
    view = load_images(records, classes, teacher.spec)
    if rotate_classes:
        view = add_rotated_classes(view)
    if not np.array_equal(view.labels, student.labels):
        raise TeacherError("the teacher's and the student's views of the training images differ; cannot distil")
    cache = functools.partial(_cached_embeddings, teacher, view.images, out_dir / CACHE_FILE, write_cache)
    return TeacherTargets(teacher, view.images, augment, cache)


def parallel_records(records: list[ImageRecord], root: Path, other_root: Path, classes: tuple[str, ...]):
    """The records of `classes` with each file taken from `other_root` at its place under `root`
    (--teacher-data: the same photos, cut as the teacher wants them)."""
    if not other_root.is_dir():
        raise TeacherError(f"--teacher-data {other_root} is not a folder")
    wanted = set(classes)
    chosen = [record for record in records if record.label in wanted]
    moved = [replace(record, path=other_root / record.path.relative_to(root)) for record in chosen]
    missing = [record.path for record in moved if not record.path.is_file()]
    if missing:
        raise TeacherError(f"{other_root} lacks {len(missing)} of the {len(moved)} training images (e.g. "
                           f"{missing[0]}): --teacher-data must hold the same files as --data")  # fmt: skip
    return moved


def _cached_embeddings(teacher: Teacher, images: np.ndarray, path: Path, write: bool) -> np.ndarray:
    """The teacher's embeddings of the un-augmented images: from `path` when it holds this teacher's
    embeddings of these images, else computed (in fixed chunks: the same numbers every time) and saved."""
    key = _cache_key(teacher, images)
    if path.is_file():
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["key"]) == key:
                log.info("teacher embeddings of the %d training images from %s", len(images), path)
                return saved["embeddings"]
    log.info("embedding the %d training images with the teacher (cached in %s)", len(images), path)
    embeddings = np.concatenate([teacher.embed(images[start : start + 256]) for start in range(0, len(images), 256)])
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            np.savez(file, key=np.array(key), embeddings=embeddings)
    return embeddings


def _cache_key(teacher: Teacher, images: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images).data)
    return f"{teacher.identity}:{digest.hexdigest()[:16]}:{images.shape}"


def check_teacher(teacher: Teacher, saved: dict | None, evaluated: tuple[str, ...], template) -> None:
    """Refuse to resume with another teacher; warn when the teacher knows the classes the student
    is measured on, or wants faces cut onto another template than the data's."""
    if saved is not None and saved.get("identity") != teacher.identity:
        raise CheckpointError(
            f"the teacher {teacher.path} is not the one this checkpoint was trained with "
            f"({saved.get('path')}, hash {saved.get('identity')}); cannot resume"
        )
    known = sorted(set(teacher.training_classes) & set(evaluated))
    if known:
        log.warning("the teacher was trained on %d of the validation and test classes (e.g. %s): the student's "
                    "figures on them flatter it", len(known), known[0])  # fmt: skip
    wanted = teacher.spec.face_template
    if wanted is not None and template is not None and not np.allclose(wanted, template, atol=1e-3):
        log.warning("the teacher wants faces cut onto another template than the data's: it sees them misaligned")


def require_same_length(teacher: Teacher, student_size: int) -> None:
    """The student's embedding must be as long as the teacher's for their directions to be compared."""
    if student_size != teacher.embedding_size:
        raise TeacherError(
            f"the student's embeddings have {student_size} values, the teacher's {teacher.embedding_size}: "
            f"give --embedding-size {teacher.embedding_size} to distil"
        )


def start_at_teacher_mean(model: nn.Module, teacher_mean: np.ndarray, inputs: torch.Tensor) -> bool:
    """Give the student's last layer (a bias on the embedding, as the edge backbone's closing batch
    norm has) the teacher's mean embedding as its offset, at the teacher's ratio of offset to
    spread, so the student starts where the teacher's embeddings lie.

    A teacher whose embeddings share a large common part (dlib's: every face at cosine 0.91 to the
    mean) would otherwise take the student thousands of steps to reach with small parameter moves,
    and until then matching the common part alone pays best: the student collapses onto it.
    Returns whether the student has such a layer; `inputs` is a batch to measure its spread on.
    """
    last, output = _last_layer(model.backbone, inputs)
    if last is None:
        log.info("the student has no bias on its embedding: it starts without the teacher's mean")
        return False
    length = float(np.linalg.norm(teacher_mean))
    with torch.no_grad():
        spread = (output - last.bias).norm(dim=1).mean().item()
        scale = spread * length / max(np.sqrt(max(1.0 - length**2, 0.0)), 1e-3)
        last.bias.copy_(torch.from_numpy(teacher_mean / max(length, 1e-12) * scale).to(last.bias))
    log.info("the student starts at the teacher's mean embedding (length %.3f of 1)", length)
    return True


def _last_layer(backbone: nn.Module, inputs: torch.Tensor) -> tuple[nn.Module | None, torch.Tensor | None]:
    """The layer with a bias whose output is the backbone's output, and that output (measured on a
    copy in training mode, so the student's batch statistics are left as they are)."""
    probe = copy.deepcopy(backbone).train()
    outputs: dict[str, torch.Tensor] = {}
    candidates = {name: m for name, m in probe.named_modules() if isinstance(m, (nn.BatchNorm1d, nn.Linear))}
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
             for name, m in candidates.items() if getattr(m, "bias", None) is not None]  # fmt: skip
    with torch.no_grad():
        result = probe(inputs)
    for hook in hooks:
        hook.remove()
    for name, output in outputs.items():
        if output is result:
            return dict(backbone.named_modules())[name], result
    return None, None
