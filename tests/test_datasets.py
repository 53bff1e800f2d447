from pathlib import Path

import numpy as np
import pytest

from edge_runtime.core.errors import DatasetError
from edge_runtime.imaging.preprocessing import InputSpec
from train.datasets import add_rotated_classes, load_images, scan_dataset, split_classes

SPEC = InputSpec(32, 32, 1)


def test_folder_layout_has_a_class_and_a_group_per_folder(faces_root):
    records = scan_dataset(faces_root)
    assert len(records) == 400
    assert len({r.label for r in records}) == 40
    assert all(r.label == r.group for r in records)


def test_omniglot_layout_groups_characters_by_alphabet(omniglot_root):
    records = scan_dataset(omniglot_root)
    assert {r.group for r in records} == {"Latin", "Greek", "Futurama", "Korean"}
    assert "Latin/character01" in {r.label for r in records}


def test_split_is_disjoint_by_group_and_deterministic(omniglot_root):
    records = scan_dataset(omniglot_root)
    split = split_classes(records, (2, 1, 1), seed=3)
    assert split == split_classes(records, (2, 1, 1), seed=3)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    alphabets = [{name.split("/")[0] for name in part} for part in parts]
    assert [len(a) for a in alphabets] == [2, 1, 1]
    assert not (alphabets[0] & alphabets[1] or alphabets[0] & alphabets[2])


def test_split_fractions(faces_root):
    split = split_classes(scan_dataset(faces_root), (0.6, 0.15, 0.25), seed=0)
    assert (len(split.train), len(split.val), len(split.test)) == (24, 6, 10)


def test_corrupt_and_foreign_files_are_skipped_and_counted(small_faces, caplog):
    (small_faces / "s1" / "truncated.png").write_bytes((small_faces / "s1" / "1.png").read_bytes()[:100])
    (small_faces / "s2" / "notes.jpg").write_text("not an image")
    records = scan_dataset(small_faces)
    classes = tuple(sorted({r.label for r in records}))
    image_set = load_images(records, classes, SPEC)
    assert len(image_set) == 120
    assert image_set.images.shape == (120, 32, 32, 1)
    assert "skipped 2 unreadable image(s)" in caplog.text


def test_an_empty_class_is_an_error(small_faces):
    (small_faces / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        scan_dataset(small_faces)


def test_a_class_of_only_corrupt_files_is_an_error(tmp_path, small_faces):
    for image in (small_faces / "s1").iterdir():
        image.write_bytes(b"\x89PNG broken")
    records = scan_dataset(small_faces)
    with pytest.raises(DatasetError, match="no readable image"):
        load_images(records, tuple(sorted({r.label for r in records})), SPEC)


def test_fewer_than_two_classes_is_an_error(tmp_path, faces_root):
    one = tmp_path / "one"
    (one / "s1").mkdir(parents=True)
    (one / "s1" / "1.png").write_bytes((faces_root / "s1" / "1.png").read_bytes())
    with pytest.raises(DatasetError, match="fewer than two classes"):
        scan_dataset(one)


def test_missing_folder_is_an_error(tmp_path: Path):
    with pytest.raises(DatasetError, match="does not exist"):
        scan_dataset(tmp_path / "nowhere")


def test_rotated_classes_are_new_classes(omniglot_root):
    records = [r for r in scan_dataset(omniglot_root) if r.group == "Latin"][:40]
    image_set = load_images(records, ("Latin/character01", "Latin/character02"), SPEC)
    rotated = add_rotated_classes(image_set)
    assert len(rotated.class_names) == 8 and len(rotated) == 4 * len(image_set)
    first_rotated = rotated.images[len(image_set)]
    assert np.array_equal(first_rotated, np.rot90(image_set.images[0]))


def test_group_separator_keeps_a_signers_genuine_and_forged_folders_together(tmp_path, faces_root):
    image = (faces_root / "s1" / "1.png").read_bytes()
    for folder in ("001", "001_forg", "002", "002_forg", "003", "003_forg"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.png").write_bytes(image)
    records = scan_dataset(tmp_path, "folders", group_separator="_")
    assert {r.label: r.group for r in records}["002_forg"] == "002"
    split = split_classes(records, (1, 1, 1), seed=0)
    for part in (split.train, split.val, split.test):
        assert len({name.split("_")[0] for name in part}) == 1 and len(part) == 2
