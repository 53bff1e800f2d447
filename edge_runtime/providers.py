"""Execution providers: which ONNX Runtime backends to ask for, in order, by short name."""

from __future__ import annotations

import onnxruntime as ort

from edge_runtime.errors import SiameseEdgeError

PROVIDER_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO_ORDER = ("tensorrt", "cuda", "cpu")


class ProviderError(SiameseEdgeError):
    """A requested execution provider is unknown or not available in this onnxruntime build."""


def resolve_providers(requested: tuple[str, ...] | list[str] = ("auto",)) -> list[str]:
    """ONNX Runtime provider names for short names (`auto` = TensorRT, CUDA, CPU where available)."""
    available = set(ort.get_available_providers())
    names: list[str] = []
    for short in requested:
        short = short.lower()
        if short == "auto":
            names += [PROVIDER_NAMES[s] for s in AUTO_ORDER if PROVIDER_NAMES[s] in available]
            continue
        if short not in PROVIDER_NAMES:
            raise ProviderError(f"unknown provider {short!r}; choose from auto, {', '.join(PROVIDER_NAMES)}")
        if PROVIDER_NAMES[short] not in available:
            raise ProviderError(
                f"provider {short} is not in this onnxruntime build (it has {', '.join(sorted(available))}); "
                "install onnxruntime-gpu for cuda and tensorrt"
            )
        names.append(PROVIDER_NAMES[short])
    return list(dict.fromkeys(names)) or ["CPUExecutionProvider"]
