"""Labelled image folders: which images there are, their class and group (read by every stage).

Two layouts are understood. `folders`: `root/<class>/<image>`, one class per folder, each class
its own group. `omniglot`: `root/<alphabet>/<character>/<image>`, one class per character, grouped
by alphabet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_runtime.core.errors import DatasetError
from edge_runtime.imaging.preprocessing import image_files

LAYOUTS = ("auto", "folders", "omniglot")


@dataclass(frozen=True)
class ImageRecord:
    """One image file with its class and the group (alphabet, person) the class belongs to."""

    path: Path
    label: str
    group: str


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def detect_layout(root: Path) -> str:
    """`folders` when class folders hold images, `omniglot` when they hold character folders."""
    for folder in _subfolders(root):
        if image_files(folder):
            return "folders"
        if any(image_files(sub) for sub in _subfolders(folder)):
            return "omniglot"
    raise DatasetError(f"{root} holds no class folders with images (expected root/<class>/<image>)")


def scan_dataset(root: str | Path, layout: str = "auto", group_separator: str = "") -> list[ImageRecord]:
    """List every image of a dataset with its class and group; raise DatasetError on a bad layout.

    With `group_separator`, class folders that share the part of their name before it form one
    group (signatures: `012/` and `012_forg/` are the same signer, never split apart).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    if layout not in LAYOUTS:
        raise DatasetError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "folders":
        class_folders = [
            (folder, folder.name, folder.name.split(group_separator)[0] if group_separator else folder.name)
            for folder in _subfolders(root)
        ]
    else:
        class_folders = [
            (character, f"{alphabet.name}/{character.name}", alphabet.name)
            for alphabet in _subfolders(root)
            for character in _subfolders(alphabet)
        ]
    records = []
    for folder, label, group in class_folders:
        files = image_files(folder)
        if not files:
            raise DatasetError(f"class folder {folder} holds no images; remove it or add images")
        records.extend(ImageRecord(path, label, group) for path in files)
    if len({r.label for r in records}) < 2:
        raise DatasetError(f"{root} has fewer than two classes; a Siamese network needs two at least")
    return records
