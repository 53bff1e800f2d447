"""Shared fixtures: the bundled demo data (real images) and small copies of it to damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"


@pytest.fixture(scope="session")
def faces_root() -> Path:
    """The bundled AT&T faces: 40 subjects, 10 images each."""
    return DEMO / "att_faces"


@pytest.fixture(scope="session")
def omniglot_root() -> Path:
    """The bundled Omniglot subset: four alphabets, 20 drawings per character."""
    return DEMO / "omniglot"


@pytest.fixture
def small_faces(tmp_path: Path, faces_root: Path) -> Path:
    """A writable copy of twelve subjects of the AT&T faces."""
    root = tmp_path / "faces"
    for subject in sorted(p for p in faces_root.iterdir() if p.is_dir())[:12]:
        shutil.copytree(subject, root / subject.name)
    return root
