"""Execution providers: which ONNX Runtime backends to ask for, in order, and with which options.

The options are plain dictionaries built here, so they are tested on any machine, even one whose
onnxruntime build has no GPU provider to run them; building TensorRT's makes its engine-cache folder.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.inference.model_info import ModelInfo
from edge_runtime.inference.onnx_runtime import onnxruntime

log = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
PROVIDER_NAMES = {
    "tensorrt": TENSORRT,
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
CPU = PROVIDER_NAMES["cpu"]
AUTO_ORDER = ("tensorrt", "cuda", "cpu")
# onnxruntime-gpu keeps each GPU provider in a library of its own, loaded when a session asks for it
PROVIDER_LIBRARIES = {
    TENSORRT: "libonnxruntime_providers_tensorrt.so",
    PROVIDER_NAMES["cuda"]: "libonnxruntime_providers_cuda.so",
}
# Batches the TensorRT engine is tuned for: several streams (or faces in one frame) embed together,
# about four at a time; any batch from 1 to `max_batch` runs on the same engine.
TYPICAL_BATCH = 4
CUDNN_SEARCH = ("EXHAUSTIVE", "HEURISTIC", "DEFAULT")


class ProviderError(SiameseEdgeError):
    """A requested execution provider is unknown, unavailable, or silently replaced."""


def default_cache_dir() -> Path:
    """Where TensorRT engines are cached: $SIAMESE_EDGE_CACHE, else ~/.cache/siamese-edge/tensorrt."""
    override = os.environ.get("SIAMESE_EDGE_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "siamese-edge" / "tensorrt"


@dataclass(frozen=True)
class ProviderSettings:
    """Options of the GPU providers (ignored by the CPU provider)."""

    device_id: int = 0
    tensorrt_fp16: bool = False
    tensorrt_int8: bool | None = None
    engine_cache_dir: Path | None = None
    max_batch: int = 32
    opt_batch: int = TYPICAL_BATCH
    workspace_bytes: int = 1 << 30
    cuda_memory_limit: int | None = None
    cudnn_search: str = "HEURISTIC"


def resolve_providers(
    requested=("auto",), available: list[str] | None = None, require_first: bool = False
) -> list[str]:
    """ONNX Runtime provider names to try, in order, for short names (`auto` = TensorRT, CUDA, CPU
    where available). A listed provider this build lacks is skipped with a warning, since the list
    means "the first that works"; with `require_first`, the first one listed must be there."""
    available_set = set(onnxruntime().get_available_providers() if available is None else available)
    names: list[str] = []
    for position, short in enumerate(s.lower() for s in requested):
        if short == "auto":
            names += [PROVIDER_NAMES[s] for s in AUTO_ORDER if PROVIDER_NAMES[s] in available_set]
            continue
        if short not in PROVIDER_NAMES:
            raise ProviderError(f"unknown provider {short!r}; choose from auto, {', '.join(PROVIDER_NAMES)}")
        if PROVIDER_NAMES[short] in available_set:
            names.append(PROVIDER_NAMES[short])
            continue
        missing = f"provider {short} is not in this onnxruntime build (it has {', '.join(sorted(available_set))})"
        if require_first and position == 0:
            raise ProviderError(
                f"{missing}; --require-provider asks for it; "
                "install onnxruntime-gpu (docs/runtime.md, Execution providers)"
            )
        log.warning("%s: trying the next provider listed", missing)
    names = list(dict.fromkeys(names))
    if not names:
        raise ProviderError(
            f"none of the providers listed ({', '.join(requested)}) is in this onnxruntime build; "
            "install onnxruntime-gpu for cuda and tensorrt (docs/runtime.md, Execution providers), "
            "or add --provider cpu"
        )
    return names


def engine_cache_path(settings: ProviderSettings, info: ModelInfo) -> Path:
    """The model's own engine-cache folder: keyed by its hash, so a stale engine is never reused."""
    return (settings.engine_cache_dir or default_cache_dir()) / info.model_hash


def _made(cache: Path) -> Path:
    """`cache`, created with its parents: ONNX Runtime's TensorRT provider creates only the last
    folder of its cache path and does not start when the parent is missing."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ProviderError(
            f"cannot create the TensorRT engine cache {cache}: {error.strerror}; "
            "give --engine-cache a writable folder or set SIAMESE_EDGE_CACHE"
        ) from None
    return cache


def provider_options(name: str, settings: ProviderSettings, info: ModelInfo, input_name: str) -> dict[str, str]:
    """The options dictionary of one provider for this model (TensorRT's engine-cache folder is made here)."""
    if name == TENSORRT:
        cache = _made(engine_cache_path(settings, info))
        spec = info.spec
        shape = f"{spec.channels}x{spec.height}x{spec.width}"
        int8 = info.precision == "int8" if settings.tensorrt_int8 is None else settings.tensorrt_int8
        return {
            "device_id": str(settings.device_id),
            "trt_fp16_enable": str(settings.tensorrt_fp16 or info.precision == "fp16"),
            "trt_int8_enable": str(int8),
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": "True",
            "trt_timing_cache_path": str(cache),
            "trt_max_workspace_size": str(settings.workspace_bytes),
            "trt_profile_min_shapes": f"{input_name}:1x{shape}",
            "trt_profile_opt_shapes": f"{input_name}:{settings.opt_batch}x{shape}",
            "trt_profile_max_shapes": f"{input_name}:{settings.max_batch}x{shape}",
        }
    if name == PROVIDER_NAMES["cuda"]:
        if settings.cudnn_search not in CUDNN_SEARCH:
            raise ProviderError(f"cuDNN search must be one of {', '.join(CUDNN_SEARCH)}")
        options = {"device_id": str(settings.device_id), "cudnn_conv_algo_search": settings.cudnn_search}
        if settings.cuda_memory_limit:
            options["gpu_mem_limit"] = str(settings.cuda_memory_limit)
        return options
    return {}


def short_name(name: str) -> str:
    """`TensorrtExecutionProvider` -> `tensorrt`: the name the command line uses."""
    return next((short for short, full in PROVIDER_NAMES.items() if full == name), name)


def library_problem(name: str) -> str | None:
    """Why onnxruntime's own library of GPU provider `name` does not load here (what the dynamic loader
    says, such as `libcublas.so.12: cannot open shared object file`), or None when it loads or the
    provider has none. onnxruntime-gpu lists CUDA and TensorRT whether or not their libraries load."""
    library = PROVIDER_LIBRARIES.get(name)
    if library is None:
        return None
    path = Path(onnxruntime().__file__).parent / "capi" / library
    if not path.is_file():
        return f"{library} is not part of this onnxruntime build"
    try:
        ctypes.CDLL(str(path))
    except OSError as error:
        return f"{library} does not load: {str(error).removeprefix(str(path) + ': ')}"
    return None


def runtime_reason(error: BaseException) -> str:
    """ONNX Runtime's message for `error` on one line, without the C++ source location it starts with."""
    line = " ".join(str(error).split()) or type(error).__name__
    return re.sub(r"^(\[ONNXRuntimeError\] : \d+ : \w+ : )?/\S+:\d+ (\S+ )?[\w:<>~]+\([^)]*\)\s*", "", line)
