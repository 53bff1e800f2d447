"""Fit a face template for YuNet's own landmarks to dlib's face chips, and check it against dlib.

(The default face model is cut from dlib's own 5-point landmarks onto dlib's chip template, which
needs no fitting: `--template dlib` in `benchmarks.faces.prepare`. This YuNet template is the
cheaper cut without the landmark model, and what the tests measure it against.)

dlib cuts its 150×150 chips from its own 5-point landmarks (eye corners, nose bottom); the runtime
has YuNet's (eye centres, nose tip, mouth corners). The template is where YuNet's five points lie,
on average, inside dlib's own chips: each chip is padded, YuNet runs on it, and the points are
averaged. It is then checked on other images: dlib's descriptor of each chip cut by the runtime with
the template, against dlib's descriptor of dlib's own chip (cosine).

It needs dlib (reference only, never a dependency of the package), in its own environment:

    python -m venv /tmp/dlib && /tmp/dlib/bin/pip install dlib-bin face-recognition-models numpy 'opencv-python<5'
    /tmp/dlib/bin/python -m benchmarks.faces.fit_template LFW_ROOT PAIRS_FILE --out template.json

Only people who appear in no View 2 fold are used, so LFW View 2 stays unseen.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from benchmarks.faces.lfw import held_out_people, person_folders, read_folds, run_reporting_errors
from edge_runtime.faces.face_detection import YuNetDetector
from edge_runtime.imaging.face_geometry import chip_transform, warp_face

CHIP, PAD = 150, 75


def dlib_tools():
    """dlib's face detector, 5-point shape predictor and face ResNet (from face-recognition-models)."""
    import dlib
    import face_recognition_models as models

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(models.pose_predictor_five_point_model_location()),
        dlib.face_recognition_model_v1(models.face_recognition_model_location()),
    )


def dlib_chip(rgb: np.ndarray, tools) -> np.ndarray | None:
    """dlib's own 150×150 chip of the largest face (as face_recognition cuts it), or None."""
    import dlib

    detector, shapes, _ = tools
    faces = detector(rgb, 1)
    if not faces:
        return None
    face = max(faces, key=lambda r: r.area())
    return dlib.get_face_chip(rgb, shapes(rgb, face), size=CHIP, padding=0.25)


def yunet_points(bgr: np.ndarray, detector: YuNetDetector) -> np.ndarray | None:
    """YuNet's five landmarks of the largest face in `bgr`, or None."""
    found = detector.detect(bgr)
    return found[0].landmarks if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="where to write the template (JSON)")
    parser.add_argument("--fit", type=int, default=400, help="images to fit the template on")
    parser.add_argument("--check", type=int, default=300, help="other images to check it on")
    args = parser.parse_args()
    run_reporting_errors("fit_template", lambda: fit(args))


def fit(args: argparse.Namespace) -> None:
    """Fit the template on LFW and check it, as the arguments say."""
    unseen = held_out_people(read_folds(args.pairs), 10)
    paths = sorted(p for person in person_folders(args.lfw) if person.name not in unseen for p in person.glob("*.jpg"))
    order = np.random.default_rng(0).permutation(len(paths))
    fit_paths = [paths[i] for i in order[: args.fit]]
    check_paths = [paths[i] for i in order[args.fit : args.fit + args.check]]
    tools, detector = dlib_tools(), YuNetDetector(min_size=40)

    points = []
    for path in fit_paths:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        chip = dlib_chip(rgb, tools)
        if chip is None:
            continue
        padded = cv2.copyMakeBorder(cv2.cvtColor(chip, cv2.COLOR_RGB2BGR), PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
        found = yunet_points(padded, detector)
        if found is not None:
            points.append(found - PAD)
    points = np.array(points)
    template = points.mean(axis=0)
    spread = np.linalg.norm(points - template, axis=2).mean(axis=0)

    cosines = []
    for path in check_paths:
        bgr = cv2.imread(str(path))
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        chip, found = dlib_chip(rgb, tools), yunet_points(bgr, detector)
        if chip is None or found is None:
            continue
        ours = warp_face(rgb, chip_transform(found, template / CHIP, (CHIP, CHIP)), (CHIP, CHIP))
        a, b = (np.array(tools[2].compute_face_descriptor(c)) for c in (chip, ours))
        cosines.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    cosines = np.array(cosines)

    result = {
        "face_template": (template / CHIP).round(5).tolist(),
        "pixels_in_150": template.round(2).tolist(),
        "fitted_on": f"{len(points)} LFW images of people in no View 2 fold (seed 0)",
        "mean_distance_to_template_px": spread.round(2).tolist(),
        "check": {
            "images": len(cosines),
            "cosine_to_dlib_chip_mean": round(float(cosines.mean()), 4),
            "cosine_p5": round(float(np.percentile(cosines, 5)), 4),
            "cosine_min": round(float(cosines.min()), 4),
        },
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
