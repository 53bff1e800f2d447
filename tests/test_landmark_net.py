"""The landmark network (`--landmarks net`): the packaged one finds dlib's points on faces it never
saw, follows a tilted head and finds a crowd in one run; other files are refused on one line; its
training views move the points with the pixels, and a trained network exports to what the runtime
runs."""

import logging
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch

from benchmarks.faces.landmark_net import turn_points
from edge_runtime.core.bundled import ATT_FACES_MODEL, DEFAULT_MODEL, SMALL_FACE_MODEL, packaged_model
from edge_runtime.core.errors import CheckpointError, ModelError
from edge_runtime.faces.face_alignment import eye_angle, landmark_locator, turned
from edge_runtime.faces.face_detection import YuNetDetector
from edge_runtime.faces.face_landmarks import box_rect, rect_frame
from edge_runtime.faces.landmark_net import LandmarkNet, cut_square, grey_image
from edge_runtime.faces.regions import make_regions
from edge_runtime.imaging.detectors import box_centre
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference.embedder import Embedder
from train.landmark_net import (
    MIRRORED,
    NET_CROP,
    STORED,
    calibration_views,
    collect_faces,
    export_landmark_net,
    train_landmark_net,
    view,
)

LFW = Path(__file__).resolve().parents[1] / "edge_runtime" / "demo_data" / "lfw"
PHOTOS = sorted((LFW / "enrolled").glob("*/*.jpg")) + sorted((LFW / "strangers").glob("*/*.jpg"))


def _eye_width(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[0] - points[2]))


def _first_faces(photos: list[Path]) -> list[tuple[np.ndarray, object]]:
    detector = YuNetDetector(min_size=40)
    faces = []
    for photo in photos:
        image = read_image(photo)
        found = detector.detect(image)
        if found:
            faces.append((image, found[0]))
    return faces


def test_the_network_finds_dlibs_points_on_people_it_never_saw():
    dlib, net = landmark_locator("dlib"), landmark_locator("net")
    errors = []
    for image, face in _first_faces(PHOTOS):  # the demo's people are in View 2 folds 1-5: never trained on
        expected = dlib.predict_detection(image, face, subpixel=True)
        found = net.predict_detection(image, face, subpixel=True)
        errors.append(np.linalg.norm(found - expected, axis=1).mean() / _eye_width(expected))
    print(f"mean {np.mean(errors):.4f}, worst {np.max(errors):.4f} eye widths over {len(errors)} faces")
    assert len(errors) >= 50
    assert np.mean(errors) < 0.025 and np.max(errors) < 0.08  # measured: 0.0151 and 0.0326


def test_a_tilted_head_is_followed():
    dlib, net = landmark_locator("dlib"), landmark_locator("net")
    detector = YuNetDetector(min_size=40)
    for image, face in _first_faces(PHOTOS[::4]):
        upright = dlib.predict_detection(image, face, subpixel=True)
        for turn in (-25.0, 25.0):
            tilted = turned(image, turn)
            centre = turn_points(upright, turn, image.shape).mean(axis=0)
            face = min(detector.detect(tilted), key=lambda found: np.linalg.norm(box_centre(found.box) - centre))
            expected = eye_angle(turn_points(upright, turn, image.shape)[[2, 0]])
            assert abs(eye_angle(net.predict_detection(tilted, face, subpixel=True)[[2, 0]]) - expected) < 3.0


def test_a_crowd_is_found_in_one_run_as_each_face_alone():
    faces = _first_faces(PHOTOS[:24])
    tiles = [cv2.resize(image, (160, 160)) for image, _ in faces]
    crowd = np.vstack([np.hstack(tiles[row * 6 : row * 6 + 6]) for row in range(4)])
    found = YuNetDetector().detect(crowd)
    assert len(found) >= 24  # and a few faces behind the people
    net = landmark_locator("net")
    together = net.predict_detections(crowd, found, subpixel=True)
    alone = np.stack([net.predict_detection(crowd, face, subpixel=True) for face in found])
    assert np.abs(together - alone).max() < 0.01


def test_other_files_are_refused_on_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="not a landmark network"):
        LandmarkNet(packaged_model(SMALL_FACE_MODEL))  # an embedding model
    truncated = tmp_path / "landmarks.onnx"
    truncated.write_bytes(Path(packaged_model("face_landmarks_net.onnx")).read_bytes()[:5000])
    with pytest.raises(ModelError, match="cannot load model"):
        LandmarkNet(truncated)
    with pytest.raises(ValueError, match="gray or BGR uint8"):
        landmark_locator("net").predict_frames(np.zeros((64, 64), np.float32), np.zeros((1, 2, 3)))
    model = onnx.load(packaged_model("face_landmarks_net.onnx"))
    for crop in ("[-0.05, 1.05, 48]", "[0.5, 0.5, 64]", "[0, 1, 0]", "64"):
        for entry in model.metadata_props:
            if entry.key == "crop":
                entry.value = crop
        onnx.save(model, tmp_path / "edited.onnx")
        with pytest.raises(CheckpointError, match="not a landmark network"):
            LandmarkNet(tmp_path / "edited.onnx")


