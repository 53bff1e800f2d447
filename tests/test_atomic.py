import os
import stat
import threading

import pytest

from edge_runtime.core import atomic
from edge_runtime.core.atomic import atomic_path, atomic_write_bytes


@pytest.fixture
def umask():
    """Set the process umask for one test (a test may; the writer must not)."""
    previous = os.umask(0o022)

    def set_to(value: int) -> None:
        os.umask(value)

    yield set_to
    os.umask(previous)


@pytest.fixture
def no_umask_calls(monkeypatch):
    """Fail on any os.umask call: setting it, even for a moment, changes it under every thread."""

    def refuse(*_):
        raise AssertionError(f"os.umask called from thread {threading.current_thread().name}")

    monkeypatch.setattr(os, "umask", refuse)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, no_umask_calls):
    path = tmp_path / "kept.json"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(path) as temporary:
        temporary.write_bytes(b"half of the new")
        raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.json"]


def test_an_interrupted_write_keeps_the_old_file(tmp_path, no_umask_calls):
    path = tmp_path / "kept.json"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(path) as temporary:
        temporary.write_bytes(b"half")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["kept.json"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o027, 0o002])
def test_the_new_file_gets_the_mode_open_gives_and_the_umask_is_left_alone(tmp_path, umask, monkeypatch, mask):
    umask(mask)
    with open(tmp_path / "plain", "w"):
        pass
    expected = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert expected == 0o666 & ~mask
    calls = []
    real = os.umask
    monkeypatch.setattr(os, "umask", lambda value: calls.append(value) or real(value))
    atomic_write_bytes(tmp_path / "new", b"data")
    (tmp_path / "replaced").write_bytes(b"old")
    atomic_write_bytes(tmp_path / "replaced", b"new")
    assert calls == []
    monkeypatch.undo()
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == expected
    assert stat.S_IMODE((tmp_path / "replaced").stat().st_mode) == expected
    assert (tmp_path / "new").read_bytes() == b"data" and (tmp_path / "replaced").read_bytes() == b"new"
    assert os.umask(mask) == mask  # still the test's umask


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("kept", [0o600, 0o640, 0o664])
def test_a_replaced_file_keeps_its_permissions(tmp_path, umask, kept):
    umask(0o022)
    private = tmp_path / "gallery.npz"
    private.write_bytes(b"old")
    private.chmod(kept)
    atomic_write_bytes(private, b"new")
    assert stat.S_IMODE(private.stat().st_mode) == kept and private.read_bytes() == b"new"


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="POSIX permissions, which root ignores")
def test_a_umask_that_takes_the_owners_write_still_lets_the_file_be_written(tmp_path, umask):
    umask(0o222)
    atomic_write_bytes(tmp_path / "read_only", b"data")
    assert (tmp_path / "read_only").read_bytes() == b"data"
    assert stat.S_IMODE((tmp_path / "read_only").stat().st_mode) == 0o444


@pytest.mark.skipif(os.name == "nt", reason="folders are synced on POSIX")
def test_the_file_is_synced_before_the_rename_and_its_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(handle):
        events.append("folder" if stat.S_ISDIR(os.fstat(handle).st_mode) else "file")
        real_fsync(handle)

    def replace(source, target):
        events.append("rename")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    atomic_write_bytes(tmp_path / "synced", b"data")
    assert events == ["file", "rename", "folder"]


def test_stale_temporaries_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    path = tmp_path / "g.npz"
    dead, live = tmp_path / ".g.npz.999999999.abc123.tmp", tmp_path / f".g.npz.{os.getpid()}.def456.tmp"
    dead.write_bytes(b"")
    live.write_bytes(b"")
    atomic_write_bytes(path, b"x")
    assert not dead.exists() and live.exists() and path.read_bytes() == b"x"
