"""A device's local copy of a PostgreSQL gallery, kept up to date while it runs.

The copy is an ordinary gallery file (written atomically), with `.NAME.sync.json` beside it saying
which database and which change it holds. A device recognises from the copy: it starts, and goes
on, with the database down (saying so once), and catches up when the database returns. While it
runs a thread LISTENs for changes (and looks every `poll` seconds besides); each catch-up builds a
whole new `Gallery` from the copy and the changes, saves it, and only then hands it to `on_change`,
so a device never matches against a half-applied change. A catch-up replaces the embeddings of
every name the change log touched since the copy's change (removals and renames included), so
people removed while a device was offline are gone from it when it reconnects.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_runtime.core.atomic import atomic_write_bytes
from edge_runtime.core.errors import SiameseEdgeError, error_line
from edge_runtime.core.words import counted
from edge_runtime.identity.gallery import Gallery, GalleryError, changing
from edge_runtime.io.sources import hide_password

if TYPE_CHECKING:
    from edge_runtime.identity.recognizer import Recognizer

from .database import CHANNEL, FinalError, GalleryDatabase, Snapshot, _psycopg

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0  # a running device also looks for changes this often (a lost NOTIFY is caught)
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0)  # waits between attempts to reach a database that is down


def default_copy(uri: str, model_hash: str) -> Path:
    """Where a device keeps its copy of the gallery at `uri` for a model, unless told (--gallery-copy)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "siamese-edge" / "galleries"
    key = hashlib.sha256(f"{hide_password(uri)}\0{model_hash}".encode()).hexdigest()[:16]
    return cache / f"{key}.npz"


def state_path(copy: Path) -> Path:
    """The file beside the copy that says which database and change it holds."""
    return copy.with_name(f".{copy.name}.sync.json")


def read_state(copy: Path) -> dict:
    """The copy's database id and change number ({} for a copy never synced or an unreadable record)."""
    try:
        state = json.loads(state_path(copy).read_text(encoding="utf-8"))
        return state if isinstance(state, dict) and copy.is_file() else {}
    except (OSError, ValueError):
        return {}


def apply(base: Gallery | None, snapshot: Snapshot, model_hash: str, size: int, index: str) -> Gallery:
    """The gallery after `snapshot`: `base` (a copy loaded for this, changed in place) with the
    embeddings of every name the snapshot covers replaced by the snapshot's, or a new gallery of the
    snapshot alone when it is whole (or there is no base)."""
    if base is None or snapshot.names is None:
        gallery = Gallery(model_hash, size, index)
    else:
        gallery = base
        for name in snapshot.names & set(gallery.names):
            gallery.remove(name)
    groups: dict[str, list[tuple[bytes, str, str]]] = {}
    for name, vector, source, digest in snapshot.rows:
        groups.setdefault(name, []).append((bytes(vector), source, digest))
    for name, rows in groups.items():
        vectors = np.frombuffer(b"".join(r[0] for r in rows), dtype="<f4").reshape(len(rows), -1)
        if vectors.shape[1] != size:
            raise GalleryError(
                f"the database holds embeddings of size {vectors.shape[1]} for {name!r}, and this "
                f"model makes embeddings of size {size}"
            )
        gallery.add(name, vectors, [r[1] for r in rows], [r[2] for r in rows])
    return gallery


