"""The face cut and its quality gate on real LFW faces: eyes found and levelled, blurred, small and
turned-away faces skipped, and skipped faces never named."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_runtime.detectors import FaceDetector, WholeFrame
from edge_runtime.face_alignment import FaceAligner, eye_angle
from edge_runtime.face_quality import QualityGate
from edge_runtime.preprocessing import read_image
from edge_runtime.recognizer import UNKNOWN, Recognition
from edge_runtime.regions import make_regions
from edge_runtime.tracker import IouTracker

LFW = Path(__file__).resolve().parents[1] / "data" / "demo" / "lfw"
FACES = sorted((LFW / "enrolled").glob("*/*.jpg"))


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def test_a_tilted_face_is_cut_with_its_eyes_level():
    detector, aligner = FaceDetector(min_size=40), FaceAligner()
    tilts, residuals = [], []
    for path in FACES:
        tilted = _rotate(read_image(path), 12)  # counter-clockwise: the image-right eye rises
        boxes = detector.detect(tilted)
        eyes = aligner.eyes.find(tilted, boxes[0]) if boxes else None
        if eyes is None:
            continue
        tilts.append(eye_angle(eyes))
        cut = aligner.cut(tilted, boxes[0])
        again = aligner.eyes.find(cut, (0, 0, cut.shape[1], cut.shape[0]))
        if again is not None:
            residuals.append(abs(eye_angle(again)))
    assert len(tilts) >= 6 and len(residuals) >= 4
    assert -15 < np.median(tilts) < -9  # the eye cascade is noisy face by face, right on the whole
    assert np.median(residuals) < 4


def test_the_quality_gate_passes_good_faces_and_names_what_is_wrong():
    finder = make_regions("face", gate=QualityGate())
    regions = [finder.largest(read_image(path)) for path in FACES]
    assert all(r is not None and r.skipped is None for r in regions)
    gate = QualityGate()
    face = regions[0].image
    assert gate.reason(cv2.GaussianBlur(face, (0, 0), 3)) == "blurred"
    assert gate.reason(cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)) == "small"
    turned = finder.largest(read_image(next((LFW / "turned").glob("*/*.jpg"))))
    assert turned.skipped == "turned"
    assert QualityGate(min_frontality=-1).reason(turned.image) is None


@pytest.mark.parametrize(("kind", "expected"), [("face", FaceDetector), ("identity", WholeFrame)])
def test_auto_regions_follow_the_model_kind(kind, expected):
    finder = make_regions(kind)
    assert isinstance(finder.detector, expected)
    assert (finder.aligner is not None) == (kind == "face")


def test_a_track_seen_only_as_skipped_is_never_named():
    tracker = IouTracker(smooth=3, min_votes=1)
    box = (10, 10, 50, 50)
    first = tracker.update([Recognition(box, UNKNOWN, 0.0, skipped="blurred")])
    assert first[0].name == UNKNOWN and first[0].skipped == "blurred" and not first[0].is_new
    second = tracker.update([Recognition(box, "ada", 0.8)])
    assert second[0].name == "ada" and second[0].is_new
    third = tracker.update([Recognition(box, UNKNOWN, 0.0, skipped="turned")])  # someone else could stand there
    assert third[0].name == UNKNOWN and not third[0].is_new and third[0].skipped == "turned"
    fourth = tracker.update([Recognition(box, "ada", 0.7)])
    assert fourth[0].name == "ada" and not fourth[0].is_new and fourth[0].track_id == first[0].track_id
