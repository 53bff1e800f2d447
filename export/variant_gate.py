"""The export gate for a variant made without its checkpoint: measured against a reference model on a
folder of held-out classes, each image cut as the runtime cuts it (faces found and aligned)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.quality import load_validation, refuse_seen
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.faces.regions import make_regions
from edge_runtime.identity.openset import EpisodeSampler, episode_answers, largest_way, operating_point
from edge_runtime.inference.embedder import Embedder
from edge_runtime.inference.model_info import ModelInfo
from export.verify import Losses, agreement, judge, require_acceptable


@dataclass(frozen=True)
class GateData:
    """Where and how a variant is measured: held-out class folders and the one-shot protocol."""

    folder: Path
    way: int = 20
    episodes: int = 1000
    max_drop: float = 1.0


@dataclass(frozen=True)
class HeldOutFaces:
    """Held-out images cut as the model takes them, with their labels and groups."""

    images: list[np.ndarray]
    labels: np.ndarray
    groups: np.ndarray


def held_out_faces(folder: Path, info: ModelInfo, name: str) -> HeldOutFaces:
    """The folder's images of classes `info` never trained on, each cut to its largest region."""
    validation = load_validation(folder)
    refuse_seen(validation, str(folder), name, info.training_classes, "--data")
    finder = make_regions(info)
    kept, images = [], []
    for index, image in enumerate(validation.images):
        region = finder.largest(image)
        if region is not None and region.skipped is None:
            kept.append(index)
            images.append(region.image)
    if largest_way(validation.labels[kept], validation.groups[kept], shot=1, same_group=False) < 2:
        raise SiameseEdgeError(f"{folder} has fewer than two classes with two usable images to measure on")
    return HeldOutFaces(images, validation.labels[kept], validation.groups[kept])


def gate_variant(variant: Path, reference: Path, name: str, data: GateData) -> Losses:
    """Measure the model at `variant` against `reference` on `data`; refuse it (ExportError) when it
    loses significantly more than allowed, warn of each loss the sample cannot decide.

    As in the export: its one-shot accuracy on the same episodes as the reference, its agreement,
    and its false accept rate at its threshold, here held to twice the larger of its target FAR and
    the reference's own rate on these classes.
    """
    candidate = Embedder(variant, providers=("cpu",))
    baseline = Embedder(reference, providers=("cpu",))
    if baseline.info.family != candidate.info.family:
        raise SiameseEdgeError(f"{reference} is another model than {name}: give a reference of its family")
    held_out = held_out_faces(data.folder, candidate.info, name)
    theirs, ours = baseline.embed(held_out.images), candidate.embed(held_out.images)
    way = min(data.way, largest_way(held_out.labels, held_out.groups, shot=1, same_group=False))
    sampler = EpisodeSampler(held_out.labels, held_out.groups, way=way)
    given = tuple(episode_answers(e, sampler, episodes=data.episodes) for e in (theirs, ours))
    point, target = None, candidate.info.target_far
    if candidate.info.threshold is not None and target is not None:
        point = operating_point(ours, held_out.labels, candidate.info.threshold)
        # these classes did not calibrate the threshold: the reference's own FAR on them is the target
        target = max(target, operating_point(theirs, held_out.labels, candidate.info.threshold).far)
    losses = judge(candidate.info.precision, agreement(theirs, ours), reference.name, given, reference.name,
                   data.max_drop, point, target)  # fmt: skip
    require_acceptable(name, losses)
    return losses