class GallerySync:
    """Keep the local copy at `copy` of the gallery at `uri` up to date for one model."""

    def __init__(
        self,
        uri: str,
        copy: str | Path | None,
        model_hash: str,
        size: int,
        *,
        face_cut: str = "",
        index: str = "numpy",
        device: str = "",
        poll: float = POLL_SECONDS,
        on_change: Callable[[Gallery], None] | None = None,
    ) -> None:
        self.uri, self.shown = uri, hide_password(uri)
        self.copy = Path(copy) if copy else default_copy(uri, model_hash)
        self.model_hash, self.size, self.face_cut, self.index = model_hash, size, face_cut, index
        self.device, self.poll, self.on_change = device, poll, on_change
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.online = False
        self.gallery: Gallery | None = None
        self.held: tuple[str, int] = ("", -1)  # the database and change `gallery` holds

    def catch_up(self, database: GalleryDatabase) -> bool:
        """Bring the copy up to date from `database`; True when it changed. The new gallery is handed
        to `on_change` whole, then written to the copy, then the change it holds is recorded (a crash
        in between leaves an older copy, which the next catch-up brings up to date again)."""
        with changing(self.copy):
            database_id = database.database_id()
            self.refuse_foreign(database_id)
            if not self.copy.exists():  # recorded first: a crash after the copy's first write leaves it this database's
                self._record(database_id, 0)
            state = read_state(self.copy)
            seq, source = int(state.get("seq", 0)), str(state.get("database", ""))
            snapshot = database.snapshot(self.model_hash, seq, source)
            if snapshot is None:
                return False
            base = None
            if snapshot.names is not None:  # the gallery in memory, unless another process moved the copy on
                held = self.gallery is not None and self.held == (source, seq)
                base = self.gallery.copy() if held else self._load()
            gallery = apply(base, snapshot, self.model_hash, self.size, self.index)
            gallery.face_cut = gallery.face_cut or self.face_cut
            if self.on_change is not None:
                self.on_change(gallery)
            gallery.save(self.copy)
            self._record(snapshot.database_id, snapshot.head)
            self.gallery, self.held = gallery, (snapshot.database_id, snapshot.head)
        shown = counted(len(gallery), "identity", "identities")
        log.info("gallery: %s from %s (change %d)", shown, self.shown, snapshot.head)
        return True

    def _record(self, database_id: str, seq: int) -> None:
        """Write the record of the database and change the copy holds."""
        state = {"database": database_id, "seq": seq, "model": self.model_hash, "uri": self.shown}
        atomic_write_bytes(state_path(self.copy), json.dumps(state).encode())

    def refuse_foreign(self, database_id: str = "") -> None:
        """Refuse (FinalError) a copy file that exists and is not this database's copy: one never synced
        (a local gallery) or one recorded from another database (another database id, when known, and
        another URI), so that neither is overwritten nor recognised from."""
        if not self.copy.exists():
            return
        state = read_state(self.copy)
        if not state:
            raise FinalError(
                f"{self.copy} exists and is no copy of a PostgreSQL gallery (no sync record): give "
                "--gallery-copy a new file, so that this gallery is not overwritten"
            )
        if state.get("uri") != self.shown and (not database_id or state.get("database") != database_id):
            raise FinalError(
                f"{self.copy} is the copy of another gallery database ({state.get('uri', '?')}): give "
                f"--gallery-copy a file of its own for {self.shown}"
            )

    def _load(self) -> Gallery | None:
        return Gallery.load(self.copy, self.model_hash, self.index) if self.copy.is_file() else None

    def open(self) -> Gallery:
        """The gallery to start from: caught up when the database answers, else the local copy as it is
        (said in one line); a GalleryError when neither is there."""
        try:
            with GalleryDatabase(self.uri, self.device) as database:
                database.require_schema()
                self.catch_up(database)
            self.online = True
        except FinalError:
            raise
        except SiameseEdgeError as error:
            self.refuse_foreign()
            if not self.copy.is_file():
                raise GalleryError(f"{error}; and this device has no copy of that gallery yet ({self.copy})") from None
            log.warning(
                "%s; recognising from the local copy %s (change %s) until it answers",
                error,
                self.copy,
                read_state(self.copy).get("seq", "?"),
            )
        if self.gallery is None:
            state = read_state(self.copy)
            self.gallery, self.held = self._load(), (str(state.get("database", "")), int(state.get("seq", 0)))
        return self.gallery

    def start(self, recognizer: Recognizer | None = None) -> None:
        """Follow the database in a background thread until `stop`; with `recognizer`, each new gallery
        is swapped into it whole (its `gallery`), as `on_change`."""
        if recognizer is not None:
            self.on_change = lambda new: setattr(recognizer, "gallery", new)
        self.thread = threading.Thread(target=self._follow, name="gallery-sync", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop following (the copy stays as it is)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def _follow(self) -> None:
        psycopg = _psycopg()
        failures = 0
        while not self.stopping.is_set():
            try:
                with GalleryDatabase(self.uri, self.device) as database:
                    database.connection.execute(f"LISTEN {CHANNEL}")
                    if not self.online:
                        log.info("gallery database %s answers again; catching up", self.shown)
                    self.online, failures = True, 0
                    while not self.stopping.is_set():
                        self.catch_up(database)
                        for _ in database.connection.notifies(timeout=self.poll, stop_after=1):
                            pass
            except (SiameseEdgeError, psycopg.Error, OSError) as error:
                if self.online:
                    log.warning(
                        "lost the gallery database %s (%s); recognising from the local copy, retrying",
                        self.shown,
                        error_line(error),
                    )
                self.online = False
                self.stopping.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1
