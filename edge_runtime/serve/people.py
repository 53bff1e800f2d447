"""The gallery as the server changes it: list, enrol (an uploaded photo or a face from the live
view), rename and remove, each through the `Gallery` API. With a gallery file every change is a
read-modify-write of the file under its lock (`changing`), so edge-gallery and other processes
changing it at the same time lose nothing; the recognizer then takes the saved gallery at once.
With a PostgreSQL gallery (`postgresql://…`) a change is checked on a copy of the gallery in memory,
written to the database (which tells every other device), and the copy taken at once here."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from edge_runtime.faces.regions import RegionFinder
from edge_runtime.fleet.database import GalleryDatabase, is_database
from edge_runtime.identity.enrollment import open_gallery, usable_region
from edge_runtime.identity.gallery import Gallery, GalleryError, changing
from edge_runtime.identity.names import check_name
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.serve.events import thumbnail
from edge_runtime.serve.faces import FaceStore

T = TypeVar("T")


class PersonError(GalleryError):
    """A change the gallery refuses: `status` is the HTTP status that says why (404, 409)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class People:
    """The recognizer's gallery, changed under `lock` (the one the loop matches under)."""

    def __init__(self, recognizer: Recognizer, finder: RegionFinder, gallery_path: str | Path | None,
                 lock: threading.Lock, index: str = "numpy") -> None:  # fmt: skip
        self.recognizer, self.finder, self.lock, self.index = recognizer, finder, lock, index
        self.database = str(gallery_path) if gallery_path and is_database(str(gallery_path)) else None
        self.path = Path(gallery_path) if gallery_path and self.database is None else None
        self.faces = FaceStore(self.path)

    @property
    def gallery(self) -> Gallery:
        """The gallery the recognizer matches against now."""
        return self.recognizer.gallery

    def list(self) -> list[dict]:
        """Everyone enrolled: name and how many images."""
        with self.lock:  # the gallery in memory may be changing (its pending rows flushed)
            counts = self.gallery.counts()
        return [{"name": name, "images": count} for name, count in counts.items()]

    def face(self, name: str) -> bytes | None:
        """The thumbnail of a face `name` was enrolled from, when one was kept."""
        with self.lock:
            gallery = self.gallery
            if name not in gallery.names:
                return None
            owner = gallery.names.index(name)
            digests = [d for d, o in zip(gallery.digests, gallery.owners, strict=True) if o == owner]
        return self.faces.get(digests)

    def _change(self, change: Callable[[Gallery], T], in_database: Callable[[GalleryDatabase], object]) -> T:
        """Apply `change` to the gallery: to the file's current content under its lock, then saved
        and handed to the recognizer; with a database, to a copy (which refuses what the gallery
        would), then `in_database` there; without either, to the gallery in memory."""
        if self.database is not None:
            with self.lock:
                gallery = self.gallery.copy()
            result = change(gallery)
            with GalleryDatabase(self.database) as database:
                in_database(database)
            with self.lock:
                self.recognizer.gallery = gallery  # here at once; the other devices by NOTIFY
            return result
        if self.path is None:
            with self.lock:
                return change(self.gallery)
        embedder = self.recognizer.embedder
        with changing(self.path):
            gallery = open_gallery(self.path, embedder, create=True, index=self.index, regions=self.finder)
            result = change(gallery)
            gallery.save(self.path)
        with self.lock:
            self.recognizer.gallery = gallery
        return result

    def enrol_photo(self, name: str, image: np.ndarray, data: bytes, filename: str, finder: RegionFinder) -> dict:
        """Enrol `name` from an uploaded photo (`data` its bytes, `image` decoded): its largest face."""
        name = check_name(name)
        digest = hashlib.sha256(data).hexdigest()
        region = usable_region(image, finder, filename or "the upload")
        detections = finder.detect(image)
        jpeg = thumbnail(image, detections[0].box if detections else None)
        return self._enrol(name, region, digest, f"upload:{filename}", jpeg)

    def enrol_face(self, name: str, face: np.ndarray, jpeg: bytes, source: str) -> dict:
        """Enrol `name` from a face as the model sees it (a live event's), with its thumbnail."""
        name = check_name(name)
        return self._enrol(name, face, hashlib.sha256(jpeg).hexdigest(), source, jpeg)

    def _enrol(self, name: str, region: np.ndarray, digest: str, source: str, jpeg: bytes) -> dict:
        embedding = self.recognizer.embedder.embed([region])

        def add(gallery: Gallery) -> dict:
            owner = gallery.owner_of_digest(digest)
            if owner is not None and owner != name:
                raise PersonError(f"this photo is already enrolled as {owner!r}; remove or rename that one first")
            if owner is None:
                gallery.add(name, embedding, [source], [digest])
            return {"name": name, "images": gallery.counts()[name], "added": owner is None}

        family = self.recognizer.embedder.info.family
        result = self._change(add, lambda database: database.enroll(family, name, embedding, [source], [digest]))
        self.faces.put(digest, jpeg)
        return result

    def rename(self, old: str, new: str, merge: bool = False) -> dict:
        """Rename `old` to `new` (onto an existing person only with `merge`)."""
        new = check_name(new)

        def rename(gallery: Gallery) -> dict:
            self._known(gallery, old)
            if new in gallery.names and new != old and not merge:
                raise PersonError(f"{new!r} is already enrolled; merge={old!r} into it needs merge=true")
            gallery.rename(old, new, merge)
            return {"name": new, "images": gallery.counts()[new]}

        return self._change(rename, lambda database: database.rename(old, new, merge))

    def remove(self, name: str) -> dict:
        """Forget `name` and every image of them."""

        def remove(gallery: Gallery) -> dict:
            self._known(gallery, name)
            gallery.remove(name)
            return {"removed": name, "people": len(gallery)}

        return self._change(remove, lambda database: database.remove([name]))

    @staticmethod
    def _known(gallery: Gallery, name: str) -> None:
        if name not in gallery.names:
            raise PersonError(f"no person called {name!r} in the gallery", 404)
