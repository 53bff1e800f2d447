"""Which file of an INT8 model each execution provider receives.

`export-onnx -p int8` writes two files of one model. `model.int8.onnx` is U8S8: unsigned,
asymmetric activations and 7-bit weights, fast on any x86 CPU (with 8-bit weights, CPUs without
VNNI saturate). `model.int8.tensorrt.onnx` is S8S8: signed activations and per-channel weights,
every zero point 0, biases in float, which is the only INT8 that TensorRT's explicit quantization
takes (and 3-5x slower than U8S8 on a CPU). The U8S8 file names its sibling in its metadata
(`tensorrt_variant`) and both carry the same `family_hash`, so a gallery enrolled with one works
with the other. Which file each provider receives is `provider_policy`'s to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_runtime.inference.model_info import ModelInfo

TENSORRT_SUFFIX = ".tensorrt.onnx"
TENSORRT_QUANTIZATION = "s8s8"
CPU_QUANTIZATION = "u8s8"


@dataclass(frozen=True)
class ModelFile:
    """A model file and what its metadata says."""

    path: Path
    info: ModelInfo


def model_stem(path: Path) -> str:
    """A model file's name without its `.onnx`: `model.int8.onnx` -> `model.int8`."""
    return path.name.removesuffix(".onnx")


def tensorrt_variant_name(path: Path) -> str:
    """`model.int8.onnx` -> `model.int8.tensorrt.onnx`: where export writes the S8S8 sibling."""
    return model_stem(path) + TENSORRT_SUFFIX


def takes_tensorrt(info: ModelInfo) -> bool:
    """Whether TensorRT can take the model as it is: any float model, or S8S8 INT8."""
    return info.precision != "int8" or info.quantization == TENSORRT_QUANTIZATION
