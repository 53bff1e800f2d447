"""The embedding branch of a checkpoint as an ONNX graph, and the metadata that describes it."""

from __future__ import annotations

import hashlib
import io
import warnings

import onnx
import torch
import torch.nn.functional as F
from torch import nn

from edge_runtime.core.errors import ModelError
from edge_runtime.core.version import package_version
from edge_runtime.imaging.preprocessing import InputSpec
from edge_runtime.inference.model_info import ModelInfo
from export.static_shapes import fold_shape_computations
from train.backbones import model_from_checkpoint

DEFAULT_OPSET = 17
# The highest IR version each opset needs; Jetson builds of ONNX Runtime (1.16+) read these.
IR_VERSION_FOR_OPSET = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
INPUT_NAME, OUTPUT_NAME = "image", "embedding"


class FlipAveraged(nn.Module):
    """An embedding network that embeds each image and its mirror image in one batch and returns
    their normalised mean (test-time flip augmentation, inside the graph)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The L2-normalised mean embedding of each image of `x` and its mirror image."""
        both = self.network(torch.cat([x, torch.flip(x, dims=[3])]))
        return F.normalize(both.reshape(2, -1, both.shape[1]).sum(dim=0), dim=1)


def embedding_module(payload: dict, flip_average: bool = False) -> nn.Module:
    """What the exported graph computes: the checkpoint's network, flip-averaged if asked."""
    network = model_from_checkpoint(payload)
    return FlipAveraged(network).eval() if flip_average else network


def export_fp32(payload: dict, opset: int = DEFAULT_OPSET, flip_average: bool = False) -> onnx.ModelProto:
    """Export the embedding branch (image in, L2-normalised embedding out, dynamic batch)."""
    if opset not in IR_VERSION_FOR_OPSET:
        raise ValueError(f"opset {opset} is not supported; choose one of {', '.join(map(str, IR_VERSION_FOR_OPSET))}")
    spec = InputSpec.from_dict(payload["input"])
    model = embedding_module(payload, flip_average)
    return module_to_onnx(model, torch.zeros(1, spec.channels, spec.height, spec.width), opset, INPUT_NAME, OUTPUT_NAME)


def module_to_onnx(module: torch.nn.Module, example: torch.Tensor, opset: int, input_name: str,
                   output_name: str) -> onnx.ModelProto:  # fmt: skip
    """A one-input, one-output module as ONNX (the TorchScript exporter, any batch size), versions pinned,
    with the sizes computed from its fixed input dimensions folded into constants (`static_shapes`)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[input_name],
            output_names=[output_name],
            dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
            do_constant_folding=True,
        )
    return fold_shape_computations(pin_versions(onnx.load_from_string(buffer.getvalue()), opset))


def pin_versions(proto: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """Set the default-domain opset and the IR version to what Jetson runtimes load."""
    for entry in proto.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = opset
    proto.ir_version = IR_VERSION_FOR_OPSET[opset]
    return proto


def drop_unused_domains(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Keep only the opset domains the graph's nodes use (quantization leaves a list of unused ones)."""
    used = {node.domain or "" for node in proto.graph.node} | {""}
    kept = [entry for entry in proto.opset_import if (entry.domain or "") in used or entry.domain == "ai.onnx"]
    del proto.opset_import[:]
    proto.opset_import.extend(kept)
    return proto


def graph_hash(proto: onnx.ModelProto) -> str:
    """SHA-256 (16 hex characters) of the graph: the same weights and ops give the same hash."""
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()[:16]


def describe(
    payload: dict,
    proto: onnx.ModelProto,
    precision: str,
    kind: str | None = None,
    notes: str = "",
    flip_average: bool = False,
) -> ModelInfo:
    """The ModelInfo of an exported graph of this checkpoint (`kind` overrides the training config's)."""
    return ModelInfo(
        spec=InputSpec.from_dict(payload["input"]),
        embedding_size=int(payload["embedding_size"]),
        metric=payload["metric"],
        threshold=payload.get("threshold"),
        target_far=payload.get("target_far"),
        model_hash=graph_hash(proto),
        precision=precision,
        arch=payload["arch"]["name"],
        dataset_name=payload["dataset"]["name"],
        dataset_classes=int(payload["dataset"]["num_classes"]),
        package_version=package_version(),
        kind=kind or payload.get("config", {}).get("kind", "identity"),
        notes=notes,
        flip_average=flip_average,
        far_table=tuple(payload.get("far_table", ())),
    )


def read_onnx(path) -> onnx.ModelProto:
    """The ONNX model at `path`, or a ModelError saying it is not one."""
    try:
        return onnx.load(path)
    except Exception as error:  # onnx raises protobuf's own errors for files that are not ONNX
        raise ModelError(f"cannot read {path} as ONNX: {str(error).strip()[:200]}") from None


def attach_metadata(proto: onnx.ModelProto, info: ModelInfo) -> onnx.ModelProto:
    """Replace the model's metadata with `info`'s entries."""
    del proto.metadata_props[:]
    set_metadata(proto, info.to_metadata())
    proto.producer_name = "siamese-edge"
    return proto


def set_metadata(proto: onnx.ModelProto, entries: dict[str, str]) -> onnx.ModelProto:
    """Set `entries` in the model's metadata (their values win), keeping its other entries."""
    existing = {entry.key: entry for entry in proto.metadata_props}
    for key, value in entries.items():
        if key in existing:
            existing[key].value = value
        else:
            proto.metadata_props.add(key=key, value=value)
    return proto
