"""ONNX Runtime, imported once with a clear message when neither of its packages is installed.

`onnxruntime` (CPU) and `onnxruntime-gpu` provide the same module and must not share an
environment, so siamese-edge depends on neither directly: the `cpu` and `gpu` extras pick one.
"""

from __future__ import annotations

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.extras import install_command

try:
    import onnxruntime as ort
except ImportError:  # reported when a session is first needed
    ort = None


def onnxruntime():
    """The onnxruntime module, or a SiameseEdgeError that says how to install it."""
    if ort is None:
        raise SiameseEdgeError(f"ONNX Runtime is not installed: {install_command('cpu')} (or the [gpu] extra)")
    return ort
