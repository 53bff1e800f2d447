"""Write the training set for the face model: LFW people who appear in none of the held-out View 2
folds, with at least two detected faces, cropped as the runtime crops them.

Usage: python benchmarks/faces/prepare.py LFW_ROOT PAIRS_FILE OUT_DIR [--test-folds 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from benchmarks.faces.lfw import face_crop, held_out_people, lfw_faces, read_folds
from edge_runtime.preprocessing import read_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--test-folds", type=int, default=5, help="the first N folds are held out")
    args = parser.parse_args()
    folds = read_folds(args.pairs)
    held_out = held_out_people(folds, args.test_folds)
    finder = lfw_faces()
    people = [p for p in sorted(args.lfw.iterdir()) if p.is_dir() and p.name not in held_out]
    kept = images = 0
    for person in people:
        files = sorted(person.glob("*.jpg"))
        if len(files) < 2:
            continue
        faces = [face for face, found in (face_crop(read_image(f), finder) for f in files) if found]
        if len(faces) < 2:
            continue
        (args.out / person.name).mkdir(parents=True, exist_ok=True)
        for index, face in enumerate(faces):
            cv2.imwrite(str(args.out / person.name / f"{index:04d}.png"), face)
        kept, images = kept + 1, images + len(faces)
    print(f"{kept} people, {images} faces in {args.out}; {len(held_out)} people of folds 1-{args.test_folds} held out")


if __name__ == "__main__":
    main()
