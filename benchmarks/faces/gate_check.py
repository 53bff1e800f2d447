"""How the face cut and quality gate behave on random LFW images: the detection rate at the
runtime's minimum face for two search scales, the share of faces the gate passes, the share of
faces blurred by a 3-pixel Gaussian that it stops, and the time of each step per face.

Usage: python -m benchmarks.faces.gate_check LFW_ROOT [--images 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.detectors import FaceDetector
from edge_runtime.face_alignment import FaceAligner
from edge_runtime.preprocessing import read_image
from edge_runtime.regions import DEFAULT_GATE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paths = random.Random(args.seed).sample(sorted(args.lfw.glob("*/*.jpg")), args.images)
    images = [read_image(p) for p in paths]
    detector, aligner, gate = FaceDetector(min_size=DEFAULT_GATE.min_size), FaceAligner(), DEFAULT_GATE
    for pixels in (24, 32):
        detector.search_scale = min(1.0, pixels / detector.min_size)
        found = sum(bool(detector.detect(image)) for image in images)
        print(f"faces searched at {pixels} px: detected in {found}/{len(images)} images")
    started = time.perf_counter()
    boxes = [detector.detect(image) for image in images]
    detect_ms = 1000 * (time.perf_counter() - started) / len(images)
    faces = [(image, found[0]) for image, found in zip(images, boxes, strict=True) if found]
    started = time.perf_counter()
    cuts = [aligner.cut(image, box) for image, box in faces]
    level_ms = 1000 * (time.perf_counter() - started) / len(faces)
    started = time.perf_counter()
    verdicts = Counter(gate.reason(cut) for cut in cuts)
    gate_ms = 1000 * (time.perf_counter() - started) / len(faces)
    levelled = sum(aligner.eyes.find(image, box) is not None for image, box in faces)
    blurred = Counter(gate.reason(aligner.cut(cv2.GaussianBlur(image, (0, 0), 3), box)) for image, box in faces)
    print(f"eyes found in {levelled}/{len(faces)} faces")
    print(
        f"gate passes {verdicts[None]}/{len(faces)} faces ({100 * verdicts[None] / len(faces):.1f}%): {dict(verdicts)}"
    )
    print(f"after a 3 px Gaussian blur the gate stops {len(faces) - blurred[None]}/{len(faces)}: {dict(blurred)}")
    print(f"per image: detection {detect_ms:.1f} ms; per face: eye levelling {level_ms:.2f} ms, gate {gate_ms:.2f} ms")
    print(f"(median face {np.median([box[2] for _, box in faces]):.0f} px)")


if __name__ == "__main__":
    main()
