"""Finding and cutting faces on real LFW photos: YuNet's boxes and landmarks, faces warped onto a
model's template from dlib's five landmarks (what the default model wants), from YuNet's own, or
from the Haar fallback's two eyes; the quality gate's verdicts, the detector each kind of model
gets, and skipped faces never named."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_runtime.faces.face_alignment import (
    DLIB_TEMPLATE,
    FaceCutter,
    landmark_locator,
    read_face_template,
    template_spec,
)
from edge_runtime.faces.face_detection import HaarFaceDetector, YuNetDetector
from edge_runtime.faces.face_landmarks import DLIB_CHIP_TEMPLATE
from edge_runtime.faces.face_quality import QualityGate, frontality
from edge_runtime.faces.regions import make_regions
from edge_runtime.identity.recognizer import UNKNOWN, Recognition
from edge_runtime.identity.tracker import IouTracker
from edge_runtime.imaging.detectors import Detection, WholeFrame
from edge_runtime.imaging.face_geometry import chip_transform, similarity_transform
from edge_runtime.imaging.preprocessing import InputSpec, read_image
from edge_runtime.inference.model_info import ModelInfo

REPO = Path(__file__).resolve().parents[1]
LFW = REPO / "edge_runtime" / "demo_data" / "lfw"
FACES = sorted((LFW / "enrolled").glob("*/*.jpg"))
TEMPLATE_FILE = REPO / "benchmarks" / "faces" / "dlib_template.json"  # YuNet's own points
SPEC = template_spec(DLIB_TEMPLATE)  # dlib's five points onto dlib's chip: the default model's cut
YUNET_SPEC = template_spec(read_face_template(TEMPLATE_FILE))


def _info(kind: str, spec: InputSpec) -> ModelInfo:
    return ModelInfo(spec, 128, "cosine", 0.5, 1e-3, "0" * 16, "fp32", "test", "test", 2, "0", kind=kind)


def _rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def test_yunet_finds_every_demo_face_with_its_five_landmarks_in_place():
    detector = YuNetDetector(min_size=40)
    for path in FACES:
        found = detector.detect(read_image(path))
        assert found, path
        right_eye, left_eye, nose, mouth_right, mouth_left = found[0].landmarks
        assert right_eye[0] < nose[0] < left_eye[0]  # the subject's right eye is on the image's left
        assert max(right_eye[1], left_eye[1]) < nose[1] < min(mouth_right[1], mouth_left[1])
        assert found[0].score > 0.6


def test_the_similarity_transform_recovers_a_known_one():
    angle, scale, shift = np.radians(20), 0.7, np.array([12.0, -5.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = np.array([[40.0, 50], [90, 52], [66, 80], [45, 105], [88, 104]])
    matrix = similarity_transform(points, points @ rotation.T + shift)
    assert np.allclose(matrix, np.hstack([rotation, shift[:, None]]), atol=1e-9)


def _dlib_points_in(chip: np.ndarray) -> np.ndarray:
    """dlib's five landmarks of a cut face (padded, so that the detector sees it whole), in chip pixels."""
    padded = cv2.copyMakeBorder(chip, 75, 75, 75, 75, cv2.BORDER_REPLICATE)
    found = YuNetDetector(min_size=40).detect(padded)
    assert found
    predictor = landmark_locator("dlib")
    return predictor.predict_detection(padded, found[0], subpixel=True) - 75


def _yunet_points_in(chip: np.ndarray) -> np.ndarray:
    found = YuNetDetector(min_size=40).detect(cv2.copyMakeBorder(chip, 75, 75, 75, 75, cv2.BORDER_REPLICATE))
    assert found
    return found[0].landmarks - 75


def _eye_tilt(points: np.ndarray) -> float:
    """The eye line's tilt in degrees, from points in YuNet's order or dlib's (image-right eye first)."""
    (ax, ay), (bx, by) = (
        (points[0], points[1]) if len(points) == 2 or points[0][0] < points[1][0] else (points[2], points[0])
    )
    return float(np.degrees(np.arctan2(by - ay, bx - ax)))


