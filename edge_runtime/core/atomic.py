"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The temporary file is `.NAME.PID.RANDOM.tmp` beside NAME. It is removed on any error (and on
Ctrl-C or SIGTERM); one left by a process that was killed outright (kill -9, power loss) is
removed by the next save of NAME, once no process with that PID runs.

`exclusive_lock` serialises read-modify-writes of one file among processes: an advisory lock
(`flock`) on `.NAME.lock` beside it. Readers need none: they see the old file or the new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; read-modify-writes there are not serialised
    fcntl = None

log = logging.getLogger(__name__)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def temporary_name(path: Path, token: str, keep_suffix: bool = False) -> str:
    """The name of a temporary of `path` for `token` (PID.RANDOM): `.NAME.TOKEN.tmp`, or with
    `keep_suffix` `.STEM.TOKEN.partial.SUFFIX` (for writers that pick a format by the suffix, as OpenCV's)."""
    return f".{path.stem}.{token}.partial{path.suffix}" if keep_suffix else f".{path.name}.{token}.tmp"


def remove_stale_temporaries(path: str | Path, keep_suffix: bool = False) -> list[Path]:
    """Delete the temporaries of `path` that processes no longer running left behind; returns them."""
    path = Path(path)
    before, after = temporary_name(path, "\0", keep_suffix).split("\0")  # no file name holds a NUL
    pattern = re.compile(re.escape(before) + r"(\d+)\.\w+" + re.escape(after))
    removed = []
    if not path.parent.is_dir():
        return removed
    for entry in path.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if match and not _running(int(match.group(1))):
            entry.unlink(missing_ok=True)
            removed.append(entry)
            log.info("removed %s, left by an interrupted run", entry)
    return removed


def create_temporary(path: Path, keep_suffix: bool = False) -> tuple[Path, int]:
    """A new, empty temporary beside `path`, this process's own, and the mode `open(path, "w")` would
    give a new file.

    It is created with mode 0o666, which the kernel reduces by the umask (or by the folder's
    default ACL) as it does for any new file; reading the umask with os.umask would set it for a
    moment, under every thread of the process.
    """
    while True:
        temporary = path.with_name(temporary_name(path, f"{os.getpid()}.{secrets.token_hex(4)}", keep_suffix))
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            mode = stat.S_IMODE(os.fstat(handle).st_mode)
        finally:
            os.close(handle)
        if not mode & stat.S_IWUSR:  # a umask that takes the owner's write: writable until it is written
            try:
                os.chmod(temporary, mode | stat.S_IRUSR | stat.S_IWUSR)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        return temporary, mode


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; where folders cannot be opened, as on Windows, a no-op)."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError as error:  # some file systems cannot sync a folder; the file itself is synced
        log.debug("cannot sync folder %s: %s", folder, error)
    finally:
        os.close(handle)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it vanishes.

    A file that replaces another keeps that one's permissions (a gallery kept private stays private);
    a new file gets the mode `open(path, "w")` gives one. The file and then its folder are synced, so
    after a crash `path` holds the old content or all of the new.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    temporary, mode = create_temporary(path)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(path.stat().st_mode)  # the file it replaces, as it is now
        if stat.S_IMODE(temporary.stat().st_mode) != mode:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
        _sync_folder(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def lock_path(path: str | Path) -> Path:
    """The lock file of `path`: `.NAME.lock` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def exclusive_lock(path: str | Path, waiting: str = "") -> Iterator[None]:
    """Hold the advisory lock of `path` (see `lock_path`) while inside: one process at a time.

    The lock file is created (and the folder) as needed and left in place; an existing one is
    opened read-only where it cannot be written (a read-only mount), as flock needs no write access.
    A lock another process holds is waited for, logging `waiting` (if given) first. OSError when the
    lock file can be neither created nor opened.
    """
    if fcntl is None:
        yield
        return
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        if not lock.is_file():
            raise
        handle = os.open(lock, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                log.info("%s", waiting)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock
