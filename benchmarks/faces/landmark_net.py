"""Train the landmark network (`--landmarks net`) on the faces of LFW people outside View 2 folds 1-N,
then measure it on the people of those folds, against dlib's own cascade, side by side:

- agreement: for every --every-th image of those people, turned by 0, ±20 and 30 degrees, each
  locator's points on the turned image (from YuNet's box, two passes) against dlib's points on the
  upright image turned alike, in eye widths (outer eye corner to outer eye corner);
- speed: the crowd's frames (--video: eight faces and more a frame), each locator's milliseconds a
  frame for all its faces, alternated, and their ratios; and how far the INT8 network's points lie
  from the FP32 network's there.

The network is measured in INT8 (U8S8, as the runtime runs it) and in FP32.

    python -m benchmarks.faces.landmark_net LFW_ROOT PAIRS_FILE OUT.onnx [--test-folds 5] [--epochs 80]
        [--video VIDEO] [--bundle]

OUT.onnx is the network in INT8, OUT.fp32.onnx in FP32.
`--bundle` copies it to `edge_runtime/models/face_landmarks_net.onnx` and the report beside it. Prints JSON.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.faces.align_time import read_frames
from benchmarks.faces.lfw import held_out_people, person_folders, read_folds, run_reporting_errors, training_parser
from edge_runtime.core.bundled import packaged_model
from edge_runtime.faces.face_alignment import LANDMARK_LOCATORS, landmark_locator, turned
from edge_runtime.faces.face_detection import YuNetDetector
from edge_runtime.faces.face_landmarks import FivePointLocator
from edge_runtime.imaging.detectors import box_centre
from edge_runtime.imaging.preprocessing import read_image
from train.landmark_net import MIN_FACE, calibration_views, collect_faces, export_landmark_net, train_landmark_net

TURNS = (0.0, 20.0, -20.0, 30.0)
NOTES = (
    "dlib's five face landmarks from a small CNN trained on dlib's own points (its 5-point shape predictor, "
    "public domain) of {faces} faces YuNet found in LFW photos of people outside View 2 folds 1-{folds}, "
    "turned up to 35 degrees. Recipe: python -m benchmarks.faces.landmark_net. LFW: Huang et al., UMass "
    "Amherst TR 07-49, 2007 (research use)."
)


def people_photos(people: list[Path]) -> list[tuple[Path, int]]:
    """(photo, person's number) for every photo of `people`."""
    return [(photo, number) for number, person in enumerate(people) for photo in sorted(person.glob("*.jpg"))]


def turn_points(points: np.ndarray, degrees: float, shape: tuple[int, ...]) -> np.ndarray:
    """Where `turned(image, degrees)` puts image points."""
    height, width = shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)  # as `turned` turns the image
    return points @ matrix[:, :2].T + matrix[:, 2]


def agreement(photos: list[Path], locators: dict[str, FivePointLocator]) -> dict:
    """Each locator's mean error against dlib's upright points, turned alike, in eye widths, by turn."""
    detector, reference = YuNetDetector(MIN_FACE), locators["dlib"]
    errors = {(name, turn): [] for name in locators for turn in TURNS}
    for photo in photos:
        image = read_image(photo)
        found = detector.detect(image)
        if not found:
            continue
        upright = reference.predict_detections(image, found[:1], subpixel=True)[0]
        for turn in TURNS:
            view = turned(image, turn) if turn else image
            truth = turn_points(upright, turn, image.shape)
            detections = detector.detect(view)
            if not detections:
                continue
            face = min(detections, key=lambda d: np.linalg.norm(box_centre(d.box) - truth.mean(axis=0)))
            width = np.linalg.norm(truth[0] - truth[2])
            for name, locator in locators.items():
                points = locator.predict_detections(view, [face], subpixel=True)[0]
                errors[name, turn].append(np.linalg.norm(points - truth, axis=1).mean() / width)
    return {f"{name} at {turn:+.0f} degrees": [round(float(np.mean(e)), 4), round(float(np.quantile(e, 0.9)), 4),
                                               len(e)] for (name, turn), e in errors.items() if e}  # fmt: skip


