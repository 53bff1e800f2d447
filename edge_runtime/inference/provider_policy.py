"""The provider policy: which model file each execution provider receives, in one place.

- TensorRT: an S8S8 INT8 file (its explicit quantization) or a float file. A U8S8 INT8 file is
  replaced by the sibling it names in its metadata (`tensorrt_variant`: S8S8 or FP16), else by
  its FP16 or FP32 sibling.
- CUDA: never a Q/DQ (INT8) file, which it runs as FP32 convolutions between quantize and dequantize
  nodes, slower than the CPU: an INT8 file is replaced by its FP16 sibling, else its FP32 one.
- CPU: the file given (INT8 files are U8S8, fast on any x86 CPU).

Siblings are the files export writes beside each other (`model.int8.onnx`, `model.fp16.onnx`,
`model.fp32.onnx`, `model.int8.tensorrt.onnx`) and must share the model's `family_hash`, so a
gallery enrolled with one works with the others. A provider with no file it may run is skipped
with the reason, as one that cannot start is (see `embedder.first_that_starts`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge_runtime.inference.int8_variants import ModelFile, takes_tensorrt, tensorrt_variant_name
from edge_runtime.inference.providers import PROVIDER_NAMES, TENSORRT

CUDA = PROVIDER_NAMES["cuda"]
FLOAT_PRECISIONS = ("fp16", "fp32")


def float_sibling_names(path: Path) -> list[str]:
    """`model.int8.onnx` -> [`model.fp16.onnx`, `model.fp32.onnx`]: where export writes the float files."""
    base = path.name.removesuffix(".onnx").removesuffix(".tensorrt").removesuffix(".int8")
    return [f"{base}.{precision}.onnx" for precision in FLOAT_PRECISIONS]


def _sibling(model: ModelFile, names: list[str], fits, read_info: Callable, needs: str) -> ModelFile | str:
    """The first file of `names` beside `model`, of its family, that `fits`; else why none does."""
    names = [name for name in dict.fromkeys(names) if name != model.path.name]
    present = [model.path.with_name(name) for name in names if model.path.with_name(name).is_file()]
    for path in present:
        sibling = ModelFile(path, read_info(path))
        if sibling.info.family == model.info.family and fits(sibling.info):
            return sibling
    if present:
        return f"{needs}, and {present[0].name} is not its variant (another model); re-export both"
    return f"{needs}, and no {' or '.join(names)} is beside it; copy it there or re-export with export-onnx"


def file_for_provider(provider: str, model: ModelFile, read_info: Callable) -> ModelFile | str:
    """The file `provider` should load for `model` under the policy above, or the reason it has none."""
    if model.info.precision != "int8" or provider not in (TENSORRT, CUDA):
        return model
    if provider == TENSORRT:
        if takes_tensorrt(model.info):
            return model
        named = [model.info.tensorrt_variant] if model.info.tensorrt_variant else []
        needs = (
            f"{model.path.name} is INT8 with {model.info.quantization or 'unsigned, asymmetric'} quantization, "
            "which TensorRT cannot take (it needs signed INT8 with zero points 0, or a float file)"
        )
        names = [*named, tensorrt_variant_name(model.path), *float_sibling_names(model.path)]
        return _sibling(model, names, takes_tensorrt, read_info, needs)
    needs = (
        f"{model.path.name} is INT8 (quantize/dequantize nodes), which CUDA would run as FP32 convolutions, "
        "slower than the CPU: CUDA gets an FP16 or FP32 file"
    )
    return _sibling(model, float_sibling_names(model.path), lambda info: info.precision != "int8", read_info, needs)
