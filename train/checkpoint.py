"""The checkpoint: everything the export stage needs, in a file `torch.load(weights_only=True)` reads.

Keys (format version 1): `format`, `format_version`, `arch` (name and kwargs), `model_state`,
`loss_state`, `input` (an InputSpec dictionary), `embedding_size`, `metric` (the score the runtime
uses: cosine), `threshold` and `target_far`, `split`, `dataset`, `config`, `versions`,
`training` (epoch, best score, history; optimizer state in `last.pt` only) and `evaluation`.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.errors import CheckpointError, ForeignCheckpointError, error_line
from edge_runtime.core.file_head import file_head

FORMAT = "siamese-edge-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(payload: dict, path: str | Path) -> None:
    """Write a checkpoint atomically: a crash leaves the previous file, never half a new one."""
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload}
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


def load_checkpoint(path: str | Path) -> dict:
    """Read and check a checkpoint safely, or raise CheckpointError with what to do."""
    path = Path(path)
    payload = _safe_load(path, "checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ForeignCheckpointError(f"{path} is not a siamese-edge checkpoint; train one with siamese-train")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}, this siamese-edge reads format {FORMAT_VERSION}; "
            "use the siamese-edge version that wrote it"
        )
    return payload


def _safe_load(path: Path, what: str):
    """torch.load without pickled code; every failure becomes a CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist")
    if _is_onnx(path):
        raise CheckpointError(
            f"{what} {path} is an ONNX model (what export-onnx writes), not a checkpoint; "
            "give the best.pt that siamese-train wrote"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError) as error:
        reason = error_line(error, last=True, prefer="WeightsUnpickler error")  # torch's cause, not its advice
        raise CheckpointError(f"cannot read {what} {path} (truncated or not a checkpoint): {reason}") from None


def _is_onnx(path: Path) -> bool:
    """An ONNX model (a protobuf whose first field is ir_version: byte 0x08), not a torch checkpoint
    (a zip file, or an old pickle starting 0x80)."""
    head = file_head(path, 2)
    return len(head) == 2 and head[0] == 0x08 and head[1] < 0x80 and not zipfile.is_zipfile(path)


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The model weights of a siamese-edge checkpoint, a plain state_dict file or dlib's face ResNet
    `.dat` file (--init-weights)."""
    path = Path(path)
    if path.suffix == ".dat":
        from train.dlib.weights import read_dlib_face_resnet

        return {f"backbone.{name}": value for name, value in read_dlib_face_resnet(path).items()}
    payload = _safe_load(path, "weights file")
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        payload = payload["model_state"]
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise CheckpointError(f"{path} holds no state_dict of tensors")
    return payload