def crowd_speed(video: str, locators: dict[str, FivePointLocator], rounds: int = 3) -> dict:
    """Milliseconds a frame for all its faces' points, each locator in turn, `rounds` times alternated; the
    ratios of dlib's and the FP32 network's times to the network's; how far the INT8 network's points lie
    from the FP32 one's, in eye widths."""
    frames = read_frames(video)
    detector = YuNetDetector()
    found = [detector.detect(frame) for frame in frames]
    times = {name: [] for name in locators}
    for _ in range(rounds):
        for name, locator in locators.items():
            start = time.perf_counter()
            for frame, detections in zip(frames, found, strict=True):
                locator.predict_detections(frame, detections)
            times[name].append(1000 * (time.perf_counter() - start) / len(frames))
    report = {"frames": len(frames), "faces a frame": sum(map(len, found)) / len(frames)}
    report |= {f"{name} ms a frame": [round(t, 2) for t in ms] for name, ms in times.items()}
    for slower in ("dlib", "net FP32"):
        ratios = [round(a / b, 2) for a, b in zip(times[slower], times["net"], strict=True)]
        report[f"{slower} ÷ net, by round"] = ratios
    points = {name: np.concatenate([locators[name].predict_detections(frame, detections, True)
                                    for frame, detections in zip(frames, found, strict=True)])
              for name in ("net", "net FP32")}  # fmt: skip
    width = np.linalg.norm(points["net FP32"][:, 0] - points["net FP32"][:, 2], axis=1)
    moved = np.linalg.norm(points["net"] - points["net FP32"], axis=2).mean(axis=1) / width
    report["net against net FP32 (eye widths): mean, 90th pct"] = [
        round(float(moved.mean()), 4), round(float(np.quantile(moved, 0.9)), 4)]  # fmt: skip
    return report


def main() -> None:
    parser = training_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--every", type=int, default=4, help="measure every N-th image of the left-out people")
    parser.add_argument("--video", help="a crowd video to time the locators on (benchmarks.faces.video_test make)")
    parser.add_argument("--bundle", action="store_true", help="install the network as the packaged one")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)  # progress

    def measure() -> None:
        started = time.monotonic()
        held_out = held_out_people(read_folds(args.pairs), args.test_folds)
        people = person_folders(args.lfw)
        training = people_photos([p for p in people if p.name not in held_out])
        samples = collect_faces(training, len(training))
        net, report = train_landmark_net(samples, args.epochs)
        notes = NOTES.format(folds=args.test_folds, faces=report["faces"])
        fp32 = args.out.with_suffix(".fp32.onnx")
        export_landmark_net(net, fp32, notes)
        export_landmark_net(net, args.out, notes, calibration_views(samples))
        locators = {"dlib": landmark_locator("dlib"), "net": landmark_locator("net", args.out),
                    "net FP32": landmark_locator("net", fp32)}  # fmt: skip
        measured = [photo for photo, _ in people_photos([p for p in people if p.name in held_out])]
        report["agreement with dlib's upright points on left-out people (eye widths): mean, 90th pct, faces"] = (
            agreement(measured[:: args.every], locators)
        )
        if args.video:
            report["crowd"] = crowd_speed(args.video, locators)
        report["minutes"] = round((time.monotonic() - started) / 60, 1)
        if args.bundle:
            bundled = Path(packaged_model(LANDMARK_LOCATORS["net"][1]))
            shutil.copyfile(args.out, bundled)
            bundled.with_suffix(".json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        print(json.dumps(report, indent=2, ensure_ascii=False))

    run_reporting_errors("landmark_net", measure)


if __name__ == "__main__":
    main()
