"""LFW for face recognition: the View 2 pair folds, and faces cut the way the runtime cuts them.

Faces are found and cut by the runtime's own face regions (YuNet landmarks warped onto the model's
face template; the Haar box for older models without one), so a model is measured on, and trained
on, what it sees at run time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_runtime.core.errors import DatasetError, SiameseEdgeError
from edge_runtime.faces.face_alignment import LANDMARKS, turned
from edge_runtime.faces.face_quality import QualityGate
from edge_runtime.faces.regions import RegionFinder, face_regions
from edge_runtime.imaging.detectors import Detection, box_centre
from edge_runtime.imaging.preprocessing import InputSpec, read_image

Pair = tuple[str, int, str, int, bool]
MIN_FACE = 40  # LFW's 250×250 images hold faces down to about 40 px


def read_folds(pairs_file: str | Path) -> list[list[Pair]]:
    """The View 2 folds: each a list of (person, image number, person, image number, same)."""
    try:
        return _folds(Path(pairs_file).read_text().split("\n"))
    except OSError as error:
        raise SiameseEdgeError(f"cannot read the pairs file {pairs_file}: {error.strerror or error}") from None
    except (ValueError, IndexError) as error:
        raise SiameseEdgeError(f"{pairs_file} is not laid out as LFW's pairs.txt: {error}") from None


def _folds(lines: list[str]) -> list[list[Pair]]:
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
        if len(pairs) != 2 * per_fold:
            raise ValueError(f"fold {fold + 1} has {len(pairs)} pairs, not the {2 * per_fold} its first line says")
        folds.append(pairs)
    return folds


def held_out_people(folds: list[list[Pair]], count: int) -> set[str]:
    """Everyone who appears in the first `count` folds: never to be trained on."""
    return {name for fold in folds[:count] for a, _, b, _, _ in fold for name in (a, b)}


def person_folders(root: Path) -> list[Path]:
    """LFW's folders, one a person, in name order (a DatasetError when `root` is not a folder)."""
    if not root.is_dir():
        raise DatasetError(f"no LFW folder at {root} (it holds one folder of photos a person)")
    return sorted(p for p in root.iterdir() if p.is_dir())


def image_path(root: Path, person: str, number: int) -> Path:
    """Where LFW keeps image `number` of `person`."""
    return root / person / f"{person}_{number:04d}.jpg"


def lfw_faces(spec: InputSpec, gate: QualityGate | None = None, landmarks: str = "dlib") -> RegionFinder:
    """Face regions as the runtime cuts them for a model with input `spec` (YuNet with a face template,
    the Haar cascade without; dlib's points found by `landmarks`), down to LFW's 40 px faces."""
    return face_regions(spec, "face" if spec.face_template else "haar", MIN_FACE, gate, landmarks=landmarks)


def central_detection(image: np.ndarray, faces: RegionFinder) -> Detection | None:
    """The detected face nearest the image centre (LFW centres the named person), or None."""
    found = faces.detect(image)
    if not found:
        return None
    centre = np.array([image.shape[1] / 2, image.shape[0] / 2])
    return min(found, key=lambda d: np.linalg.norm(box_centre(d.box) - centre))


def face_crop(image: np.ndarray, faces: RegionFinder) -> tuple[np.ndarray, bool]:
    """The central face as the model sees it, or, when none is found, the central half of the image."""
    found = central_detection(image, faces)
    if found is not None:
        return faces.cut(image, [found])[0].image, True
    height, width = image.shape[:2]
    side = min(height, width) // 2
    return image[(height - side) // 2 : (height + side) // 2, (width - side) // 2 : (width + side) // 2], False


def load_face(root: Path, person: str, number: int, faces: RegionFinder, turn: float = 0.0) -> tuple[np.ndarray, bool]:
    """Read one LFW image, turned by `turn` degrees if asked, and cut its face."""
    image = read_image(image_path(root, person, number))
    return face_crop(turned(image, turn) if turn else image, faces)


def run_reporting_errors(name: str, measure: Callable[[], None]) -> None:
    """Run a benchmark's `measure`, ending on one line when its input is bad (a missing image, model
    or pairs file, a pairs file of another layout)."""
    try:
        measure()
    except SiameseEdgeError as error:
        raise SystemExit(f"{name}: {error}") from None


def model_benchmark_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every LFW benchmark of a model takes: MODEL LFW_ROOT PAIRS_FILE [--test-folds N]."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--test-folds", type=int, default=10, help="the first N folds are measured")
    parser.add_argument("--landmarks", choices=LANDMARKS, default="dlib", help="as the CLI's --landmarks")
    return parser


def training_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments of a tool that learns from LFW people outside the test folds: LFW_ROOT PAIRS_FILE
    OUT [--test-folds 5]."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lfw", type=Path)
    parser.add_argument("pairs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--test-folds", type=int, default=5, help="people of the first N folds are left out")
    return parser
