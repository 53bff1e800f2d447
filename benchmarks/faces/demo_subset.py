"""Copy the small LFW subset that `edge-demo` and the tests use into edge_runtime/demo_data/lfw.

People of View 2, in the pair file's order (the default face model saw no LFW person): the first
eight with five photos or more whose first five faces the runtime finds and its quality gate passes
go to `enrolled/<person>/` (the demo enrolls the first photo and shows the other four); the next
eight with three such photos go to `strangers/<person>/` (never enrolled); the first photo whose
face the gate calls turned away goes to `turned/`. The rule does not look at the recognition model.

Usage: python -m benchmarks.faces.demo_subset LFW_ROOT PAIRS_FILE OUT_DIR
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from benchmarks.faces.lfw import lfw_faces, read_folds
from edge_runtime.faces.face_alignment import DLIB_TEMPLATE, template_spec
from edge_runtime.faces.face_quality import QualityGate
from edge_runtime.imaging.preprocessing import read_image

PEOPLE, PHOTOS, STRANGERS, STRANGER_PHOTOS = 8, 5, 8, 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    spec = template_spec(DLIB_TEMPLATE)
    finder = lfw_faces(spec, QualityGate())

    def verdict(path: Path) -> str | None:
        region = finder.largest(read_image(path))
        return "undetected" if region is None else region.skipped

    def copy(kind: str, paths: list[Path]) -> None:
        for path in paths:
            (args.out / kind / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, args.out / kind / path.parent.name / path.name)

    people = list(dict.fromkeys(name for fold in read_folds(args.pairs) for a, _, b, _, _ in fold for name in (a, b)))
    enrolled, strangers, turned = [], [], None
    for person in people:
        photos = sorted((args.lfw / person).glob("*.jpg"))
        wanted = PHOTOS if len(enrolled) < PEOPLE else STRANGER_PHOTOS
        if turned is None and photos and verdict(photos[0]) == "turned":
            turned = photos[0]
            copy("turned", [turned])
            continue
        if len(strangers) == STRANGERS or len(photos) < wanted or any(verdict(p) for p in photos[:wanted]):
            continue
        kind, chosen = ("enrolled", enrolled) if len(enrolled) < PEOPLE else ("strangers", strangers)
        chosen.append(person)
        copy(kind, photos[:wanted])
        if len(strangers) == STRANGERS and turned is not None:
            break
    print(f"{len(enrolled)} enrolled people, {len(strangers)} strangers, turned: {turned} in {args.out}")


if __name__ == "__main__":
    main()
