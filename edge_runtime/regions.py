"""What the recognizer embeds: detected regions of a frame, cut (faces with their eyes level) and
checked for quality; regions that fail the check are kept with the reason and not embedded.
An image too small or too flat to hold anything (`image_problem`) yields no region, whatever the
detector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.detectors import Box, DetectorError, FaceDetector, FixedRegion, WholeFrame, crop
from edge_runtime.face_alignment import FaceAligner
from edge_runtime.face_quality import QualityGate

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
    """A detected region: its box, its pixels as the model should see them, and why it was skipped."""

    box: Box
    image: np.ndarray
    skipped: str | None = None


class RegionFinder:
    """Detect, cut and check: `detector` finds boxes, `aligner` cuts them, `gate` vets them."""

    def __init__(self, detector=None, aligner: FaceAligner | None = None, gate: QualityGate | None = None) -> None:
        self.detector = detector or WholeFrame()
        self.aligner, self.gate = aligner, gate

    def detect(self, frame: np.ndarray) -> list[Box]:
        """The detector's boxes, largest first for faces (none in an image with `image_problem`)."""
        if image_problem(frame) or min(frame.shape[:2]) < getattr(self.detector, "min_size", 0):
            return []
        return self.detector.detect(frame)

    def cut(self, frame: np.ndarray, boxes: list[Box]) -> list[Region]:
        """The region of each box, with the quality gate's verdict."""
        regions = []
        for box in boxes:
            image = self.aligner.cut(frame, box) if self.aligner else crop(frame, box)
            regions.append(Region(box, image, self.gate.reason(image) if self.gate else None))
        return regions

    def find(self, frame: np.ndarray) -> list[Region]:
        """Every region of `frame`."""
        return self.cut(frame, self.detect(frame))

    def largest(self, frame: np.ndarray) -> Region | None:
        """The largest region (what an enrollment photo is taken to show), or None."""
        boxes = self.detect(frame)
        return self.cut(frame, boxes[:1])[0] if boxes else None


DEFAULT_GATE = QualityGate()


def face_regions(min_face: int = DEFAULT_GATE.min_size, gate: QualityGate | None = None) -> RegionFinder:
    """Faces from the Haar detector (`min_face` pixels and up), levelled by their eyes, optionally
    vetted by `gate`."""
    return RegionFinder(FaceDetector(min_size=min_face), FaceAligner(), gate)


def make_regions(
    kind: str,
    detector: str = "auto",
    roi: Box | None = None,
    min_face: int = DEFAULT_GATE.min_size,
    gate: QualityGate | None = DEFAULT_GATE,
) -> RegionFinder:
    """The regions for `--detector auto|face|none` and `--roi`: auto follows the model's kind; the
    quality gate applies to faces only."""
    if roi is not None:
        return RegionFinder(FixedRegion(roi))
    if detector == "auto":
        detector = "face" if kind == "face" else "none"
    if detector == "face":
        return face_regions(min_face, gate)
    if detector == "none":
        return RegionFinder(WholeFrame())
    raise DetectorError(f"unknown detector {detector!r}; choose auto, face or none (or give --roi)")
