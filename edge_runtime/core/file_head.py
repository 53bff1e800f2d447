"""The first bytes of a file: what it is, told by its signature rather than its name."""

from __future__ import annotations

from pathlib import Path


def file_head(path: str | Path, size: int) -> bytes:
    """Up to `size` bytes from the start of the file at `path` (b"" when it cannot be read)."""
    try:
        with open(path, "rb") as file:
            return file.read(size)
    except OSError:
        return b""
