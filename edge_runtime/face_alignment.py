"""Eye landmarks for a detected face, and the face cut out with its eyes level.

OpenCV's Haar face detector gives boxes, not landmarks, so the eyes are found with OpenCV's eye
cascade (shipped with the package) inside the upper half of the box. When both are found in a
plausible place, the face is rotated about the box centre until they are level; otherwise the box
is cut as it is. Training crops (`benchmarks/faces/prepare.py`) are cut by the same function.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge_runtime.detectors import Box, DetectorError, clip_box, crop, packaged_model

EYE_CASCADE = "haarcascade_eye.xml"
SEARCH_WIDTH = 120  # faces are searched for eyes at this width, whatever their size
Point = tuple[float, float]


class EyeFinder:
    """The two eyes of a detected face, in frame coordinates (image-left eye first), or None."""

    def __init__(self) -> None:
        self.cascade = cv2.CascadeClassifier(packaged_model(EYE_CASCADE))
        if self.cascade.empty():
            raise DetectorError(f"cannot load the eye detector {packaged_model(EYE_CASCADE)}")

    def find(self, frame: np.ndarray, box: Box) -> tuple[Point, Point] | None:
        """Both eyes of the face in `box` (inside the frame), or None when either is missing or implausible."""
        x, y, w, h = box
        top = y + int(0.15 * h)
        band = crop(frame, (x, top, w, int(0.45 * h)))
        if band.size == 0 or w < 8:
            return None
        gray = band if band.ndim == 2 else cv2.cvtColor(band, cv2.COLOR_BGR2GRAY)
        scale = SEARCH_WIDTH / w
        gray = cv2.equalizeHist(cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        found = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3, minSize=(14, 14), maxSize=(50, 50))
        centres = [((ex + ew / 2) / scale + x, (ey + eh / 2) / scale + top) for ex, ey, ew, eh in found]
        expected_y = y + 0.38 * h
        left = [c for c in centres if c[0] < x + w / 2]
        right = [c for c in centres if c[0] >= x + w / 2]
        if not left or not right:
            return None
        eye_l = min(left, key=lambda c: abs(c[0] - (x + 0.3 * w)) + abs(c[1] - expected_y))
        eye_r = min(right, key=lambda c: abs(c[0] - (x + 0.7 * w)) + abs(c[1] - expected_y))
        dx, dy = eye_r[0] - eye_l[0], eye_r[1] - eye_l[1]
        if not 0.25 * w <= dx <= 0.65 * w or abs(dy) > 0.4 * dx:
            return None
        return eye_l, eye_r


def eye_angle(eyes: tuple[Point, Point]) -> float:
    """The tilt of the line through the eyes, in degrees (positive: the image-right eye is lower)."""
    (lx, ly), (rx, ry) = eyes
    return math.degrees(math.atan2(ry - ly, rx - lx))


def level_crop(frame: np.ndarray, box: Box, angle: float) -> np.ndarray:
    """The `box` region of `frame` after rotating the frame by `angle` degrees about the box centre."""
    x, y, w, h = box
    matrix = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, 1.0)
    matrix[:, 2] -= (x, y)
    return cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class FaceAligner:
    """Cut a detected face with its eyes level (tilts under `min_angle` degrees are left alone)."""

    def __init__(self, min_angle: float = 2.0) -> None:
        self.eyes, self.min_angle = EyeFinder(), min_angle

    def cut(self, frame: np.ndarray, box: Box) -> np.ndarray:
        """The face in `box` (clipped to the frame), levelled by its eyes when both are found."""
        box = clip_box(box, *frame.shape[:2])
        eyes = self.eyes.find(frame, box)
        angle = eye_angle(eyes) if eyes else 0.0
        return level_crop(frame, box, angle) if abs(angle) >= self.min_angle else crop(frame, box)
