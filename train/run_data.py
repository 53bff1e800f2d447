"""The data of one training run: the class split, the input, the loaded image sets and the teacher's targets."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge_runtime.core.errors import CheckpointError, DatasetError, ImageReadError
from edge_runtime.faces.face_alignment import TEMPLATE_FILE, folder_template
from edge_runtime.imaging.image_folders import ImageRecord
from edge_runtime.imaging.preprocessing import InputSpec, read_image
from train.augment import augment_batch
from train.backbones import BACKBONES
from train.config import TrainConfig
from train.datasets import (
    ClassSplit,
    ImageSet,
    add_rotated_classes,
    channel_statistics,
    detect_layout,
    load_images,
    scan_dataset,
    split_classes,
)
from train.distillation import TeacherTargets, check_teacher, parallel_records, teacher_targets
from train.evaluation import feasible_way
from train.progress import Progress
from train.teacher import Teacher

log = logging.getLogger(__name__)

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass
class RunData:
    """What a run trains and validates on: the dataset's folder and split, the input, the loaded image
    sets, the validation episodes' width and, with a teacher, its targets."""

    root: Path
    layout: str
    records: list[ImageRecord]
    split: ClassSplit
    spec: InputSpec
    train_set: ImageSet
    val_set: ImageSet
    test_set: ImageSet | None
    val_way: int = 0
    teaching: TeacherTargets | None = None


def augmentation(config: TrainConfig) -> Augment | None:
    """The training distortion, or None (--no-augment)."""
    if not config.augment:
        return None
    return functools.partial(augment_batch, flip=config.flip, photometric=config.photometric, mixup=config.mixup)


def prepare_data(
    config: TrainConfig,
    *,
    resumed: dict | None,
    teacher: Teacher | None,
    out_dir: Path,
    is_main: bool,
    show_progress: bool,
) -> RunData:
    """Scan and split the dataset, fix the input (a resumed run keeps its checkpoint's), load the images
    and, with a teacher, its targets; refuses splits that allow no validation or test episodes."""
    root = Path(config.data)
    layout = detect_layout(root) if config.layout == "auto" and root.is_dir() else config.layout
    records = scan_dataset(root, layout, config.group_separator)
    split = split_classes(records, config.split, config.split_seed)
    if resumed is not None:
        saved = resumed["split"]
        if list(split.train) != saved["train"] or list(split.val) != saved["val"]:
            raise CheckpointError("the dataset's classes changed since this checkpoint was written; cannot resume")
        spec = InputSpec.from_dict(resumed["input"])
    else:
        spec = _initial_spec(config, root, records)
    if len(split.val) < 2:
        raise DatasetError("the validation part of the split needs two classes at least (see --split)")
    load = functools.partial(_load, records=records, spec=spec, show_progress=show_progress and is_main)
    train_set = load("train", split.train)
    val_set = load("validation", split.val)
    test_set = load("test", split.test) if split.test else None
    if resumed is None and _fixed_input(config.backbone) is None:
        mean, std = channel_statistics(train_set.images)
        spec = replace(spec, mean=mean, std=std)
    if config.rotate_classes:
        train_set = add_rotated_classes(train_set)
    data = RunData(root, layout, records, split, spec, train_set, val_set, test_set)
    if teacher is not None:
        saved_teacher = (resumed or {}).get("teacher")
        data.teaching = _prepare_teaching(config, data, teacher, saved_teacher, out_dir, write_cache=is_main)
    data.val_way = _episode_way(config, val_set, test_set)
    log.info(
        "classes: %d train (%d images), %d validation, %d test; input %dx%dx%d",
        len(train_set.class_names),
        len(train_set),
        len(split.val),
        len(split.test),
        spec.height,
        spec.width,
        spec.channels,
    )
    return data


def _detect_channels(records: list[ImageRecord]) -> int:
    """3 when one of the first images has colour, else 1."""
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


def _initial_spec(config: TrainConfig, root: Path, records: list[ImageRecord]) -> InputSpec:
    """The input before measuring the training images: the backbone's own (dlib-resnet) or the
    configured size and channels; faces cut to a template (`face_template.json` beside the
    classes) keep that template."""
    points, landmarks = folder_template(root) or (None, "yunet")
    fixed = _fixed_input(config.backbone)
    if fixed is not None:
        log.info("the %s backbone takes %dx%d input with its own normalisation", config.backbone,
                 fixed.height, fixed.width)  # fmt: skip
        if points is None and config.kind == "face":
            log.warning("%s has no %s: its faces may not be cut as the backbone expects", root, TEMPLATE_FILE)
        return replace(fixed, resize=config.resize, face_template=points, face_landmarks=landmarks)
    channels = config.channels or _detect_channels(records)
    neutral = (0.5,) * channels
    return InputSpec(
        config.height, config.width, channels, mean=neutral, std=neutral, resize=config.resize,
        face_template=points, face_landmarks=landmarks,
    )  # fmt: skip


def _load(
    name: str, classes: tuple[str, ...], *, records: list[ImageRecord], spec: InputSpec, show_progress: bool
) -> ImageSet:
    """The images of `classes` at `spec`, with a progress line named `name`."""
    progress = Progress(f"loading {name} images", 1, enabled=show_progress)

    def report(done: int, total: int) -> None:
        progress.total = total
        progress.update(done)

    return load_images(records, classes, spec, report)


def _prepare_teaching(
    config: TrainConfig, data: RunData, teacher: Teacher, saved: dict | None, out_dir: Path, write_cache: bool
) -> TeacherTargets:
    """The teacher's view of the training images (distillation, --teacher)."""
    records, template = data.records, data.spec.face_template
    if config.teacher_data:  # the same photos, cut as the teacher wants them
        other = Path(config.teacher_data)
        records = parallel_records(data.records, data.root, other, data.split.train)
        template = (folder_template(other) or (None, ""))[0]
    check_teacher(teacher, saved, data.split.val + data.split.test, template)
    return teacher_targets(
        teacher, records, data.split.train, data.train_set, rotate_classes=config.rotate_classes,
        augment=augmentation(config), out_dir=out_dir, write_cache=write_cache,
    )  # fmt: skip


def _episode_way(config: TrainConfig, val_set: ImageSet, test_set: ImageSet | None) -> int:
    """The widest validation episode (at most --way); refuses splits too narrow for 2-way validation
    or --way-wide test episodes."""
    val_way = feasible_way(val_set, config.way, config.shot, config.same_group)
    if val_way < 2:
        enough = int((np.unique(val_set.labels, return_counts=True)[1] > config.shot).sum())
        if len(np.unique(val_set.labels)) >= 2 and enough < 2:
            raise DatasetError(
                f"classes need {config.shot + 1} images at least for {config.shot}-shot episodes "
                f"({config.shot} to compare with, one to match); only {enough} validation class"
                f"{'' if enough == 1 else 'es'} of the split {'has' if enough == 1 else 'have'} that many"
            )
        raise DatasetError("the validation classes allow no 2-way episode; give the split more validation classes")
    if test_set is not None:
        test_way = feasible_way(test_set, config.way, config.shot, config.same_group)
        if test_way < config.way:
            scope = "within one group" if config.same_group else "in the test split"
            raise DatasetError(
                f"{config.way}-way episodes need {config.way} classes {scope}; only {test_way} (see --way)"
            )
    return val_way
