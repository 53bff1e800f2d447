"""The teacher of a distillation run: a siamese-edge checkpoint or an exported ONNX model.

Either way the teacher brings its own input specification (size, channels, normalisation, face
template) from its checkpoint or its ONNX metadata, so it may see images at another size or in
other channels than the student. A model without that description is refused: its inputs would
be guessed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from edge_runtime.core.errors import ForeignCheckpointError, ForeignModelError, SiameseEdgeError
from edge_runtime.imaging.preprocessing import InputSpec
from train.backbones import model_from_checkpoint
from train.checkpoint import load_checkpoint
from train.evaluation import embed_images

log = logging.getLogger(__name__)


class TeacherError(SiameseEdgeError):
    """A teacher that cannot teach: no description of its input, or embeddings of another length."""


class _Embed(Protocol):
    def __call__(self, fitted: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Teacher:
    """A frozen embedding network and the input it takes.

    `embed` maps images fitted to `spec` (N×H×W×C uint8) to L2-normalised float32 rows;
    `identity` is a hash of its weights (a resumed run checks it is the same teacher).
    """

    path: Path
    spec: InputSpec
    embedding_size: int
    identity: str
    training_classes: tuple[str, ...]
    embed: _Embed

    def describe(self) -> dict:
        """What the checkpoint records about the teacher."""
        return {
            "path": str(self.path),
            "identity": self.identity,
            "input": self.spec.to_dict(),
            "embedding_size": self.embedding_size,
        }


def load_teacher(path: str | Path, device: torch.device) -> Teacher:
    """The teacher at `path`: an exported `.onnx` model with siamese-edge metadata, or a checkpoint."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return _onnx_teacher(path, device)
    return _checkpoint_teacher(path, device)


def _without_metadata(path: Path) -> TeacherError:
    return TeacherError(
        f"teacher {path} has no siamese-edge metadata (its input size, channels and normalisation): give its "
        "siamese-edge checkpoint or its export-onnx model"
    )


def _checkpoint_teacher(path: Path, device: torch.device) -> Teacher:
    try:
        payload = load_checkpoint(path)
    except ForeignCheckpointError:
        raise _without_metadata(path) from None
    spec = InputSpec.from_dict(payload["input"])
    model = model_from_checkpoint(payload).to(device).requires_grad_(False)
    digest = hashlib.sha256()
    for name, tensor in sorted(payload["model_state"].items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())

    def embed(fitted: np.ndarray) -> np.ndarray:
        return embed_images(model, fitted, spec, device)

    return Teacher(path, spec, int(payload["embedding_size"]), digest.hexdigest()[:16],
                   tuple(payload["split"]["train"]), embed)  # fmt: skip


def _onnx_teacher(path: Path, device: torch.device) -> Teacher:
    from edge_runtime.inference.embedder import Embedder

    providers = ("cuda", "cpu") if device.type == "cuda" else ("cpu",)
    try:
        embedder = Embedder(path, providers=providers)
    except ForeignModelError:
        raise _without_metadata(path) from None
    info = embedder.info
    log.info("teacher %s: %s, %s, input %dx%dx%d", path.name, info.arch, info.precision, info.spec.height,
             info.spec.width, info.spec.channels)  # fmt: skip
    return Teacher(path, info.spec, info.embedding_size, info.model_hash, info.training_classes, embedder.embed_fitted)
