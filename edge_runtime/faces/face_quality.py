"""A face quality gate: faces too small, too blurred or turned away are skipped, not misrecognised.

Size is the detected box's shorter side in frame pixels. Sharpness is the variance of the
Laplacian of the cut face scaled to 64×64, so it does not depend on the face's size. Frontality
comes from the landmarks: on a face seen from the front the nose tip lies midway between the eyes;
turned aside, it moves toward one eye. It is 1 for a frontal face and 0 when the nose is in line
with an eye (without a nose landmark, as with the Haar detector, it is not checked: that cascade
only finds frontal faces).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_runtime.imaging.detectors import Detection

MEASURE_SIZE = 64
SKIP_REASONS = {"small": "too small", "blurred": "too blurred", "turned": "turned away"}


def sharpness(face: np.ndarray) -> float:
    """Variance of the Laplacian of the face as a 64×64 grayscale image (low: blurred)."""
    gray = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    gray = cv2.resize(gray, (MEASURE_SIZE, MEASURE_SIZE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def frontality(landmarks: np.ndarray) -> float:
    """1 when the nose tip lies midway between the eyes along the eye line, 0 when it is in line with an eye."""
    right_eye, left_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    axis = left_eye - right_eye
    length = float(axis @ axis)
    if length <= 0:
        return 0.0
    along = float((nose - right_eye) @ axis) / length  # 0 at one eye, 1 at the other
    return 1.0 - 2.0 * abs(along - 0.5)


@dataclass(frozen=True)
class QualityGate:
    """Thresholds below which a face is skipped (0 turns a check off).

    The defaults pass 97% of the faces of 600 LFW images of people in no View 2 fold (cut onto the
    default model's template: dlib's chip); how they do on other people's faces is in README ("Quality gate",
    `python -m benchmarks.faces.gate_check`).
    """

    min_size: int = 64
    min_sharpness: float = 135.0
    min_frontality: float = 0.34

    def reason(self, detection: Detection, face: np.ndarray) -> str | None:
        """Why the face of `detection`, cut as `face`, should be skipped ("small", "blurred", "turned"), or None."""
        if face.size == 0 or min(detection.box[2:]) < self.min_size:
            return "small"
        if self.min_sharpness and sharpness(face) < self.min_sharpness:
            return "blurred"
        landmarks = detection.landmarks
        has_nose = landmarks is not None and len(landmarks) >= 3
        if self.min_frontality and has_nose and frontality(landmarks) < self.min_frontality:
            return "turned"
        return None
