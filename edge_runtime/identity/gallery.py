"""`Gallery`: enrolled identities (one image each is enough), stored in one pickle-free .npz file.

A gallery remembers the hash of the model that made its embeddings; loading it for another model
is an error that says to re-enroll. Saving is atomic, so a crash or Ctrl-C never corrupts it.
Each embedding keeps its source file and the SHA-256 of that file's bytes, so enrolling the same
photo again is recognised (see `enrollment`); names follow `names.check_name`.

Whatever changes a gallery file (load, change, save) does so inside `changing(path)`, which holds
its advisory lock: several enrolments at once on one gallery all land. A save that fails (a
read-only or full file system) is a GalleryError naming the file, and leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.core.atomic import atomic_path, exclusive_lock
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.file_head import file_head
from edge_runtime.identity.names import InvalidName, check_name
from edge_runtime.identity.search_index import NumpyIndex, make_index

GALLERY_FORMAT_VERSION = 1


class GalleryError(SiameseEdgeError):
    """A gallery file is missing, corrupt, empty or made by another model."""


@dataclass(frozen=True)
class Match:
    """One candidate identity for a query: its name and cosine score."""

    name: str
    score: float


def _save_failure(path: Path, error: OSError) -> GalleryError:
    kept = "it is left as it was" if path.exists() else "nothing was written"
    return GalleryError(f"cannot save gallery {path}: {error.strerror or error}; {kept}")


def _missing(path: Path) -> GalleryError:
    return GalleryError(f"gallery {path} does not exist; enroll identities first (edge-gallery enroll)")


@contextlib.contextmanager
def changing(path: str | Path, create: bool = True) -> Iterator[None]:
    """Hold the lock of the gallery at `path` for a read-modify-write (load it inside, change it,
    save it): another process changing it waits, so neither loses the other's change. Readers need
    no lock. A lock file that cannot be made (a read-only folder) is a GalleryError, before any work;
    so is a gallery that does not exist unless `create` (no lock file is left for it then)."""
    path = Path(path)
    if not create and not path.is_file():
        raise _missing(path)
    with contextlib.ExitStack() as lock:
        try:  # only the lock's own failure: what the body raises passes through as it is
            lock.enter_context(exclusive_lock(path, f"waiting for another process to finish saving {path}"))
        except OSError as error:
            raise _save_failure(path, error) from None
        yield


def _checked_names(names: list[str], path: Path) -> list[str]:
    """The names of a gallery file as enrollment would have stored them (`check_name`), or a
    GalleryError naming the file and the entry: a file made or edited elsewhere could otherwise
    carry control characters or the reserved name into logs, overlays and `edge-gallery list`."""
    checked = []
    for index, name in enumerate(names):
        try:
            checked.append(check_name(name))
        except InvalidName as error:
            raise GalleryError(
                f"gallery {path} holds a name enrollment refuses (entry {index}): {error} (re-enroll, or fix the file)"
            ) from None
    if len(set(checked)) != len(checked):
        raise GalleryError(f"gallery {path} names one identity twice; re-enroll")
    return checked


class Gallery:
    """Enrolled embeddings with their identity names, matched by cosine similarity."""

    def __init__(self, model_hash: str, embedding_size: int, index: str = "numpy") -> None:
        self.model_hash = model_hash
        self.face_cut = ""  # what found the landmarks its faces were cut by (--landmarks); "" unknown or none
        self.index_backend = index
        self.stored_threshold: tuple[float, str] | None = None  # (cosine, how it was chosen): edge-gallery calibrate
        self.embedding_size = embedding_size
        self.names: list[str] = []
        self.sources: list[str] = []
        self.digests: list[str] = []  # SHA-256 of each embedding's source file ("" when it had none)
        self._embeddings = np.empty((0, embedding_size), np.float32)
        self._owners = np.empty(0, np.int64)
        self._pending: list[tuple[np.ndarray, int]] = []
        self._positions: dict[str, int] = {}
        self._prototypes: np.ndarray | None = None
        self._search_index = None

    def __len__(self) -> int:
        """The number of enrolled identities."""
        return len(self.names)

    @property
    def embeddings(self) -> np.ndarray:
        """Every enrolled embedding, one row each."""
        self._flush()
        return self._embeddings

    @property
    def owners(self) -> np.ndarray:
        """For each embedding, the index of its identity in `names`."""
        self._flush()
        return self._owners

    def _flush(self) -> None:
        if self._pending:
            blocks, owners = zip(*self._pending, strict=True)
            self._embeddings = np.concatenate([self._embeddings, *blocks])
            self._owners = np.concatenate(
                [self._owners, *(np.full(len(b), o) for b, o in zip(blocks, owners, strict=True))]
            )
            self._pending = []

    def _changed(self, renamed: bool = False) -> None:
        self._prototypes = self._search_index = None
        if renamed:
            self._positions = {name: i for i, name in enumerate(self.names)}

    def add(
        self, name: str, embeddings: np.ndarray, sources: list[str] | None = None, digests: list[str] | None = None
    ) -> None:
        """Enroll `name` (new or existing; refused if not a valid name) with one or more L2-normalised
        embeddings, their source files and the SHA-256 of those files."""
        name = check_name(name)
        embeddings = np.atleast_2d(np.asarray(embeddings, np.float32))
        if embeddings.shape[1] != self.embedding_size:
            raise GalleryError(
                f"embeddings of size {embeddings.shape[1]} do not fit a gallery of size {self.embedding_size}"
            )
        if name not in self._positions:
            self._positions[name] = len(self.names)
            self.names.append(name)
        self._pending.append((embeddings, self._positions[name]))
        self.sources += list(sources) if sources is not None else [""] * len(embeddings)
        self.digests += list(digests) if digests is not None else [""] * len(embeddings)
        self._changed()

    def owner_of_digest(self, digest: str) -> str | None:
        """The identity already enrolled from a file with this SHA-256, or None."""
        if digest and digest in self.digests:
            return self.names[self.owners[self.digests.index(digest)]]
        return None

    def remove(self, name: str) -> None:
        """Forget an identity and all its embeddings."""
        owner = self._owner_of(name)
        keep = self.owners != owner
        self._embeddings = self._embeddings[keep]
        self.sources = [s for s, k in zip(self.sources, keep, strict=True) if k]
        self.digests = [d for d, k in zip(self.digests, keep, strict=True) if k]
        self._owners = np.where(self._owners[keep] > owner, self._owners[keep] - 1, self._owners[keep])
        del self.names[owner]
        self._changed(renamed=True)

    def rename(self, old: str, new: str, merge: bool = False) -> None:
        """Give an identity a new name; onto an existing identity only with `merge` (both become one)."""
        owner = self._owner_of(old)
        new = check_name(new)
        if new in self._positions and new != old:
            if not merge:
                raise GalleryError(f"{new!r} is already enrolled; merging {old!r} into it needs --merge")
            target = self._positions[new]
            owners = np.where(self.owners == owner, target, self._owners)
            self._owners = np.where(owners > owner, owners - 1, owners)
            del self.names[owner]
        else:
            self.names[owner] = new
        self._changed(renamed=True)

    def copy(self) -> Gallery:
        """An independent copy: changing one leaves the other as it was (a sync builds the next gallery so)."""
        other = Gallery(self.model_hash, self.embedding_size, self.index_backend)
        other.face_cut, other.stored_threshold = self.face_cut, self.stored_threshold
        other._embeddings, other._owners = self.embeddings.copy(), self.owners.copy()
        other.names, other.sources, other.digests = list(self.names), list(self.sources), list(self.digests)
        other._changed(renamed=True)
        return other

    def counts(self) -> dict[str, int]:
        """How many embeddings each identity has."""
        tally = np.bincount(self.owners, minlength=len(self.names))
        return {name: int(n) for name, n in zip(self.names, tally, strict=True)}

    def _owner_of(self, name: str) -> int:
        if name not in self._positions:
            raise GalleryError(f"no identity called {name!r} in the gallery")
        return self._positions[name]

    @property
    def prototypes(self) -> np.ndarray:
        """One unit vector per identity: the normalised mean of its embeddings."""
        if self._prototypes is None:
            sums = np.zeros((len(self.names), self.embedding_size), np.float32)
            np.add.at(sums, self.owners, self.embeddings)
            self._prototypes = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return self._prototypes

    def match(self, queries: np.ndarray, k: int = 1) -> list[list[Match]]:
        """For each query embedding, its `k` most similar identities, best first."""
        if len(self) == 0:
            raise GalleryError("the gallery is empty; enroll at least one identity")
        if self._search_index is None:
            self._search_index = make_index(self.prototypes, self.index_backend)
        scores, indices = self._search_index.search(queries, k)
        return [
            [Match(self.names[i], float(s)) for s, i in zip(row_scores, row_indices, strict=True) if i >= 0]
            for row_scores, row_indices in zip(scores, indices, strict=True)
        ]

    def search(self, query: np.ndarray, k: int = 5) -> list[tuple[str, str, float]]:
        """The `k` enrolled images most similar to one query: (name, source file, score), best first."""
        if len(self.embeddings) == 0:
            raise GalleryError("the gallery is empty; enroll at least one identity")
        scores, top = NumpyIndex(self.embeddings).search(np.asarray(query).reshape(1, -1), k)
        return [(self.names[self.owners[i]], self.sources[i], float(s)) for s, i in zip(scores[0], top[0], strict=True)]

    def save(self, path: str | Path) -> None:
        """Write the gallery atomically to `path` (.npz, no pickle); a GalleryError, the old file left as
        it was, when it cannot be written (a read-only or full file system). To change a gallery
        others may change too, load and save it inside `changing(path)`."""
        path = Path(path)
        try:
            with atomic_path(path) as temporary, open(temporary, "wb") as handle:
                np.savez(
                    handle,
                    format_version=np.array(GALLERY_FORMAT_VERSION),
                    model_hash=np.array(self.model_hash),
                    face_cut=np.array(self.face_cut),
                    embeddings=self.embeddings,
                    owners=self.owners,
                    names=np.array(self.names, dtype=str),
                    sources=np.array(self.sources, dtype=str),
                    digests=np.array(self.digests, dtype=str),
                    **_threshold_entries(self.stored_threshold),
                )
        except OSError as error:
            raise _save_failure(path, error) from None

    @classmethod
    def load(cls, path: str | Path, model_hash: str | None = None, index: str = "numpy") -> Gallery:
        """Read a gallery; with `model_hash`, refuse one enrolled with another model."""
        path = Path(path)
        if not path.is_file():
            raise _missing(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                version = int(data["format_version"])
                stored_hash = str(data["model_hash"])
                embeddings = data["embeddings"].astype(np.float32)
                owners = data["owners"].astype(np.int64)
                names = [str(n) for n in data["names"]]
                sources = [str(s) for s in data["sources"]]
                digests = [str(d) for d in data["digests"]] if "digests" in data else [""] * len(sources)
                face_cut = str(data["face_cut"]) if "face_cut" in data else ""
                stored = (float(data["threshold"]), str(data["threshold_note"])) if "threshold" in data else None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
            if not _starts_as_zip(path):  # a photo, a model, a text file: numpy's reason would mislead
                raise GalleryError(f"{path} is not a gallery file (edge-gallery enroll writes one, an .npz)") from None
            raise GalleryError(f"gallery {path} is corrupt or not a gallery ({error}); re-enroll") from None
        if version != GALLERY_FORMAT_VERSION:
            raise GalleryError(f"gallery {path} has format {version}; this version reads {GALLERY_FORMAT_VERSION}")
        if model_hash is not None and stored_hash != model_hash:
            raise GalleryError(
                f"gallery {path} was enrolled with model {stored_hash}, not with this model ({model_hash}); "
                "re-enroll the identities with this model"
            )
        if embeddings.ndim != 2 or not len(owners) == len(sources) == len(digests) == len(embeddings):
            raise GalleryError(f"gallery {path} is inconsistent; re-enroll")
        if len(owners) and (owners.min() < 0 or owners.max() >= len(names)):
            raise GalleryError(f"gallery {path} is inconsistent; re-enroll")
        names = _checked_names(names, path)
        broken = ~np.isfinite(embeddings).all(axis=1)
        if broken.any():
            name = names[owners[np.argmax(broken)]]
            raise GalleryError(
                f"gallery {path} holds an embedding of {name!r} that is not a number (NaN or infinite); "
                "re-enroll, or remove that identity"
            )
        gallery = cls(stored_hash, embeddings.shape[1], index)
        gallery._embeddings, gallery._owners, gallery.names = embeddings, owners, names
        gallery.sources, gallery.digests, gallery.face_cut = sources, digests, face_cut
        if stored is not None and not -1 < stored[0] < 1:
            raise GalleryError(
                f"gallery {path} stores threshold {stored[0]}, outside -1<x<1; re-run edge-gallery calibrate"
            )
        gallery.stored_threshold = stored
        gallery._changed(renamed=True)
        return gallery


def _threshold_entries(stored: tuple[float, str] | None) -> dict[str, np.ndarray]:
    """The .npz entries of a stored threshold choice (none when there is none)."""
    if stored is None:
        return {}
    return {"threshold": np.array(stored[0], np.float64), "threshold_note": np.array(stored[1])}


def _starts_as_zip(path: Path) -> bool:
    """Whether the file begins as a zip (an .npz gallery, whole or cut short), or is empty or unreadable."""
    head = file_head(path, 4)
    return not head or head.startswith(b"PK")