def test_a_tilted_face_is_cut_upright_onto_dlibs_chip():
    finder = make_regions(_info("face", SPEC))
    template = DLIB_CHIP_TEMPLATE * 150
    tilts, errors = [], []
    for path in FACES[:10]:
        region = finder.largest(_rotate(read_image(path), 20))
        assert region is not None and region.image.shape == (150, 150, 3)
        points = _dlib_points_in(region.image)
        tilts.append(abs(_eye_tilt(points)))
        errors.append(float(np.linalg.norm(points - template, axis=1).mean()))
    print(f"cut faces: eye line tilt median {np.median(tilts):.1f} deg; landmarks {np.median(errors):.1f} px off")
    # measured: 0.9 degrees and 1.4 px from dlib's template (in a 150 px chip)
    assert np.median(tilts) < 3 and np.median(errors) < 3


def test_yunets_own_landmarks_barely_follow_a_tilt_which_is_why_dlibs_are_used():
    tilted = _rotate(read_image(FACES[0]), 20)
    yunet = YuNetDetector(min_size=64).detect(tilted)[0]
    dlib_points = landmark_locator("dlib").predict_detection(tilted, yunet, subpixel=True)
    upright = _eye_tilt(
        landmark_locator("dlib").predict_detection(
            read_image(FACES[0]), YuNetDetector(min_size=64).detect(read_image(FACES[0]))[0], subpixel=True
        )
    )
    assert abs(_eye_tilt(dlib_points) - upright + 20) < 4  # the image turned 20 degrees counter-clockwise
    assert abs(_eye_tilt(yunet.landmarks) - upright + 20) > 8


def test_a_model_with_a_yunet_template_is_cut_from_yunets_points():
    finder = make_regions(_info("face", YUNET_SPEC))
    assert finder.cutter.landmarks is None
    template = np.array(YUNET_SPEC.face_template) * 150
    errors = []
    for path in FACES[:8]:
        region = finder.largest(read_image(path))
        errors.append(float(np.linalg.norm(_yunet_points_in(region.image) - template, axis=1).mean()))
    # measured 6.9 px: YuNet's landmark noise, counted once in the photo and once in the chip
    assert np.median(errors) < 9


def test_the_haar_fallback_cuts_onto_the_template_from_the_eyes():
    finder = make_regions(_info("face", SPEC), detector="haar", min_face=40)
    template = DLIB_CHIP_TEMPLATE * 150
    errors, tilts = [], []
    for path in FACES:
        region = finder.largest(read_image(path))
        if region is not None and region.detection.landmarks is not None:
            assert region.image.shape == (150, 150, 3)
            points = _dlib_points_in(region.image)
            errors.append(float(np.linalg.norm(points - template, axis=1).mean()))
            tilts.append(abs(_eye_tilt(points)))
    print(f"Haar cuts: {len(errors)} with both eyes; {np.median(errors):.1f} px off the template")
    assert len(errors) >= 10  # its eye cascade finds both eyes in about half of the faces
    assert np.median(errors) < 12 and np.median(tilts) < 6


def test_a_close_face_in_a_large_frame_is_cut_as_from_a_small_one():
    image = read_image(FACES[0])
    found = YuNetDetector(min_size=40).detect(image)[0]
    big = cv2.resize(image, None, fx=5, fy=5, interpolation=cv2.INTER_CUBIC)
    scaled = Detection(tuple(5 * v for v in found.box), found.score, found.landmarks * 5 + 2)  # pixel centres
    cutter = FaceCutter(SPEC)
    small_cut, big_cut = cutter.cut(image, found).astype(float), cutter.cut(big, scaled).astype(float)
    matrix = chip_transform(cutter.points(big, [scaled])[0], cutter.template, (150, 150))
    direct = cv2.warpAffine(big, matrix, (150, 150), flags=cv2.INTER_LINEAR)
    assert np.abs(small_cut - big_cut).mean() < np.abs(small_cut - direct.astype(float)).mean()
    assert np.abs(small_cut - big_cut).mean() < 6


