"""What the recognizer embeds: the regions of a frame found by a detector, cut as the model wants
them (faces aligned to its template) and checked for quality; regions that fail the check are
kept with the reason and not embedded. An image too small or too flat to hold anything
(`image_problem`) yields no region, whatever the detector."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edge_runtime.faces.face_alignment import FaceCutter, cut_by_dlib_points
from edge_runtime.faces.face_detection import HaarFaceDetector, YuNetDetector
from edge_runtime.faces.face_quality import QualityGate
from edge_runtime.imaging.detectors import Box, Detection, Detector, DetectorError, FixedRegion, WholeFrame, crop
from edge_runtime.imaging.preprocessing import InputSpec
from edge_runtime.inference.model_info import ModelInfo

log = logging.getLogger(__name__)

DETECTORS = ("auto", "face", "haar", "none")
MIN_IMAGE_SIDE = 8  # no model input is smaller; a thinner image is a strip, not a picture


def image_problem(image: np.ndarray) -> str | None:
    """Why `image` holds nothing to recognise (too small, a thin strip, one flat colour), or None."""
    height, width = image.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        side = MIN_IMAGE_SIDE
        return f"the image is {width}x{height} pixels, too small to recognise anything ({side}x{side} at least)"
    if image.min() == image.max():
        return "the image is one flat colour: nothing to recognise"
    return None


@dataclass(frozen=True)
class Region:
    """A detected region: what was found, its pixels as the model should see them, and why it was skipped."""

    detection: Detection
    image: np.ndarray
    skipped: str | None = None

    @property
    def box(self) -> Box:
        """The region's box in frame pixels."""
        return self.detection.box


class RegionFinder:
    """Detect, cut and check: `detector` finds regions, `cutter` cuts faces, `gate` vets them."""

    def __init__(
        self, detector: Detector | None = None, cutter: FaceCutter | None = None, gate: QualityGate | None = None
    ) -> None:
        self.detector = detector or WholeFrame()
        self.cutter, self.gate = cutter, gate

    @property
    def landmark_method(self) -> str:
        """What finds the five points faces are cut by (`--landmarks`), or "" where none are looked for."""
        return self.cutter.landmark_method if self.cutter is not None else ""

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """The detector's findings, largest first for faces (none in an image with `image_problem`)."""
        if image_problem(frame) or min(frame.shape[:2]) < getattr(self.detector, "min_size", 0):
            return []
        return self.detector.detect(frame)

    def cut(self, frame: np.ndarray, detections: list[Detection]) -> list[Region]:
        """The region of each detection, with the quality gate's verdict."""
        images = self.cutter.cut_all(frame, detections) if self.cutter else [crop(frame, d.box) for d in detections]
        return [Region(found, image, self.gate.reason(found, image) if self.gate else None)
                for found, image in zip(detections, images, strict=True)]  # fmt: skip

    def find(self, frame: np.ndarray) -> list[Region]:
        """Every region of `frame`."""
        return self.cut(frame, self.detect(frame))

    def for_another_thread(self) -> RegionFinder:
        """A finder to use beside this one in another thread (each stream detects in its own): the
        same cutter and gate, and a detector of its own, since OpenCV's detectors keep state per call."""
        return RegionFinder(self.detector.fresh(), self.cutter, self.gate)

    def largest(self, frame: np.ndarray) -> Region | None:
        """The largest region (what an enrollment photo is taken to show), or None."""
        detections = self.detect(frame)
        return self.cut(frame, detections[:1])[0] if detections else None


DEFAULT_GATE = QualityGate()
DEFAULT_MIN_SCORE = 0.6


def face_regions(
    spec: InputSpec,
    detector: str = "face",
    min_face: int = DEFAULT_GATE.min_size,
    gate: QualityGate | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
    landmarks: str = "dlib",
) -> RegionFinder:
    """Faces of `min_face` pixels and up found by YuNet (`face`) or the Haar cascade (`haar`), cut as
    a model with input `spec` wants them (dlib's points found by `landmarks`), optionally vetted by `gate`."""
    if detector == "haar":  # no five points to start from: dlib's are never looked for
        return RegionFinder(HaarFaceDetector(min_face), FaceCutter(spec, None), gate)
    return RegionFinder(YuNetDetector(min_face, min_score), FaceCutter(spec, landmarks), gate)


def make_regions(
    info: ModelInfo,
    detector: str = "auto",
    roi: Box | None = None,
    min_face: int = DEFAULT_GATE.min_size,
    gate: QualityGate | None = DEFAULT_GATE,
    min_score: float = DEFAULT_MIN_SCORE,
    landmarks: str = "dlib",
) -> RegionFinder:
    """The regions for `--detector auto|face|haar|none`, `--roi` and `--landmarks`; the quality gate applies
    to faces only.

    auto: for a face model with a face template, YuNet; for an older face model without one (trained
    on Haar boxes), the Haar cascade it was trained with; for other models, the whole image.
    """
    if detector == "auto":
        detector = "none" if info.kind != "face" else "face" if info.spec.face_template else "haar"
    if detector not in DETECTORS:
        raise DetectorError(f"unknown detector {detector!r}; choose {', '.join(DETECTORS)} (or give --roi)")
    idle = _landmarks_idle(info.spec, detector, roi)
    if landmarks != "dlib" and idle:
        log.warning("--landmarks %s changes nothing here: %s", landmarks, idle)
    if roi is not None:
        return RegionFinder(FixedRegion(roi))
    if detector in ("face", "haar"):
        return face_regions(info.spec, detector, min_face, gate, min_score, landmarks)
    return RegionFinder(WholeFrame())


def _landmarks_idle(spec: InputSpec, detector: str, roi: Box | None) -> str | None:
    """Why no five points of dlib's are looked for with these settings (--landmarks is idle), or None."""
    if roi is not None:
        return "--roi cuts a fixed region, no face"
    if detector == "none":
        return "the model's regions are whole images, not faces"
    if detector == "haar":
        return "the Haar detector gives no five points to start from"
    if not cut_by_dlib_points(spec):
        return "the model's faces are cut by the detector's own points, not dlib's"
    return None
