"""dlib's 5-point landmarks in numpy give dlib's own points on real faces, refuse files that are not
dlib's shape predictor, turn with a tilted face when started from YuNet, and cut dlib's face chips.

dlib (`dlib-bin`) and its model files (`face-recognition-models`) are the reference here, installed
by the dev extra; the runtime never depends on them. The model files are found without importing
`face_recognition_models` (its `__init__` needs `pkg_resources`)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import dlib
import numpy as np
import pytest
from click.testing import CliRunner

from edge_runtime.core.errors import CheckpointError
from edge_runtime.faces.face_detection import YuNetDetector
from edge_runtime.faces.face_landmarks import DLIB_CHIP_TEMPLATE, DlibShapePredictor, rect_frame
from edge_runtime.imaging.face_geometry import chip_transform
from train.dlib.files import LANDMARKS_FILE, face_recognition_models_file
from train.dlib.landmarks import convert_shape_predictor, main

DAT = face_recognition_models_file(LANDMARKS_FILE)
FACES = sorted((Path(__file__).resolve().parents[1] / "edge_runtime" / "demo_data" / "lfw").glob("*/*/*.jpg"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landmarks") / "shape_predictor_5.npz"
    result = CliRunner().invoke(main, [str(DAT), str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def ours(model_file) -> DlibShapePredictor:
    return DlibShapePredictor(model_file)


@pytest.fixture(scope="module")
def theirs():
    return dlib.shape_predictor(str(DAT))


@pytest.fixture(scope="module")
def faces():
    """Demo LFW faces with dlib's HOG rectangle (as face_recognition finds them): (BGR image, rect)."""
    detector, found = dlib.get_frontal_face_detector(), []
    for path in FACES[:: max(1, len(FACES) // 8)]:
        bgr = cv2.imread(str(path))
        rects = detector(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 1)
        if rects:
            r = rects[0]
            found.append((bgr, (r.left(), r.top(), r.right(), r.bottom())))
    assert len(found) >= 6
    return found


def _dlib_points(predictor, image: np.ndarray, rect) -> np.ndarray:
    shape = predictor(image, dlib.rectangle(*rect))
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], float)


def _eye_angle(points: np.ndarray) -> float:
    """The eye line of dlib's five points (eye centres from their corners), in degrees."""
    dx, dy = points[[0, 1]].mean(axis=0) - points[[2, 3]].mean(axis=0)
    return math.degrees(math.atan2(dy, dx))


def test_same_rectangle_gives_dlibs_points(ours, theirs, faces):
    """dlib's points are whole pixels; ours are the same pixels, for colour and gray images, for the
    HOG rectangle and for rectangles shifted, resized and partly outside the image."""
    rng = np.random.default_rng(0)
    checked = 0
    for bgr, (left, top, right, bottom) in faces:
        rects = [(left, top, right, bottom)]
        for _ in range(2):
            dx, dy, grow = rng.integers(-60, 61), rng.integers(-60, 61), rng.integers(-30, 50)
            rects.append((left + dx - grow, top + dy - grow, right + dx + grow, bottom + dy + grow))
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        for rect in rects:
            for image, reference in ((bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), (gray, gray)):
                expected = _dlib_points(theirs, reference, rect)
                assert np.abs(ours.predict(image, rect) - expected).max() <= 0.01, rect
                assert np.abs(ours.predict(image, rect, subpixel=True) - expected).max() <= 0.5
                checked += 1
    assert checked >= 36


