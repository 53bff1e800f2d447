"""The lightweight runtime of siamese-edge: numpy, OpenCV and ONNX Runtime only, never torch."""

from edge_runtime.embedder import Embedder
from edge_runtime.errors import SiameseEdgeError
from edge_runtime.gallery import Gallery, Match
from edge_runtime.preprocessing import InputSpec, fit_image, read_image, to_input_tensor
from edge_runtime.recognizer import Recognition, Recognizer

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
