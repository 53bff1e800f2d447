"""face_recognition's own pipeline on LFW View 2, by the protocol of `benchmarks.faces.lfw_view2`.

What face_recognition does with dlib: the HOG face detector (upsampling once), dlib's 5-point
landmarks, dlib's face chip and dlib's face ResNet; pairs scored by the Euclidean distance of the
descriptors (dlib's own metric; smaller: more alike). An image without a detection gets a fixed
box in the middle of LFW's 250×250 image (counted). For reference only, in its own environment
(see `benchmarks/faces/face_recognition_reference.py`); about 25 minutes on one core.

    /tmp/fr/bin/python -m benchmarks.faces.face_recognition_view2 LFW_ROOT PAIRS_FILE
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from benchmarks.faces.lfw import image_path, read_folds
from benchmarks.faces.lfw_view2 import view2_report
from train.dlib.files import LANDMARKS_FILE, face_recognition_models_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--test-folds", type=int, default=10)
    args = parser.parse_args()
    import dlib

    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(str(face_recognition_models_file(LANDMARKS_FILE)))
    network = dlib.face_recognition_model_v1(str(face_recognition_models_file()))
    cache: dict[tuple[str, int], np.ndarray] = {}
    missed = 0

    def descriptor(person: str, number: int) -> np.ndarray:
        nonlocal missed
        if (person, number) not in cache:
            rgb = cv2.cvtColor(cv2.imread(str(image_path(args.lfw, person, number))), cv2.COLOR_BGR2RGB)
            faces = detector(rgb, 1)
            missed += not faces
            middle = (rgb.shape[1] / 2, rgb.shape[0] / 2)
            face = dlib.rectangle(70, 70, 180, 180)
            if faces:
                face = min(faces, key=lambda r: np.hypot(r.center().x - middle[0], r.center().y - middle[1]))
            cache[person, number] = np.array(network.compute_face_descriptor(rgb, shapes(rgb, face)))
        return cache[person, number]

    folds = read_folds(args.pairs)[: args.test_folds]
    report = view2_report(folds, lambda a, i, b, j: -float(np.linalg.norm(descriptor(a, i) - descriptor(b, j))))
    report["images without a detected face (fixed box used)"] = missed
    report["images"] = len(cache)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
