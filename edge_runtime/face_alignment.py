"""Cutting a detected face the way its model wants it.

A model with a `face_template` in its input spec gets each face warped by the similarity (rotation,
uniform scale, shift) that best takes the face's landmarks onto the template: five points with
YuNet, the two eyes with the Haar fallback. A model without one (the older ones, trained on
Haar boxes) gets the box cut with the eyes levelled. Training crops, enrollment and the benchmarks
cut faces with this same code, so a model sees at run time what it saw in training.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.detectors import Box, Detection, clip_box, crop
from edge_runtime.errors import SiameseEdgeError
from edge_runtime.preprocessing import InputSpec

TEMPLATE_FILE = "face_template.json"  # beside a folder of face crops: the template they were cut to
MIN_LEVEL_ANGLE = 2.0  # tilts smaller than this (degrees) are cut without rotating
MAX_WARP_SHRINK = 2.0  # a face shrunk more than this is first resized with area averaging


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2×3 similarity taking points `source` (K×2) nearest to `target` in least squares (Umeyama)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - source_mean, target - target_mean
    u, singular, vt = np.linalg.svd(centred_target.T @ centred_source / len(source))
    reflection = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ np.diag(reflection) @ vt
    scale = (singular * reflection).sum() / centred_source.var(axis=0).sum()
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, None]])


def warp_face(frame: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`frame` warped by the 2×3 `matrix` into a `size` (width, height) image.

    Bilinear warping aliases when it shrinks a face a lot (a close face in a large frame), so such
    a face is first cut out and resized with area averaging, and the warp does the rest.
    """
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale * MAX_WARP_SHRINK < 1.0:
        width, height = size
        corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
        inverse = cv2.invertAffineTransform(matrix)
        spots = corners @ inverse[:, :2].T + inverse[:, 2]
        left, top = np.floor(spots.min(axis=0)).astype(int)
        right, bottom = np.ceil(spots.max(axis=0)).astype(int)
        left, top, w, h = clip_box((left, top, right - left, bottom - top), *frame.shape[:2])
        if w > 0 and h > 0:
            factor = scale * MAX_WARP_SHRINK
            region = cv2.resize(frame[top : top + h, left : left + w], None, fx=factor, fy=factor,
                                interpolation=cv2.INTER_AREA)  # fmt: skip
            # a pixel q of the resized region shows the frame at (q + 0.5) / factor - 0.5 + (left, top)
            matrix = matrix.copy()
            offset = matrix[:, :2] @ (np.array([left, top]) + 0.5 / factor - 0.5)
            matrix[:, 2] += offset
            matrix[:, :2] /= factor
            frame = region
    return cv2.warpAffine(frame, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def eye_angle(eyes: np.ndarray) -> float:
    """The tilt of the eye line (image-left eye first), in degrees (positive: the image-right eye is lower)."""
    (lx, ly), (rx, ry) = eyes[:2]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def level_crop(frame: np.ndarray, box: Box, angle: float) -> np.ndarray:
    """The `box` region of `frame` after rotating the frame by `angle` degrees about the box centre."""
    x, y, w, h = box
    matrix = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, 1.0)
    matrix[:, 2] -= (x, y)
    return cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class FaceCutter:
    """Cut faces as a model's input spec says: warped onto its `face_template`, or boxes levelled by the eyes."""

    def __init__(self, spec: InputSpec | None = None) -> None:
        self.size = (spec.width, spec.height) if spec is not None else None
        template = spec.face_template if spec is not None else None
        self.template = None if template is None else np.array(template, np.float64) * self.size

    def cut(self, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """The face of `detection`, as the model wants to see it."""
        points = detection.landmarks
        if self.template is not None and points is not None and len(points) >= 2:
            matrix = similarity_transform(points.astype(np.float64), self.template[: len(points)])
            return warp_face(frame, matrix, self.size)
        box = clip_box(detection.box, *frame.shape[:2])
        angle = eye_angle(points) if points is not None and len(points) >= 2 else 0.0
        return level_crop(frame, box, angle) if abs(angle) >= MIN_LEVEL_ANGLE else crop(frame, box)


def read_face_template(path: str | Path) -> tuple[tuple[float, float], ...]:
    """The `face_template` of a JSON file (five [x, y] fractions of the crop), checked."""
    path = Path(path)
    try:
        points = json.loads(path.read_text())["face_template"]
        return InputSpec(8, 8, 3, (0, 0, 0), (1, 1, 1), face_template=tuple(tuple(p) for p in points)).face_template
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SiameseEdgeError(f"cannot read a face template from {path}: {error}") from None