def test_files_that_are_not_dlibs_shape_predictor_are_refused(tmp_path, model_file):
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(DAT.read_bytes()[:60_000])
    foreign = face_recognition_models_file()  # the face ResNet, not a shape predictor
    for path in (truncated, foreign, tmp_path / "missing.dat"):
        with pytest.raises(CheckpointError) as error:
            convert_shape_predictor(path, tmp_path / "out.npz")
        assert "\n" not in str(error.value) and str(path) in str(error.value)
    result = CliRunner().invoke(main, [str(truncated), str(tmp_path / "out.npz")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    not_ours = tmp_path / "not_ours.npz"
    np.savez(not_ours, weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="train.dlib.landmarks"):
        DlibShapePredictor(not_ours)
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(model_file.read_bytes()[:1000])
    with pytest.raises(CheckpointError):
        DlibShapePredictor(damaged)


def test_landmarks_from_yunet_turn_with_a_tilted_face(ours):
    """Rotating a face by 20° rotates the landmarks found from YuNet's detection by about 20°, and
    puts them where the upright face's points go (YuNet's own eye line turns much less)."""
    bgr = cv2.copyMakeBorder(cv2.imread(str(FACES[0])), 60, 60, 60, 60, cv2.BORDER_REFLECT)
    detector = YuNetDetector(min_size=40)
    upright = ours.predict_detection(bgr, detector.detect(bgr)[0], subpixel=True)
    centre = (bgr.shape[1] / 2, bgr.shape[0] / 2)
    for angle in (20, -20):
        turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
        turned = cv2.warpAffine(bgr, turn, bgr.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        found = ours.predict_detection(turned, detector.detect(turned)[0], subpixel=True)
        # cv2's positive angle turns the image anticlockwise: the eye line's angle (y down) falls
        assert abs(_eye_angle(upright) - _eye_angle(found) - angle) < 2.0
        expected = upright @ turn[:, :2].T + turn[:, 2]
        assert np.linalg.norm(found - expected, axis=1).mean() < 1.5


def test_chip_transform_cuts_dlibs_chip(ours, faces):
    """cv2.warpAffine onto dlib's chip template gives dlib.get_face_chip's pixels, bar dlib's truncation."""
    for bgr, rect in faces[:4]:
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        shape = dlib.shape_predictor(str(DAT))(rgb, dlib.rectangle(*rect))
        points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], float)
        expected = dlib.get_face_chip(rgb, shape, size=150, padding=0.25).astype(int)
        matrix = chip_transform(points, DLIB_CHIP_TEMPLATE, (150, 150))
        chip = cv2.warpAffine(rgb, matrix, (150, 150), flags=cv2.INTER_LINEAR)
        assert np.abs(chip.astype(int) - expected).mean() < 0.6  # measured 0.50: OpenCV rounds, dlib truncates
        assert np.array_equal(ours.predict(bgr, rect), points)


def test_a_crowd_gets_the_points_each_face_gets_alone(ours):
    """Eight faces of one frame, found at once (upright and tilted ones, so some take the second
    pass), get exactly the points each gets on its own."""
    tiles = []
    for i, path in enumerate(FACES[:8]):
        face = cv2.resize(cv2.imread(str(path)), (200, 200))
        turn = cv2.getRotationMatrix2D((100, 100), (-20, 0, 15, 5)[i % 4], 1.0)
        tiles.append(cv2.warpAffine(face, turn, (200, 200), borderMode=cv2.BORDER_REFLECT))
    frame = np.vstack([np.hstack(tiles[:4]), np.hstack(tiles[4:])])
    detections = YuNetDetector(min_size=40).detect(frame)
    assert len(detections) >= 6
    together = ours.predict_detections(frame, detections, subpixel=True)
    alone = np.stack([ours.predict_detection(frame, detection, subpixel=True) for detection in detections])
    assert np.array_equal(together, alone)
    assert np.array_equal(ours.predict_detections(frame, detections), np.floor(alone + 0.5))
    assert ours.predict_detections(frame, []).shape == (0, 5, 2)


def test_a_stadium_of_faces_is_found_at_once(ours, faces):
    """Sixty faces at once (more than the 40 whose feature pixels fit one row of cv2.remap) get the
    points each gets alone."""
    bgr, (left, top, right, bottom) = faces[0]
    shifts = np.random.default_rng(0).integers(-20, 21, size=(60, 2))
    rects = [(left + dx, top + dy, right + dx, bottom + dy) for dx, dy in shifts]
    frames = np.stack([rect_frame(rect) for rect in rects])
    together = ours.predict_frames(bgr, frames)
    assert together.shape == (60, 5, 2)
    assert np.array_equal(together[[0, 29, 59]], np.stack([ours.predict(bgr, rects[i]) for i in (0, 29, 59)]))
