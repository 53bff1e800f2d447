"""Cutting a detected face the way its model wants it.

A model with a `face_template` in its input spec gets each face warped by the similarity that best
takes five landmarks onto the template (`face_geometry.chip_transform`). Which five the spec says:
dlib's ("dlib5": eye corners and the bottom of the nose, found by `face_landmarks.DlibShapePredictor`
in the detected face, which follows a tilted head) or YuNet's own ("yunet": eye centres, nose tip,
mouth corners; they barely turn with a tilted head). The Haar fallback gives only the eyes, and its
faces are warped from those two points. A model without a template (the older ones, trained on
Haar boxes) gets the box cut with the eyes levelled. Training crops, enrollment and the benchmarks
cut faces with this same code, so a model sees at run time what it saw in training.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.core.atomic import atomic_write_bytes
from edge_runtime.core.bundled import packaged_model
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.faces.face_landmarks import DLIB_CHIP_TEMPLATE, DlibShapePredictor, FivePointLocator
from edge_runtime.faces.landmark_net import LandmarkNet
from edge_runtime.imaging.detectors import Box, Detection, clip_box, crop
from edge_runtime.imaging.face_geometry import chip_transform, warp_face
from edge_runtime.imaging.preprocessing import InputSpec

TEMPLATE_FILE = "face_template.json"  # beside a folder of face crops: the template they were cut to
# What finds dlib's five points (`--landmarks`): dlib's own cascade, exact, or the network trained on
# its points, which aligns a crowd several times faster
LANDMARK_LOCATORS = {
    "dlib": (DlibShapePredictor, "shape_predictor_5_face_landmarks.npz"),
    "net": (LandmarkNet, "face_landmarks_net.onnx"),
}
LANDMARKS = tuple(LANDMARK_LOCATORS)
MIN_LEVEL_ANGLE = 2.0  # tilts smaller than this (degrees) are cut without rotating
Template = tuple[tuple[tuple[float, float], ...], str]  # (five points as fractions, which landmarks)
DLIB_TEMPLATE: Template = (tuple(map(tuple, DLIB_CHIP_TEMPLATE.round(6).tolist())), "dlib5")


def landmark_locator(name: str = "dlib", path: str | Path | None = None) -> FivePointLocator:
    """What finds dlib's five points: `dlib` or `net` (`LANDMARKS`), the packaged model or the one at `path`."""
    if name not in LANDMARK_LOCATORS:
        raise SiameseEdgeError(f"unknown landmarks {name!r}; choose {', '.join(LANDMARKS)}")
    locator, model = LANDMARK_LOCATORS[name]
    return locator(path or packaged_model(model))


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


def turned(image: np.ndarray, degrees: float) -> np.ndarray:
    """`image` turned counter-clockwise by `degrees` about its centre, edges replicated (a tilted head);
    its shape kept, one channel included."""
    height, width = image.shape[:2]
    return level_crop(image, (0, 0, width, height), degrees).reshape(image.shape)


def cut_by_dlib_points(spec: InputSpec) -> bool:
    """Whether a model's faces are cut onto a template of dlib's five points (found by `--landmarks`)."""
    return spec.face_template is not None and spec.face_landmarks == "dlib5"


