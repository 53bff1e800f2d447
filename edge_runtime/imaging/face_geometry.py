"""The geometry of cutting a face: the similarity between two sets of points, the matrix that cuts a
face chip onto a template, and the warp itself."""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge_runtime.imaging.detectors import clip_box

MAX_WARP_SHRINK = 2.0  # a face shrunk more than this is first resized with area averaging


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2×3 similarity (rotation, uniform scale, shift; no reflection) taking points `source`
    (K×2) nearest to `target` in least squares."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_mean, target - target_mean
    norm = (s * s).sum()
    a = (s * t).sum() / norm
    b = (s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum() / norm
    matrix = np.array([[a, -b], [b, a]])
    return np.hstack([matrix, (target_mean - matrix @ source_mean)[:, None]])


def chip_transform(points: np.ndarray, template: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The 2×3 matrix taking frame pixels to a `size` (width, height) chip in which `points` lie
    nearest to `template` (fractions of the chip), for `cv2.warpAffine`.

    dlib's convention (get_face_chip_details, extract_image_chip), so that the chips are the ones
    dlib's face ResNet was trained on: with s frame pixels per chip unit, the chip spans size·s
    frame pixels about its centre, and its first and last pixels lie on that span's ends.
    """
    width, height = size
    to_frame = similarity_transform(np.asarray(template, np.float64) * (width, height), points)
    scale = math.sqrt(abs(np.linalg.det(to_frame[:, :2])))
    spans = np.array([(width * scale - 1) / (width - 1), (height * scale - 1) / (height - 1)])
    linear = to_frame[:, :2] / scale * spans  # frame pixels per chip pixel, along each chip axis
    centre = to_frame[:, :2] @ (width / 2, height / 2) + to_frame[:, 2]
    shift = centre - linear @ ((width - 1) / 2, (height - 1) / 2)
    inverse = np.linalg.inv(linear)
    return np.hstack([inverse, (-inverse @ shift)[:, None]])


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
            matrix[:, 2] += matrix[:, :2] @ (np.array([left, top]) + 0.5 / factor - 0.5)
            matrix[:, :2] /= factor
            frame = region
    return cv2.warpAffine(frame, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
