"""dlib's five face landmarks from a small convolutional network, run by ONNX Runtime: a fast stand-in
for the regression-tree cascade of `face_landmarks`, trained on its points (`python -m
benchmarks.faces.landmark_net`).

The network sees each face as a grey square cut from the frame that dlib's rectangle (or a previous
pass's points) puts it in, over `crop` = (low, high, pixels) of that frame's unit square, and returns the
five points in the frame's normalised coordinates. The frames, the second pass for tilted faces and
the points' order are `FivePointLocator`'s, so it cuts faces onto dlib's templates as dlib's points do.
A frame of many faces costs one run of the network, and one more for those tilted over `refit_tilt`.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.core.errors import CheckpointError
from edge_runtime.faces.face_landmarks import FivePointLocator, check_landmark_image
from edge_runtime.inference.embedder import model_session
from edge_runtime.inference.providers import CPU

NET_FORMAT = "siamese-edge-landmarks/1"
FROM_CROP = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP  # warpAffine given the crop → image matrix


def crop_matrix(frame: np.ndarray, low: float, high: float, pixels: int) -> np.ndarray:
    """The 2×3 affine from a pixels×pixels crop's pixel centres to the image, for the square [low, high]² of
    `frame` (normalised → image): pixel i's centre is low + (i + ½)·(high − low)/pixels."""
    step = (high - low) / pixels
    corner = frame[:, :2] @ np.full(2, low + step / 2) + frame[:, 2]
    return np.hstack([frame[:, :2] * step, corner[:, None]])


def cut_square(image: np.ndarray, frame: np.ndarray, crop: tuple[float, float, int]) -> np.ndarray:
    """The square `crop` = (low, high, pixels) of `frame` (normalised → image) cut from `image`, edges replicated."""
    low, high, pixels = crop
    matrix = crop_matrix(frame, low, high, pixels)
    return cv2.warpAffine(image, matrix, (pixels, pixels), flags=FROM_CROP, borderMode=cv2.BORDER_REPLICATE)


def grey_image(image: np.ndarray) -> np.ndarray:
    """A gray, BGR or BGRA uint8 image in grey."""
    check_landmark_image(image)
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


class LandmarkNet(FivePointLocator):
    """dlib's five points from the landmark network at `path` (an ONNX file of format `NET_FORMAT`)."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        self.session = model_session(path, [CPU])
        metadata = self.session.get_modelmeta().custom_metadata_map
        try:
            if metadata.get("format") != NET_FORMAT or metadata.get("landmarks") != "dlib5":
                raise ValueError(f"format {metadata.get('format')!r}")
            low, high, pixels = json.loads(metadata["crop"])
            self.crop = float(low), float(high), int(pixels)
            _check_shapes(self.session, *self.crop)
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointError(
                f"{path} is not a landmark network of format {NET_FORMAT} ({error}): "
                "train one with python -m benchmarks.faces.landmark_net"
            ) from None
        self.input = self.session.get_inputs()[0].name

    def prepared(self, image: np.ndarray) -> np.ndarray:
        """The image in grey, as the network reads it."""
        return grey_image(image)

    def predict_frames(self, image: np.ndarray, frames: np.ndarray, subpixel: bool = False) -> np.ndarray:
        """The points (faces×5×2, image pixels, dlib's order) of the faces in `frames` (faces×2×3), all in one run."""
        if not len(frames):  # ONNX Runtime's INT8 kernels crash on an empty batch
            return np.empty((0, self.parts, 2))
        grey, pixels = grey_image(image), self.crop[2]
        crops = np.empty((len(frames), 1, pixels, pixels), np.float32)
        for face, frame in enumerate(frames):
            crops[face, 0] = cut_square(grey, frame, self.crop)
        shape = self.session.run(None, {self.input: crops})[0].reshape(len(frames), self.parts, 2).astype(np.float64)
        located = shape @ frames[:, :, :2].transpose(0, 2, 1) + frames[:, None, :, 2]
        return located if subpixel else np.floor(located + 0.5)


def _check_shapes(session, low: float, high: float, pixels: int) -> None:
    """Raise ValueError unless the network takes faces×1×pixels×pixels and gives faces×10, over low < high."""
    expected_input, expected_output = [1, pixels, pixels], [FivePointLocator.parts * 2]
    given_input, given_output = session.get_inputs()[0].shape[1:], session.get_outputs()[0].shape[1:]
    if pixels <= 0 or not low < high or given_input != expected_input or given_output != expected_output:
        raise ValueError(f"crop {[low, high, pixels]} does not fit its input {given_input} and output {given_output}")
