"""Write a folder of face crops cut by the runtime, for training, calibration or conversion: LFW people
who appear in none of the first N View 2 folds, with at least --min-images detected faces each.

With `--template` (`dlib`: dlib's own face chip, from dlib's 5-point landmarks; or a template JSON
file such as `benchmarks/faces/dlib_template.json`, YuNet's points) faces are found by YuNet and
warped onto the template at --size pixels, and the template is written beside the crops
(`face_template.json`) so that `siamese-train` and `convert-dlib-face` put it in the model. Without
it, faces are cut from the Haar cascade's box with the eyes levelled (the older models' cut).

Usage: python -m benchmarks.faces.prepare LFW_ROOT PAIRS_FILE OUT_DIR [--test-folds 5] [--template dlib --size 150]
"""

from __future__ import annotations

import argparse

import cv2

from benchmarks.faces.lfw import (
    face_crop,
    held_out_people,
    lfw_faces,
    person_folders,
    read_folds,
    run_reporting_errors,
    training_parser,
)
from edge_runtime.faces.face_alignment import TEMPLATE_FILE, named_template, template_spec, write_face_template
from edge_runtime.imaging.preprocessing import InputSpec, read_image


def main() -> None:
    parser = training_parser(__doc__)
    parser.add_argument("--min-images", type=int, default=2, help="people with fewer detected faces are left out")
    parser.add_argument("--template", help="cut faces onto this face template: dlib, or a JSON file")
    parser.add_argument("--size", type=int, default=150, help="crop size with --template, in pixels")
    args = parser.parse_args()
    run_reporting_errors("prepare", lambda: prepare(args))


def prepare(args: argparse.Namespace) -> None:
    """Cut and write the faces the arguments describe."""
    template = named_template(args.template) if args.template else None
    spec = (
        template_spec(template, args.size) if template else InputSpec(args.size, args.size, 3, (0.5,) * 3, (0.5,) * 3)
    )
    finder = lfw_faces(spec)
    held_out = held_out_people(read_folds(args.pairs), args.test_folds)
    people = [p for p in person_folders(args.lfw) if p.name not in held_out]
    kept = images = 0
    for person in people:
        files = sorted(person.glob("*.jpg"))
        if len(files) < args.min_images:
            continue
        faces = [face for face, found in (face_crop(read_image(f), finder) for f in files) if found]
        if len(faces) < args.min_images:
            continue
        (args.out / person.name).mkdir(parents=True, exist_ok=True)
        for index, face in enumerate(faces):
            cv2.imwrite(str(args.out / person.name / f"{index:04d}.png"), face)
        kept, images = kept + 1, images + len(faces)
    if template is not None:
        write_face_template(args.out / TEMPLATE_FILE, template)
    print(f"{kept} people, {images} faces in {args.out}; {len(held_out)} people of folds 1-{args.test_folds} left out")


if __name__ == "__main__":
    main()
