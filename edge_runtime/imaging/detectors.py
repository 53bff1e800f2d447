"""What to recognise in a frame: a fixed ROI, all of it, or faces (`edge_runtime.faces.face_detection`).

Every detector (`Detector`) maps a BGR frame to a list of `Detection`s: a box `(x, y, w, h)` in
pixels, a score and, for faces, landmarks; and gives a detector of its own to each further thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge_runtime.core.errors import SiameseEdgeError

Box = tuple[int, int, int, int]


class DetectorError(SiameseEdgeError):
    """A detector cannot be made from what was asked for."""


@dataclass(frozen=True)
class Detection:
    """A found region: its box, the detector's confidence and, for faces, landmarks.

    `landmarks` is a K×2 float array in frame pixels, in YuNet's order: the subject's right eye
    (on the image's left), left eye, nose tip, right and left mouth corners; a detector that finds
    only the eyes gives the first two.
    """

    box: Box
    score: float = 1.0
    landmarks: np.ndarray | None = None


class Detector(Protocol):
    """What `regions.RegionFinder` asks of a detector."""

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """The regions found in a BGR (or gray) frame."""

    def fresh(self) -> Detector:
        """An equal detector to use beside this one in another thread (itself, if it keeps no state)."""


class WholeFrame:
    """The whole frame is the one region to recognise."""

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """One box covering the frame."""
        return [Detection((0, 0, frame.shape[1], frame.shape[0]))]

    def fresh(self) -> WholeFrame:
        """A detector for another thread: this one, which keeps nothing between calls."""
        return self


class FixedRegion:
    """A fixed region of interest (`--roi x,y,w,h`), clipped to the frame."""

    def __init__(self, box: Box) -> None:
        x, y, w, h = box
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            raise DetectorError(f"region {box} needs x, y >= 0 and a positive width and height")
        self.box = box

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """The region, clipped to the frame (none if it lies outside)."""
        x, y, w, h = self.box
        height, width = frame.shape[:2]
        w, h = min(w, width - x), min(h, height - y)
        return [Detection((x, y, w, h))] if w > 0 and h > 0 else []

    def fresh(self) -> FixedRegion:
        """A detector for another thread: this one, which keeps nothing between calls."""
        return self


def box_centre(box: Box) -> np.ndarray:
    """The centre (x, y) of a box (x, y, w, h)."""
    x, y, w, h = box
    return np.array([x + w / 2, y + h / 2])


def box_area(box: Box) -> int:
    """The area of an (x, y, w, h) box, in pixels."""
    return box[2] * box[3]


def box_overlap(a: Box, b: Box) -> int:
    """The area two (x, y, w, h) boxes share, in pixels."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return max(0, right - left) * max(0, bottom - top)


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
