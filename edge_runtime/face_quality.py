"""A face quality gate: faces too small, too blurred or turned away are skipped, not misrecognised.

Both measures are taken on the face scaled to a fixed size, so they do not depend on its size:
sharpness is the variance of the Laplacian, frontality the correlation of the face with its mirror
image (a face turned aside is not left-right symmetric).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MEASURE_SIZE = 64
SKIP_REASONS = {"small": "too small", "blurred": "too blurred", "turned": "turned away"}


def _gray(region: np.ndarray) -> np.ndarray:
    gray = region if region.ndim == 2 else cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (MEASURE_SIZE, MEASURE_SIZE), interpolation=cv2.INTER_AREA)


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a 64×64 grayscale face (low: blurred)."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def frontality(gray: np.ndarray) -> float:
    """Correlation (-1..1) between a 64×64 grayscale face and its mirror image (low: turned away)."""
    gray = cv2.equalizeHist(gray).astype(np.float64)
    mirror = gray[:, ::-1]
    a, b = gray - gray.mean(), mirror - mirror.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / norm) if norm > 0 else 0.0


@dataclass(frozen=True)
class QualityGate:
    """Thresholds below which a face is skipped (0 turns the size and sharpness checks off, -1 the
    frontality check).

    The defaults were set on 300 random LFW faces: they pass 95% of them and stop 83% of the same
    faces blurred by a Gaussian of sigma 3 pixels (`python -m benchmarks.faces.gate_check`).
    """

    min_size: int = 64
    min_sharpness: float = 60.0
    min_frontality: float = -0.2

    def reason(self, region: np.ndarray) -> str | None:
        """Why the face should be skipped ("small", "blurred", "turned"), or None if it is usable."""
        if region.size == 0 or min(region.shape[:2]) < self.min_size:
            return "small"
        gray = _gray(region)
        if self.min_sharpness and sharpness(gray) < self.min_sharpness:
            return "blurred"
        if self.min_frontality > -1 and frontality(gray) < self.min_frontality:
            return "turned"
        return None
