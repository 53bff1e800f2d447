"""Saving a gallery where others save it too, or where it cannot be saved: several `edge-gallery
enroll` at once on one gallery all land (an advisory lock beside it), and a read-only or full file
system is one line and a non-zero exit, the old gallery untouched. Real processes, real mounts."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.identity.enrollment import add_to_saved, enroll_images, open_gallery
from edge_runtime.identity.gallery import Gallery
from edge_runtime.inference.embedder import Embedder

SCRIPTS = Path(sys.executable).parent  # the installed commands, run as a user runs them
MODEL = ["-m", str(packaged_model(ATT_FACES_MODEL))]  # the small AT&T model: fast to start


def _enroll(gallery: Path, name: str, *images: Path) -> list[str]:
    return [str(SCRIPTS / "edge-gallery"), "enroll", *MODEL, "-g", str(gallery), "--name", name, *map(str, images)]


def test_parallel_enrolments_on_one_gallery_all_land(tmp_path, faces_root):
    """20 rounds of 3 `edge-gallery enroll` processes at once on one new gallery: every identity is in it."""
    people = {"a": "s1", "b": "s2", "c": "s3"}
    for round_ in range(20):
        gallery = tmp_path / f"round{round_}" / "c.npz"
        gallery.parent.mkdir()
        processes = [
            subprocess.Popen(
                _enroll(gallery, name, faces_root / subject / "1.png"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for name, subject in people.items()
        ]
        outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in processes]
        for process in processes:
            process.stdout.close()
            process.stderr.close()
        assert all(code == 0 for code, _ in outcomes), outcomes
        assert sorted(Gallery.load(gallery).names) == sorted(people), f"round {round_}"


def test_a_live_enrolment_keeps_what_others_enrolled_since_the_run_began(tmp_path, faces_root):
    """The live window saves the gallery as it is on disk now plus its own face, not the copy it
    loaded at the start (that would drop an enrolment another process made meanwhile)."""
    gallery = tmp_path / "g.npz"
    assert subprocess.run(_enroll(gallery, "a", faces_root / "s1" / "1.png"), capture_output=True).returncode == 0
    embedder = Embedder(packaged_model(ATT_FACES_MODEL), providers=("cpu",))
    running = open_gallery(gallery, embedder)  # what a recognition run loaded
    assert subprocess.run(_enroll(gallery, "b", faces_root / "s2" / "1.png"), capture_output=True).returncode == 0
    enroll_images(running, embedder, "c", [faces_root / "s3" / "1.png"])  # in the run's memory
    add_to_saved(gallery, embedder, "c", running.embeddings[running.owners == running.names.index("c")], ["live"])
    assert Gallery.load(gallery).names == ["a", "b", "c"]


def _one_clean_line(done: subprocess.CompletedProcess, gallery: Path, reason: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[-1] == f"edge-gallery enroll: error: cannot save gallery {gallery}: {reason}; it is left as it was"
    assert sum("error" in line.lower() for line in lines) == 1, done.stderr


def test_saving_on_a_read_only_file_system_is_one_line_and_the_gallery_untouched(mounted, faces_root):
    folder = mounted("size=1m,mode=0755")
    gallery = folder / "g.npz"
    assert subprocess.run(_enroll(gallery, "a", faces_root / "s1" / "1.png"), capture_output=True).returncode == 0
    before = gallery.read_bytes()
    remount = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True)
    if remount.returncode != 0:
        pytest.skip(f"cannot remount read-only: {remount.stderr.strip()}")
    done = subprocess.run(_enroll(gallery, "b", faces_root / "s2" / "1.png"), capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    _one_clean_line(done, gallery, os.strerror(30))  # EROFS: Read-only file system
    assert gallery.read_bytes() == before


def test_saving_on_a_full_file_system_is_one_line_and_the_gallery_untouched(mounted, faces_root):
    folder = mounted("size=64k,mode=0755")
    gallery = folder / "g.npz"
    assert subprocess.run(_enroll(gallery, "a", faces_root / "s1" / "1.png"), capture_output=True).returncode == 0
    before = gallery.read_bytes()
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:  # fill what is left
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()
    done = subprocess.run(_enroll(gallery, "b", *(faces_root / "s2").glob("*.png")), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    _one_clean_line(done, gallery, os.strerror(28))  # ENOSPC: No space left on device
    assert gallery.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == sorted([".g.npz.lock", "filler", "g.npz"])  # no temporary
