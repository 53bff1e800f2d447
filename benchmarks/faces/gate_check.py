"""Face detection and the quality gate on LFW: chosen on some people, reported on others.

- Detection, YuNet against the Haar cascade: images where no face is found, and the time per
  640×480 frame (each LFW image letterboxed into one, faces of 64 px and up searched as at run time).
- The gate's defaults are chosen on images of people in no View 2 fold (`--choose`): the sharpness
  and frontality that `--keep` of those faces reach. They are reported on random images of View 2
  people (`--report`), never used to choose them: the share of faces passed, the share of the
  same faces blurred by a 3-pixel Gaussian that are stopped, and the time of each step per face.

With --result NAME the figures are also written to results/NAME.json, with how they were
measured (benchmarks/results.py), for README's tables.

Usage: python -m benchmarks.faces.gate_check LFW_ROOT PAIRS_FILE [--choose 600] [--report 600] [--result NAME]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from benchmarks.faces.lfw import central_detection, held_out_people, read_folds
from benchmarks.results import add_result_option, write_result
from edge_runtime.faces.face_alignment import DLIB_TEMPLATE, FaceCutter, template_spec
from edge_runtime.faces.face_detection import HaarFaceDetector, YuNetDetector
from edge_runtime.faces.face_quality import QualityGate, frontality, sharpness
from edge_runtime.faces.regions import DEFAULT_GATE, RegionFinder
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.io.outputs import letterbox


def detection(images: list[np.ndarray]) -> dict:
    """Images without a face, and milliseconds per 640×480 frame, for YuNet and Haar at the runtime's 64 px."""
    frames = [letterbox(image, (640, 480)) for image in images]
    report = {}
    for name, detector in (("yunet", YuNetDetector(64)), ("haar", HaarFaceDetector(64))):
        detector.detect(frames[0])
        started = time.perf_counter()
        found = [bool(detector.detect(frame)) for frame in frames]
        report[name] = {
            "images without a face": len(frames) - sum(found),
            "ms per 640x480 frame": round(1000 * (time.perf_counter() - started) / len(frames), 2),
        }
    return report


def measures(images: list[np.ndarray], cutter: FaceCutter) -> tuple[list[tuple], float]:
    """(detection, cut face) of the central face of each image where YuNet finds one (at LFW's 40 px),
    and the milliseconds each cut took."""
    finder, found, seconds = RegionFinder(YuNetDetector(40)), [], 0.0
    for image in images:
        face = central_detection(image, finder)
        if face is not None:
            started = time.perf_counter()
            found.append((face, cutter.cut(image, face)))
            seconds += time.perf_counter() - started
    return found, 1000 * seconds / max(1, len(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--choose", type=int, default=600, help="images to choose the defaults on")
    parser.add_argument("--report", type=int, default=600, help="other people's images to report on")
    parser.add_argument("--keep", type=float, default=0.97, help="share of the choosing faces each check passes")
    parser.add_argument("--seed", type=int, default=0)
    add_result_option(parser)
    args = parser.parse_args()
    view2 = held_out_people(read_folds(args.pairs), 10)
    everyone = sorted(args.lfw.glob("*/*.jpg"))
    rng = random.Random(args.seed)
    choosing = rng.sample([p for p in everyone if p.parent.name not in view2], args.choose)
    reporting = rng.sample([p for p in everyone if p.parent.name in view2], args.report)
    spec = template_spec(DLIB_TEMPLATE)
    cutter = FaceCutter(spec)

    chosen, _ = measures([read_image(p) for p in choosing], cutter)
    suggested = {
        "min_sharpness": round(float(np.quantile([sharpness(face) for _, face in chosen], 1 - args.keep)), 1),
        "min_frontality": round(float(np.quantile([frontality(d.landmarks) for d, _ in chosen], 1 - args.keep)), 2),
    }
    images = [read_image(p) for p in reporting]
    faces, cut_ms = measures(images, cutter)
    gate = QualityGate(min_size=40, min_sharpness=DEFAULT_GATE.min_sharpness,
                       min_frontality=DEFAULT_GATE.min_frontality)  # fmt: skip
    started = time.perf_counter()
    verdicts = Counter(gate.reason(d, face) for d, face in faces)
    gate_ms = 1000 * (time.perf_counter() - started) / len(faces)
    blurred = Counter(gate.reason(d, cv2.GaussianBlur(face, (0, 0), 3)) for d, face in faces)
    report = {
        "detection on the reporting images": detection(images),
        f"defaults that pass {args.keep:.0%} of {len(chosen)} faces of people in no View 2 fold": suggested,
        "defaults in use": {"min_sharpness": DEFAULT_GATE.min_sharpness, "min_frontality": DEFAULT_GATE.min_frontality},
        f"on {len(faces)} faces of View 2 people (never used to choose)": {
            "passed": round(verdicts[None] / len(faces), 4),
            "verdicts": dict(verdicts),
            "3 px Gaussian blur: stopped": round(1 - blurred[None] / len(faces), 4),
            "ms per face: cut onto the template": round(cut_ms, 3),
            "ms per face: gate": round(gate_ms, 3),
        },
    }
    print(json.dumps(report, indent=2))
    if args.result:
        figures = {"reporting images": len(images), "choosing faces": len(chosen), "keep": args.keep,
                   "reported faces": len(faces), "detection": report["detection on the reporting images"],
                   "suggested": suggested, "in use": report["defaults in use"],
                   **report[f"on {len(faces)} faces of View 2 people (never used to choose)"]}  # fmt: skip
        write_result(args.result, figures, benchmark="gate_check")


if __name__ == "__main__":
    main()
