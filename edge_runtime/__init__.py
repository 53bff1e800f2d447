"""The lightweight runtime of siamese-edge: numpy, OpenCV and ONNX Runtime only, never torch."""

from edge_runtime.errors import SiameseEdgeError
from edge_runtime.preprocessing import InputSpec, fit_image, read_image, to_input_tensor

__all__ = ["InputSpec", "SiameseEdgeError", "fit_image", "read_image", "to_input_tensor"]
