"""What to recognise in a frame: faces (OpenCV's Haar cascade, shipped here), a fixed ROI, or all of it.

Every detector maps a BGR frame to a list of boxes `(x, y, w, h)` in pixels.
"""

from __future__ import annotations

from importlib.resources import files

import cv2
import numpy as np

from edge_runtime.errors import SiameseEdgeError

Box = tuple[int, int, int, int]
FACE_CASCADE = "haarcascade_frontalface_default.xml"
SEARCH_FACE_PIXELS = 32  # frames are searched at the scale where the smallest face measures this


class DetectorError(SiameseEdgeError):
    """A detector cannot be made from what was asked for."""


DEFAULT_MODEL = "lfw_faces.int8.onnx"


def packaged_model(name: str) -> str:
    """The path of a model file shipped inside edge_runtime/models."""
    return str(files("edge_runtime") / "models" / name)


class WholeFrame:
    """The whole frame is the one region to recognise."""

    def detect(self, frame: np.ndarray) -> list[Box]:
        """One box covering the frame."""
        return [(0, 0, frame.shape[1], frame.shape[0])]


class FixedRegion:
    """A fixed region of interest (`--roi x,y,w,h`), clipped to the frame."""

    def __init__(self, box: Box) -> None:
        x, y, w, h = box
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            raise DetectorError(f"region {box} needs x, y >= 0 and a positive width and height")
        self.box = box

    def detect(self, frame: np.ndarray) -> list[Box]:
        """The region, clipped to the frame (none if it lies outside)."""
        x, y, w, h = self.box
        height, width = frame.shape[:2]
        w, h = min(w, width - x), min(h, height - y)
        return [(x, y, w, h)] if w > 0 and h > 0 else []


class FaceDetector:
    """Frontal faces with OpenCV's Haar cascade (shipped with the package: OpenCV 5 wheels lack it)."""

    def __init__(self, min_size: int = 60, scale_factor: float = 1.2, min_neighbors: int = 5) -> None:
        self.cascade = cv2.CascadeClassifier(packaged_model(FACE_CASCADE))
        if self.cascade.empty():
            raise DetectorError(f"cannot load the face detector {packaged_model(FACE_CASCADE)}")
        self.min_size, self.scale_factor, self.min_neighbors = min_size, scale_factor, min_neighbors
        self.search_scale = min(1.0, SEARCH_FACE_PIXELS / min_size)

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Face boxes, largest first.

        The frame is searched at the scale where a `min_size` face measures 32 px: for 64 px faces,
        a 640×480 frame is searched at 320×240 (120 ms at full size with a pyramid step of 1.1).
        Searching smaller, where such a face just fills the cascade's 24 px window, was faster but
        missed 11% of 300 random LFW images at `min_size` 64, against 3% at 32 px
        (`python -m benchmarks.faces.gate_check`).
        """
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        scale = self.search_scale
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        minimum = max(1, int(self.min_size * scale))
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(minimum, minimum)
        )
        boxes = [tuple(int(round(v / scale)) for v in box) for box in found]
        return sorted(boxes, key=lambda b: -b[2] * b[3])


def clip_box(box: Box, height: int, width: int) -> Box:
    """`box` clipped to a height × width frame (zero width or height when it lies outside)."""
    x, y, w, h = box
    left, top = min(max(0, x), width), min(max(0, y), height)
    right, bottom = max(left, min(width, x + w)), max(top, min(height, y + h))
    return left, top, right - left, bottom - top


def crop(frame: np.ndarray, box: Box, margin: float = 0.0) -> np.ndarray:
    """The part of `frame` inside `box`, grown by `margin` of its size on each side and clipped."""
    x, y, w, h = box
    dx, dy = int(w * margin), int(h * margin)
    left, top, w, h = clip_box((x - dx, y - dy, w + 2 * dx, h + 2 * dy), *frame.shape[:2])
    return frame[top : top + h, left : left + w]
