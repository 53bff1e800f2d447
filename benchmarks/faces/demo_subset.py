"""Copy the small LFW subset the tests use into data/demo/lfw: people of View 2 fold 1, whom the
bundled face model never saw.

`enrolled/<person>/` holds the two images of one of fold 1's same-person pairs (the first twelve
pairs, in the file's order, whose two faces the runtime detects and passes); `strangers/<person>/`
one image each of eight other fold 1 people; `turned/`: the first fold 1 image whose face the
quality gate calls turned away. The rule does not look at the model.

Usage: python -m benchmarks.faces.demo_subset LFW_ROOT PAIRS_FILE OUT_DIR
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from benchmarks.faces.lfw import image_path, read_folds
from edge_runtime.face_quality import QualityGate
from edge_runtime.preprocessing import read_image
from edge_runtime.regions import face_regions

PEOPLE, STRANGERS = 12, 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    finder = face_regions(gate=QualityGate())

    def verdict(person: str, number: int) -> str | None:
        region = finder.largest(read_image(image_path(args.lfw, person, number)))
        return "undetected" if region is None else region.skipped

    def usable(person: str, number: int) -> bool:
        return verdict(person, number) is None

    def copy(kind: str, person: str, number: int) -> None:
        source = image_path(args.lfw, person, number)
        (args.out / kind / person).mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, args.out / kind / person / source.name)

    fold = read_folds(args.pairs)[0]
    chosen: list[str] = []
    for a, i, _, j, same in fold:
        if same and a not in chosen and len(chosen) < PEOPLE and usable(a, i) and usable(a, j):
            chosen.append(a)
            copy("enrolled", a, i)
            copy("enrolled", a, j)
    strangers: list[str] = []
    for a, i, b, j, same in fold:
        for person, number in ((a, i), (b, j)):
            if not same and len(strangers) < STRANGERS and person not in chosen + strangers and usable(person, number):
                strangers.append(person)
                copy("strangers", person, number)
    turned = next(((a, i) for a, i, *_ in fold if verdict(a, i) == "turned"), None)
    if turned is None:
        raise SystemExit("no turned-away face in fold 1")
    copy("turned", *turned)
    print(f"{len(chosen)} enrolled people, {len(strangers)} strangers in {args.out}")


if __name__ == "__main__":
    main()
