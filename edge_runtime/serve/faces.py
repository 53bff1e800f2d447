"""The face each person was enrolled from, as a small JPEG kept beside the gallery (`GALLERY.faces/`,
one file per enrolled image, named by its SHA-256), or in memory when there is no gallery file."""

from __future__ import annotations

import re
from pathlib import Path

from edge_runtime.core.atomic import atomic_write_bytes


class FaceStore:
    """Thumbnails of enrolled faces by the digest the gallery keeps for each image."""

    def __init__(self, gallery_path: str | Path | None) -> None:
        self.folder = Path(f"{gallery_path}.faces") if gallery_path else None
        self.memory: dict[str, bytes] = {}

    def put(self, digest: str, jpeg: bytes) -> None:
        """Keep the thumbnail of the image with this digest (atomically, beside the gallery)."""
        if self.folder is None:
            self.memory[digest] = jpeg
        else:
            atomic_write_bytes(self.folder / f"{digest}.jpg", jpeg)

    def get(self, digests: list[str]) -> bytes | None:
        """The first thumbnail kept for any of `digests`, or None."""
        for digest in digests:
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                continue
            if self.folder is None:
                if digest in self.memory:
                    return self.memory[digest]
            elif (path := self.folder / f"{digest}.jpg").is_file():
                return path.read_bytes()
        return None
