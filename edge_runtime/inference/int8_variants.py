"""Which file of an INT8 model each execution provider receives.

`export-onnx -p int8` writes two files of one model. `model.int8.onnx` is U8S8: unsigned,
asymmetric activations and 7-bit weights, fast on any x86 CPU (with 8-bit weights, CPUs without
VNNI saturate). `model.int8.tensorrt.onnx` is S8S8: signed activations and per-channel weights,
every zero point 0, biases in float, which is the only INT8 that TensorRT's explicit quantization
takes (and 3-5x slower than U8S8 on a CPU). The U8S8 file names its sibling in its metadata
(`tensorrt_variant`) and both carry the same `family_hash`, so a gallery enrolled with one works
with the other. The TensorRT provider gets the S8S8 file; every other provider the file it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_runtime.inference.model_info import ModelInfo
from edge_runtime.inference.providers import TENSORRT

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


def file_for_provider(provider: str, model: ModelFile, read_info: Callable[[Path], ModelInfo]) -> ModelFile | str:
    """The file `provider` should load for `model`, or the reason it cannot run this model."""
    if provider != TENSORRT or takes_tensorrt(model.info):
        return model
    unfit = (
        f"{model.path.name} is INT8 with {model.info.quantization or 'unsigned, asymmetric'} quantization, which "
        "TensorRT cannot take (it needs signed INT8 with zero points 0)"
    )
    if not model.info.tensorrt_variant:
        return f"{unfit}, and names no TensorRT variant; re-export it with this version's export-onnx -p int8"
    # the name export gave it, or this file's name + .tensorrt.onnx when both files were renamed
    names = dict.fromkeys([model.info.tensorrt_variant, tensorrt_variant_name(model.path)])
    siblings = [model.path.with_name(name) for name in names if model.path.with_name(name).is_file()]
    if not siblings:
        return f"{unfit}, and its TensorRT variant {' or '.join(names)} is not beside it; copy it there"
    for sibling in siblings:
        variant = ModelFile(sibling, read_info(sibling))
        if variant.info.family == model.info.family and takes_tensorrt(variant.info):
            return variant
    return f"{unfit}, and {siblings[0].name} is not its TensorRT variant (another model); re-export both"