def test_frontality_is_one_when_the_nose_is_midway_and_zero_in_line_with_an_eye():
    eyes_nose = np.array([[40.0, 50], [100, 50], [70, 80], [50, 100], [90, 100]])
    assert frontality(eyes_nose) == pytest.approx(1.0)
    eyes_nose[2, 0] = 100
    assert frontality(eyes_nose) == pytest.approx(0.0)


def test_the_quality_gate_passes_good_faces_and_names_what_is_wrong():
    finder = make_regions(_info("face", SPEC), min_face=40, gate=QualityGate(min_size=40))  # as the subset was chosen
    regions = [finder.largest(read_image(path)) for path in FACES]
    assert all(r is not None and r.skipped is None for r in regions)
    gate, first = QualityGate(), regions[0]
    assert gate.reason(first.detection, cv2.GaussianBlur(first.image, (0, 0), 3)) == "blurred"
    x, y, _, _ = first.box
    assert gate.reason(Detection((x, y, 48, 48), 0.9, first.detection.landmarks), first.image) == "small"
    turned = finder.largest(read_image(next((LFW / "turned").glob("*/*.jpg"))))
    assert turned.skipped == "turned"
    assert QualityGate(min_frontality=0).reason(turned.detection, turned.image) is None


@pytest.mark.parametrize(
    ("kind", "template", "expected"),
    [("face", True, YuNetDetector), ("face", False, HaarFaceDetector), ("identity", False, WholeFrame)],
)
def test_auto_regions_follow_the_model(kind, template, expected):
    spec = SPEC if template else InputSpec(96, 96, 3, (0.5,) * 3, (0.5,) * 3)
    finder = make_regions(_info(kind, spec))
    assert isinstance(finder.detector, expected)
    assert (finder.cutter is not None) == (kind == "face")


def test_the_template_in_the_recipe_is_the_one_the_tests_use():
    recorded = json.loads(TEMPLATE_FILE.read_text())
    assert recorded["check"]["cosine_to_dlib_chip_mean"] > 0.98  # dlib's descriptors of our cut vs its own chip
    assert YUNET_SPEC.face_template == read_face_template(TEMPLATE_FILE)[0]


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


def test_a_face_filling_a_phone_photo_is_found_once():
    """A portrait 2,400 px wide in a 4000×3000 photo is found as one face, where the face is, not
    split into parts or missed (YuNet's single search did so for 5 of these 12)."""
    detector = YuNetDetector()
    for path in FACES[:12]:
        face = cv2.resize(cv2.imread(str(path))[50:200, 50:200], (2400, 2400), interpolation=cv2.INTER_CUBIC)
        photo = np.full((3000, 4000, 3), 110, np.uint8)
        photo[300:2700, 800:3200] = face
        found = detector.detect(photo)
        assert len(found) == 1, (path.name, [d.box for d in found])
        x, y, w, h = found[0].box
        assert 800 < x + w / 2 < 3200 and 300 < y + h / 2 < 2700 and 1200 < w < 2600, (path.name, found[0].box)
        eyes = found[0].landmarks[:2]
        assert ((eyes > (800, 300)) & (eyes < (3200, 2700))).all() and eyes[1, 0] - eyes[0, 0] > 400, path.name


def test_a_small_face_in_a_large_photo_is_still_found():
    """The coarse search for large faces leaves small ones to the fine search: a 100 px face in a
    4000×3000 photo is found."""
    face = cv2.resize(cv2.imread(str(FACES[0]))[50:200, 50:200], (100, 100), interpolation=cv2.INTER_AREA)
    photo = np.full((3000, 4000, 3), 110, np.uint8)
    photo[1500:1600, 2000:2100] = face
    found = YuNetDetector().detect(photo)
    assert len(found) == 1 and abs(found[0].box[0] - 2000) < 20, [d.box for d in found]


def test_a_thin_strip_gives_no_faces_instead_of_infinite_boxes():
    """YuNet returns infinities for images a few pixels tall; those rows are dropped, not turned
    into boxes (that raised OverflowError)."""
    strip = np.random.default_rng(0).integers(0, 255, (8, 640, 3), dtype=np.uint8)  # the smallest image taken
    for detector in (YuNetDetector(min_size=32), YuNetDetector()):
        assert all(np.isfinite(d.landmarks).all() for d in detector.detect(strip))