def test_no_faces_give_no_points():
    net = landmark_locator("net")
    assert net.predict_frames(np.zeros((48, 64), np.uint8), np.empty((0, 2, 3))).shape == (0, 5, 2)
    assert net.predict_detections(np.zeros((48, 64, 3), np.uint8), []).shape == (0, 5, 2)


def test_where_the_option_changes_nothing_it_says_so_and_haar_loads_no_landmark_model(caplog):
    face = Embedder(packaged_model(DEFAULT_MODEL)).info
    yunet_cut = replace(face, spec=replace(face.spec, face_landmarks="yunet"))
    objects = replace(Embedder(packaged_model(ATT_FACES_MODEL)).info, kind="identity")
    idle = [
        (face, "haar", None, "the Haar detector gives"),
        (face, "auto", (0, 0, 50, 50), "--roi cuts"),
        (yunet_cut, "auto", None, "the model's faces are cut by"),
        (objects, "auto", None, "the model's regions"),
    ]
    for info, detector, roi, said in idle:
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            finder = make_regions(info, detector, roi, landmarks="net")
        assert f"--landmarks net changes nothing here: {said}" in caplog.text
        assert finder.cutter is None or finder.cutter.landmarks is None
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        finder = make_regions(face, "auto", landmarks="net")
        make_regions(face, "haar")  # the default, dlib's, is not a choice worth a word
    assert caplog.text == "" and isinstance(finder.cutter.landmarks, LandmarkNet)


def _blobs(points: np.ndarray) -> np.ndarray:
    """A stored face of five soft spots of different brightness, at `points` (the stored frame)."""
    low, high, pixels = STORED
    grid = (np.arange(pixels) + 0.5) * (high - low) / pixels + low
    x, y = np.meshgrid(grid, grid)
    image = np.zeros((pixels, pixels))
    for index, (px, py) in enumerate(points):
        image += (60 + 40 * index) * np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * 0.02**2))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_a_training_view_moves_the_points_with_the_pixels():
    points = np.array([[0.8, 0.31], [0.65, 0.32], [0.26, 0.32], [0.41, 0.32], [0.53, 0.62]])
    stored = _blobs(points)
    for turn, scale, shift, mirror in [
        (0, 1, (0, 0), False),
        (30, 1.1, (0.05, -0.04), False),
        (-20, 0.9, (0, 0.03), True),
    ]:
        image, target = view(stored, points, turn, scale, np.array(shift), mirror)
        low, high, pixels = NET_CROP
        at = np.round((target - low) * pixels / (high - low) - 0.5).astype(int)  # whole view pixels
        brightness = [int(image[y, x]) for x, y in at]
        order = MIRRORED if mirror else list(range(5))
        assert np.argsort(brightness).tolist() == np.argsort(order).tolist()  # each point on its own spot
        for (x, y), value in zip(at, brightness, strict=True):
            assert value >= image[max(y - 3, 0) : y + 4, max(x - 3, 0) : x + 4].max() - 12  # at the spot's peak


def test_a_trained_network_exports_to_what_the_runtime_runs(tmp_path):
    photos = [(path, number) for number, path in enumerate(PHOTOS)]
    samples = collect_faces(photos, len(photos), show_progress=False)
    assert len(samples.crops) >= 50 and samples.points.shape[1:] == (5, 2)
    net, report = train_landmark_net(samples, epochs=2, batch=16, show_progress=False)
    assert report["held-out faces"] > 0
    image, face = _first_faces(PHOTOS[:1])[0]
    frame = rect_frame(box_rect(face.box))
    with torch.no_grad():
        crop = cut_square(grey_image(image), frame, NET_CROP).astype(np.float32)
        expected = net(torch.from_numpy(crop)[None, None]).numpy().reshape(5, 2) @ frame[:, :2].T + frame[:, 2]
    for name, calibration, tolerance in [("fp32", None, 1e-3), ("int8", calibration_views(samples, 64), 1.5)]:
        path = tmp_path / f"landmarks.{name}.onnx"
        export_landmark_net(net, path, "test", calibration)
        found = LandmarkNet(path).predict_frames(image, frame[None], subpixel=True)[0]
        assert np.abs(found - expected).max() < tolerance, name  # image pixels; this face's eyes are 60 px apart
