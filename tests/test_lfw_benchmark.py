"""The LFW View 2 benchmark, run as its users run it, on the demo's LFW photos laid out as LFW lays them
out, with a pairs file of two small folds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.faces.lfw import read_folds, turned
from edge_runtime.core.bundled import DEFAULT_MODEL, packaged_model
from edge_runtime.imaging.preprocessing import read_image

REPO = Path(__file__).resolve().parents[1]
DEMO_LFW = REPO / "edge_runtime" / "demo_data" / "lfw"
PER_FOLD = 8  # same-person pairs a fold, and as many pairs of two people


@pytest.fixture(scope="module")
def tiny_view2(tmp_path_factory) -> tuple[Path, Path]:
    """An LFW root of the demo's 16 people and a two-fold pairs file in View 2's format."""
    root = tmp_path_factory.mktemp("lfw")
    people = sorted([*DEMO_LFW.glob("enrolled/*"), *DEMO_LFW.glob("strangers/*")])  # three photos or more each
    for person in people:
        (root / person.name).symlink_to(person)
    names = [person.name for person in people]
    same = [f"{name}\t1\t2" for name in names]
    different = [f"{a}\t1\t{b}\t2" for a, b in zip(names, names[1:] + names[:1], strict=True)]
    rows = [f"2\t{PER_FOLD}"]
    for fold in range(2):
        rows += same[fold * PER_FOLD : (fold + 1) * PER_FOLD] + different[fold * PER_FOLD : (fold + 1) * PER_FOLD]
    pairs = root / "pairs.txt"
    pairs.write_text("\n".join(rows) + "\n")
    return root, pairs


def _view2(root: Path, pairs: Path, *options: str) -> dict:
    command = [sys.executable, "-m", "benchmarks.faces.lfw_view2", packaged_model(DEFAULT_MODEL), str(root),
               str(pairs), "--test-folds", "2", *options]  # fmt: skip
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO).stdout)


def test_the_pairs_file_reads_as_two_folds_of_same_and_different_people(tiny_view2):
    folds = read_folds(tiny_view2[1])
    assert [len(fold) for fold in folds] == [2 * PER_FOLD] * 2
    assert [sum(same for *_, same in fold) for fold in folds] == [PER_FOLD] * 2


def test_the_default_model_verifies_pairs_upright_and_with_the_second_photo_turned(tiny_view2):
    """dlib's landmarks follow a tilted head, so turning every pair's second photo by 20 degrees
    costs the default model almost nothing (LFW folds 1-5: 98.80% upright, 98.77% turned)."""
    upright, turned = _view2(*tiny_view2), _view2(*tiny_view2, "--turn", "20")
    for report in (upright, turned):
        assert report["pairs"] == 4 * PER_FOLD and report["images without a detected face (central crop used)"] == 0
        assert report["accuracy (mean over folds)"] >= 0.9 and report["tar_at_far_1e-2"] >= 0.8
    assert turned["accuracy at the model's threshold"] >= upright["accuracy at the model's threshold"] - 0.07


def test_a_turned_photo_is_the_photo_rotated_about_its_centre():
    photo = read_image(DEMO_LFW / "enrolled" / "Angela_Bassett" / "Angela_Bassett_0001.jpg").astype(np.float32)
    there_and_back = turned(turned(photo, 20), -20)
    middle = slice(70, 180)  # away from the corners that the turn replicates
    assert np.abs(turned(photo, 20) - photo)[middle, middle].mean() > 10
    assert np.abs(there_and_back - photo)[middle, middle].mean() < 3


def test_a_truncated_pairs_file_is_refused_in_one_line(tiny_view2, tmp_path):
    root, pairs = tiny_view2
    truncated = tmp_path / "pairs.txt"
    truncated.write_text("\n".join(pairs.read_text().splitlines()[:-3]) + "\n")
    command = [sys.executable, "-m", "benchmarks.faces.lfw_view2", packaged_model(DEFAULT_MODEL), str(root),
               str(truncated), "--test-folds", "2"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1 and not done.stdout
    said = f"{truncated} is not laid out as LFW's pairs.txt: fold 2 has 13 pairs, not the 16 its first line says"
    assert done.stderr.strip() == f"lfw_view2: {said}"
