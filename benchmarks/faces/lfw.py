"""LFW for face recognition: the View 2 pair folds, and faces cropped the way the runtime crops them.

Faces are found and cut by the runtime's own face regions (`--detector face`: Haar box, eyes
levelled), so a model trained on these crops sees at run time what it saw in training.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edge_runtime.detectors import crop
from edge_runtime.preprocessing import read_image
from edge_runtime.regions import RegionFinder, face_regions

Pair = tuple[str, int, str, int, bool]


def read_folds(pairs_file: str | Path) -> list[list[Pair]]:
    """The View 2 folds: each a list of (person, image number, person, image number, same)."""
    lines = Path(pairs_file).read_text().split("\n")
    folds_count, per_fold = (int(v) for v in lines[0].split())
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    folds = []
    for fold in range(folds_count):
        chunk = rows[fold * 2 * per_fold : (fold + 1) * 2 * per_fold]
        pairs = []
        for row in chunk:
            if len(row) == 3:
                pairs.append((row[0], int(row[1]), row[0], int(row[2]), True))
            else:
                pairs.append((row[0], int(row[1]), row[2], int(row[3]), False))
        folds.append(pairs)
    return folds


def held_out_people(folds: list[list[Pair]], count: int) -> set[str]:
    """Everyone who appears in the first `count` folds: never to be trained on."""
    return {name for fold in folds[:count] for a, _, b, _, _ in fold for name in (a, b)}


def image_path(root: Path, person: str, number: int) -> Path:
    """Where LFW keeps image `number` of `person`."""
    return root / person / f"{person}_{number:04d}.jpg"


def lfw_faces() -> RegionFinder:
    """Face regions as the runtime cuts them, down to the 40 px faces of some LFW images."""
    return face_regions(min_face=40)


def face_crop(image: np.ndarray, faces: RegionFinder) -> tuple[np.ndarray, bool]:
    """The face nearest the centre (LFW centres the named person), or the central square if none."""
    boxes = faces.detect(image)
    height, width = image.shape[:2]
    if boxes:
        centre = np.array([width / 2, height / 2])
        box = min(boxes, key=lambda b: np.linalg.norm(np.array([b[0] + b[2] / 2, b[1] + b[3] / 2]) - centre))
        return faces.cut(image, [box])[0].image, True
    side = min(height, width) // 2
    return crop(image, ((width - side) // 2, (height - side) // 2, side, side)), False


def load_face(root: Path, person: str, number: int, faces: RegionFinder) -> tuple[np.ndarray, bool]:
    """Read one LFW image and cut its face."""
    return face_crop(read_image(image_path(root, person, number)), faces)


def model_benchmark_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every LFW benchmark of a model takes: MODEL LFW_ROOT PAIRS_FILE [--test-folds N]."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--test-folds", type=int, default=5, help="the first N folds are held out")
    return parser
