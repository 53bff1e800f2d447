"""The lightweight runtime of siamese-edge: numpy, OpenCV and ONNX Runtime only, never torch.

The runtime is in layers, each a subpackage that imports only from those before it: `core`,
`imaging`, `inference`, `faces`, `identity`, `io`, `fleet`, `loop`, `serve`, `apps`. The names below are its public
API; each is imported on first use, so `import edge_runtime` alone loads none of them (training
and export, which need preprocessing and model metadata, do not pay for OpenCV's detectors, the
gallery or the recognizer).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

LAYERS = ("core", "imaging", "inference", "faces", "identity", "io", "fleet", "loop", "serve", "apps")

_PUBLIC = {
    "Embedder": "edge_runtime.inference.embedder",
    "Gallery": "edge_runtime.identity.gallery",
    "InputSpec": "edge_runtime.imaging.preprocessing",
    "Match": "edge_runtime.identity.gallery",
    "Recognition": "edge_runtime.identity.recognizer",
    "Recognizer": "edge_runtime.identity.recognizer",
    "SiameseEdgeError": "edge_runtime.core.errors",
    "fit_image": "edge_runtime.imaging.preprocessing",
    "read_image": "edge_runtime.imaging.preprocessing",
    "to_input_tensor": "edge_runtime.imaging.preprocessing",
}
__all__ = [
    "Embedder",
    "Gallery",
    "InputSpec",
    "Match",
    "Recognition",
    "Recognizer",
    "SiameseEdgeError",
    "fit_image",
    "read_image",
    "to_input_tensor",
]

if TYPE_CHECKING:
    from edge_runtime.core.errors import SiameseEdgeError
    from edge_runtime.identity.gallery import Gallery, Match
    from edge_runtime.identity.recognizer import Recognition, Recognizer
    from edge_runtime.imaging.preprocessing import InputSpec, fit_image, read_image, to_input_tensor
    from edge_runtime.inference.embedder import Embedder


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'edge_runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
