"""Every setting of a training run, in one dataclass that the checkpoint stores as a dictionary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from train.batch_workers import fork_available


@dataclass
class TrainConfig:
    """A training run's settings; `siamese-train --help` describes each one."""

    data: str
    layout: str = "auto"
    group_separator: str = ""
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_seed: int = 0
    height: int = 64
    width: int = 64
    channels: int = 0
    resize: str = "stretch"
    kind: str = "identity"
    backbone: str = "edge"
    embedding_size: int = 0
    loss: str = "triplet"
    mining: str = "batch-hard"
    metric: str = "cosine"
    margin: float = 0.0
    classes_per_batch: int = 32
    images_per_class: int = 4
    pairs_per_batch: int = 64
    steps_per_epoch: int = 0
    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 5e-4
    augment: bool = True
    flip: bool = False
    photometric: bool = False
    rotate_classes: bool = False
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    way: int = 20
    shot: int = 1
    same_group: bool = False
    episodes: int = 1000
    val_episodes: int = 300
    target_far: float = 1e-3
    patience: int = 0
    threads: int = 0
    workers: int = 0
    teacher: str = ""
    teacher_data: str = ""
    distill_weight: float = 1.0
    relation_weight: float = 1.0
    mixup: float = 0.0
    student_turn: float = 0.0

    def __post_init__(self) -> None:
        self.split = tuple(float(s) for s in self.split)
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"--distill-weight must lie between 0 and 1, not {self.distill_weight}")
        if self.relation_weight < 0:
            raise ValueError(f"--relation-weight must not be negative, not {self.relation_weight}")
        if self.mixup < 0:
            raise ValueError(f"--mixup must not be negative, not {self.mixup}")
        if self.mixup and (not self.teacher or self.distill_weight != 1.0 or not self.augment):
            raise ValueError("--mixup blends two people into one image, whom no label names: it needs --teacher, "
                             "--distill-weight 1 and augmentation")  # fmt: skip
        if self.student_turn < 0:
            raise ValueError(f"--student-turn must not be negative, not {self.student_turn}")
        if self.student_turn and (not self.teacher or not self.augment):
            raise ValueError("--student-turn turns the student's view alone, against the teacher's: it needs "
                             "--teacher and augmentation")  # fmt: skip
        if self.workers < 0:
            raise ValueError(f"--workers must not be negative, not {self.workers}")
        if self.workers and not fork_available():
            raise ValueError("--workers needs worker processes started by fork (Linux); give --workers 0")
        if self.teacher_data and not self.teacher:
            raise ValueError("--teacher-data is the teacher's view of the training images: it needs --teacher")
        if self.margin == 0.0:
            self.margin = {"triplet": 0.2, "contrastive": 0.5, "cosface": 0.2}.get(self.loss, 0.0)

    def to_dict(self) -> dict:
        """Plain values (lists, numbers, strings) for the checkpoint."""
        values = asdict(self)
        values["split"] = list(self.split)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """The inverse of `to_dict`; unknown keys (from a newer version) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