class FaceCutter:
    """Cut faces as a model's input spec says: warped onto its `face_template`, or boxes levelled by the eyes."""

    def __init__(self, spec: InputSpec | None = None, landmarks: str | None = "dlib") -> None:
        """`landmarks` names what finds dlib's five points (`LANDMARKS`) for a template of dlib's
        points; None for a detector that gives no five points to start from (Haar's)."""
        self.size = (spec.width, spec.height) if spec is not None else None
        template = spec.face_template if spec is not None else None
        self.template = None if template is None else np.array(template, np.float64)
        self.dlib_points = spec is not None and cut_by_dlib_points(spec)
        self.landmarks: FivePointLocator | None = None
        if self.dlib_points and landmarks is not None:
            self.landmarks = landmark_locator(landmarks)
        self.landmark_method = landmarks if self.landmarks is not None else ""

    def points(self, frame: np.ndarray, detections: list[Detection]) -> list[np.ndarray | None]:
        """The landmarks the template places for each detection, in frame pixels (the Haar fallback's
        two eyes), or None; dlib's landmarks of all the frame's faces are found at once."""
        found = [detection.landmarks for detection in detections]
        if self.landmarks is None:
            return found
        five = [i for i, points in enumerate(found) if points is not None and len(points) == 5]
        located = self.landmarks.predict_detections(frame, [detections[i] for i in five], subpixel=True)
        for i, points in zip(five, located, strict=True):
            found[i] = points
        return found

    def cut(self, frame: np.ndarray, detection: Detection) -> np.ndarray:
        """The face of `detection`, as the model wants to see it."""
        return self.cut_all(frame, [detection])[0]

    def cut_all(self, frame: np.ndarray, detections: list[Detection]) -> list[np.ndarray]:
        """The faces of `detections`, as the model wants to see them."""
        found = self.points(frame, detections)
        return [self._cut(frame, detection, points) for detection, points in zip(detections, found, strict=True)]

    def _cut(self, frame: np.ndarray, detection: Detection, points: np.ndarray | None) -> np.ndarray:
        if self.template is not None and points is not None and len(points) >= 2:
            template = self.template if len(points) == 5 else self._eyes_of_template()
            return warp_face(frame, chip_transform(points, template, self.size), self.size)
        box = clip_box(detection.box, *frame.shape[:2])
        angle = eye_angle(points) if points is not None and len(points) >= 2 else 0.0
        return level_crop(frame, box, angle) if abs(angle) >= MIN_LEVEL_ANGLE else crop(frame, box)

    def _eyes_of_template(self) -> np.ndarray:
        """Where the template puts the eye centres (image-left first), for the Haar fallback's two eyes."""
        if not self.dlib_points:  # YuNet's order: the subject's right eye (image left), then left
            return self.template[:2]
        corners = self.template[:4]  # dlib's order: image-right eye's outer, inner; image-left eye's outer, inner
        return np.array([corners[2:4].mean(axis=0), corners[0:2].mean(axis=0)])


def read_face_template(path: str | Path) -> Template:
    """The template of a JSON file: `face_template` (five [x, y] fractions of the crop) and
    `face_landmarks` (which five: "yunet" when absent), checked."""
    path = Path(path)
    try:
        values = json.loads(path.read_text())
        spec = InputSpec(8, 8, 3, (0, 0, 0), (1, 1, 1), face_template=tuple(tuple(p) for p in values["face_template"]),
                         face_landmarks=values.get("face_landmarks", "yunet"))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SiameseEdgeError(f"cannot read a face template from {path}: {error}") from None
    return spec.face_template, spec.face_landmarks


def folder_template(folder: str | Path) -> Template | None:
    """The template a folder of face crops was cut to (its `face_template.json`), or None."""
    path = Path(folder) / TEMPLATE_FILE
    return read_face_template(path) if path.is_file() else None


def template_spec(template: Template, size: int = 150) -> InputSpec:
    """An input spec that cuts faces onto `template` at size×size, for tools that cut faces without a model."""
    points, landmarks = template
    return InputSpec(size, size, 3, (0.5,) * 3, (0.5,) * 3, face_template=points, face_landmarks=landmarks)


def named_template(name: str) -> Template:
    """`dlib` (dlib's own face chip, from its 5-point landmarks) or the path of a template JSON file."""
    return DLIB_TEMPLATE if name == "dlib" else read_face_template(name)


def write_face_template(path: str | Path, template: Template) -> None:
    """Write a template as `read_face_template` reads it."""
    points, landmarks = template
    text = json.dumps({"face_template": [list(p) for p in points], "face_landmarks": landmarks}) + "\n"
    atomic_write_bytes(path, text.encode())
