"""The gallery in PostgreSQL: people, their embeddings per model family, and a change log.

`-g postgresql://user@host/db` names one. Credentials follow libpq's own conventions (PGPASSWORD,
`~/.pgpass`, PGSSLMODE or `?sslmode=`); a password written into the URI is refused, since a command
line is visible to every user of the machine (`ps`). URIs are printed with any password masked.

Every write (enrol, remove, rename) is one transaction that first locks the change log, so changes
are numbered in the order they commit: a device that has seen change N has seen every change
before it. The transaction ends with a NOTIFY on `CHANNEL`, which PostgreSQL delivers at commit.
The schema is created and upgraded by the numbered SQL files in `migrations/`, applied by the first
process that may write (under an advisory lock); a read-only role syncs a schema already there.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from edge_runtime.core.errors import SiameseEdgeError, error_line
from edge_runtime.core.extras import install_command
from edge_runtime.identity.gallery import GalleryError
from edge_runtime.io.sources import hide_password, url_parts

log = logging.getLogger(__name__)
SCHEMES = ("postgresql://", "postgres://")
CHANNEL = "siamese_edge_gallery"
MIGRATION_LOCK = 0x51A3E5E  # the advisory lock key migrations run under
CONNECT_SECONDS = 3


class FinalError(GalleryError):
    """A gallery failure that no retry mends (wrong credentials, a copy of another database): the
    command stops, rather than going on from the local copy."""


def is_database(gallery: str | None) -> bool:
    """Whether a `-g` value names a PostgreSQL gallery rather than a file; a SiameseEdgeError for one that
    looks like a URI of another scheme (a mistyped `postgresq://` would otherwise be a folder's name)."""
    if not gallery or url_parts(str(gallery)) is None:
        return False
    if not str(gallery).startswith(SCHEMES):
        raise SiameseEdgeError(
            f"-g {hide_password(str(gallery))}: a gallery is a file or postgresql://USER@HOST/DB, not "
            f"{str(gallery).split('://')[0]}://"
        )
    return True


def migrations() -> list[tuple[int, str, str]]:
    """The package's migrations in order: (version, file name, SQL)."""
    folder = importlib.resources.files("edge_runtime.fleet") / "migrations"
    found = [
        (int(f.name.split("_", 1)[0]), f.name, f.read_text(encoding="utf-8"))
        for f in folder.iterdir()
        if f.name.endswith(".sql")
    ]
    return sorted(found)


def _psycopg():
    try:
        import psycopg
    except ModuleNotFoundError:
        raise SiameseEdgeError(
            f"a PostgreSQL gallery needs the [fleet] extra (psycopg is not installed): {install_command('fleet')}"
        ) from None
    return psycopg


def check_uri(uri: str) -> str:
    """`uri` if it carries no password; else a SiameseEdgeError saying where the password goes."""
    parts = url_parts(uri)
    if parts is not None and ":" in parts[1]:
        raise SiameseEdgeError(
            f"{hide_password(uri)}: a password on the command line is visible to every user (ps); "
            "give it in PGPASSWORD or ~/.pgpass instead"
        )
    return uri


AUTHENTICATION_FAILED = ("password authentication failed", "no password supplied", "authentication failed")


def database_error(uri: str, error: Exception) -> GalleryError:
    """One line for a database failure, naming the database with its password masked (a FinalError when
    the server refused the credentials: not an outage to wait out)."""
    line = error_line(error)
    kind = FinalError if any(words in line for words in AUTHENTICATION_FAILED) else GalleryError
    return kind(f"gallery database {hide_password(uri)}: {line}")


@dataclass
class Snapshot:
    """What a device needs to catch up: the change it is now at, the names whose embeddings it must
    replace (None: all of them), and those names' current embeddings for its model, in order."""

    database_id: str
    head: int
    names: set[str] | None
    rows: list[tuple[str, bytes, str, str]] = field(default_factory=list)  # name, vector, source, digest


class GalleryDatabase:
    """One connection to a PostgreSQL gallery, for the commands and for the sync (autocommit: each
    change and each snapshot is a transaction of its own)."""

    def __init__(self, uri: str, device: str = "") -> None:
        self.uri = check_uri(uri)
        self.shown = hide_password(uri)
        self.device = device or socket.gethostname()
        self.host = socket.gethostname()
        psycopg = _psycopg()
        try:
            self.connection = psycopg.connect(
                uri,
                connect_timeout=CONNECT_SECONDS,
                autocommit=True,
                application_name=f"siamese-edge {self.device}"[:63],
            )
        except psycopg.Error as error:
            raise database_error(uri, error) from None

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def __enter__(self) -> GalleryDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self, writing: bool = False) -> Iterator[None]:
        """Database errors as one GalleryError line; a role that may not write says so."""
        psycopg = _psycopg()
        try:
            yield
        except psycopg.errors.InsufficientPrivilege as error:
            what = "change the gallery" if writing else "read the gallery"
            user = self.connection.info.user
            raise GalleryError(
                f"gallery database {self.shown}: the role {user!r} may not {what} ({error.diag.message_primary}); "
                "enrolling, removing and renaming need a role that may write"
            ) from None
        except psycopg.Error as error:
            raise database_error(self.uri, error) from None

    def schema_version(self) -> int:
        """The newest migration applied (0: none)."""
        with self._errors():
            cursor = self.connection.execute("SELECT to_regclass('siamese_edge_migrations') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return 0
            version = self.connection.execute("SELECT coalesce(max(version), 0) FROM siamese_edge_migrations")
            return int(version.fetchone()[0])

    def migrate(self) -> int:
        """Apply the migrations this database lacks (as a role that may write); returns the version. One
        already up to date is left alone (a read-only role may list it)."""
        latest = migrations()[-1][0]
        if self.schema_version() == latest:
            return latest
        with self._errors(writing=True), self.connection.transaction():
            self.connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            self.connection.execute(
                "CREATE TABLE IF NOT EXISTS siamese_edge_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {v for (v,) in self.connection.execute("SELECT version FROM siamese_edge_migrations")}
            for version, name, sql in migrations():
                if version not in done:
                    self.connection.execute(sql)
                    self.connection.execute(
                        "INSERT INTO siamese_edge_migrations (version, name) VALUES (%s, %s)", (version, name)
                    )
                    log.info("gallery database %s: applied migration %s", self.shown, name)
        return latest

    def require_write(self) -> None:
        """Refuse, before any work, a role that may not change the gallery (a device's read-only role)."""
        self.migrate()
        with self._errors():
            allowed = self.connection.execute(
                "SELECT has_table_privilege('changes', 'INSERT') AND has_table_privilege('embeddings', 'INSERT')"
            ).fetchone()[0]
        if not allowed:
            raise GalleryError(
                f"gallery database {self.shown}: the role {self.connection.info.user!r} may not change "
                "the gallery (read-only); enrolling, removing and renaming need a role that may write"
            )

    def require_schema(self) -> None:
        """Refuse a database this package cannot read: no schema yet, or one newer than it knows."""
        version, known = self.schema_version(), migrations()[-1][0]
        if version == 0:
            raise GalleryError(
                f"gallery database {self.shown} holds no gallery yet; enroll someone first "
                "(edge-gallery enroll -g URI, with a role that may write)"
            )
        if version > known:
            raise GalleryError(
                f"gallery database {self.shown} has schema {version}; this siamese-edge knows up to {known}: upgrade it"
            )
        if version < known:
            raise GalleryError(
                f"gallery database {self.shown} has schema {version}, this siamese-edge needs {known}; "
                "run edge-gallery list once with a role that may write to upgrade it"
            )

    @contextlib.contextmanager
    def _change(self) -> Iterator:
        """A writing transaction, numbered in commit order (the change log is locked first)."""
        self.migrate()
        with self._errors(writing=True), self.connection.transaction():
            self.connection.execute("LOCK TABLE changes IN EXCLUSIVE MODE")
            yield self.connection

    def _log_change(self, kind: str, name: str, new_name: str | None = None, embeddings: int = 0) -> int:
        seq = self.connection.execute(
            "INSERT INTO changes (kind, name, new_name, embeddings, device, host) VALUES (%s, %s, %s, %s, %s, %s) "
            "RETURNING seq",
            (kind, name, new_name, embeddings, self.device, self.host),
        ).fetchone()[0]
        self.connection.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(seq)))
        return int(seq)

    def enroll(
        self,
        model_hash: str,
        name: str,
        vectors: np.ndarray,
        sources: list[str],
        digests: list[str],
        faces: list[bytes | None] | None = None,
    ) -> int:
        """Add `name`'s embeddings for `model_hash` (one person however many devices enrol the name at
        once); photos already enrolled under this name are left as they are, ones enrolled under
        another name are skipped with a warning. Returns how many embeddings were added."""
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        faces = faces or [None] * len(vectors)
        with self._change() as db:
            rows = []
            for vector, source, digest, face in zip(vectors, sources, digests, faces, strict=True):
                owner = (
                    digest
                    and db.execute(
                        "SELECT p.name FROM embeddings e JOIN people p ON p.id = e.person_id "
                        "WHERE e.model_hash = %s AND e.digest = %s",
                        (model_hash, digest),
                    ).fetchone()
                )
                if owner and owner[0] != name:
                    log.warning(
                        "skipped %s: already enrolled as %r (edge-gallery remove or rename first)", source, owner[0]
                    )
                elif not owner:
                    rows.append((vector.tobytes(), source, digest, face))
            if not rows:
                return 0
            person = db.execute(
                "INSERT INTO people (name, device, host) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                (name, self.device, self.host),
            ).fetchone()[0]
            with db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO embeddings (person_id, model_hash, vector, source, digest, face, device, host) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [(person, model_hash, v, s, d, f, self.device, self.host) for v, s, d, f in rows],
                )
            self._log_change("enroll", name, embeddings=len(rows))
        return len(rows)

    def remove(self, names: list[str]) -> None:
        """Remove people with all their embeddings and stored faces (every model), logging each removal;
        an unknown name removes nobody."""
        with self._change() as db:
            for name in names:
                found = db.execute(
                    "SELECT p.id, count(e.id) FROM people p LEFT JOIN embeddings e ON e.person_id = p.id "
                    "WHERE p.name = %s GROUP BY p.id",
                    (name,),
                ).fetchone()
                if found is None:
                    raise GalleryError(f"no identity called {name!r} in the gallery")
                db.execute("DELETE FROM people WHERE id = %s", (found[0],))
                self._log_change("remove", name, embeddings=int(found[1]))

    def rename(self, old: str, new: str, merge: bool = False) -> None:
        """Give a person a new name; onto an existing person only with `merge` (both become one)."""
        with self._change() as db:
            ids = dict(db.execute("SELECT name, id FROM people WHERE name = ANY(%s)", ([old, new],)).fetchall())
            if old not in ids:
                raise GalleryError(f"no identity called {old!r} in the gallery")
            if new in ids and new != old:
                if not merge:
                    raise GalleryError(f"{new!r} is already enrolled; merging {old!r} into it needs --merge")
                db.execute("UPDATE embeddings SET person_id = %s WHERE person_id = %s", (ids[new], ids[old]))
                db.execute("DELETE FROM people WHERE id = %s", (ids[old],))
            else:
                db.execute("UPDATE people SET name = %s WHERE id = %s", (new, ids[old]))
            self._log_change("rename", old, new_name=new)

    def people(self) -> list[tuple[str, int, str]]:
        """Every person: name, embeddings (all models), the models they are enrolled for."""
        self.migrate()
        with self._errors():
            return [
                (n, int(c), m or "")
                for n, c, m in self.connection.execute(
                    "SELECT p.name, count(e.id), string_agg(DISTINCT e.model_hash, ',') FROM people p "
                    "LEFT JOIN embeddings e ON e.person_id = p.id GROUP BY p.id ORDER BY p.id"
                ).fetchall()
            ]

    def kept_faces(self, model_hash: str) -> tuple[list[tuple[str, bytes, str, str]], list[str]]:
        """The faces kept for other models (name, PNG, source, digest; one per photo) that have no embedding
        for `model_hash` yet, and the names of people with neither a kept face nor such an embedding."""
        with self._errors():
            faces = self.connection.execute(
                "SELECT DISTINCT ON (p.id, e.digest, CASE WHEN e.digest = '' THEN e.id END) p.name, e.face, e.source, "
                "e.digest FROM embeddings e JOIN people p ON p.id = e.person_id WHERE e.face IS NOT NULL "
                "AND e.model_hash <> %s AND NOT EXISTS (SELECT 1 FROM embeddings x WHERE x.person_id = e.person_id "
                "AND x.model_hash = %s AND x.digest = e.digest AND e.digest <> '') ORDER BY p.id, e.digest, "
                "CASE WHEN e.digest = '' THEN e.id END, e.id",
                (model_hash, model_hash),
            ).fetchall()
            without = self.connection.execute(
                "SELECT p.name FROM people p WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.person_id = p.id "
                "AND (e.face IS NOT NULL OR e.model_hash = %s)) ORDER BY p.id",
                (model_hash,),
            ).fetchall()
        return [(n, bytes(f), s, d) for n, f, s, d in faces], [n for (n,) in without]

    def database_id(self) -> str:
        """This database's identity (made once, with its schema): the same whatever address reaches it."""
        with self._errors():
            return str(self.connection.execute("SELECT database_id FROM siamese_edge_database").fetchone()[0])

    def head(self) -> int:
        """The newest change's number (0: none yet)."""
        with self._errors():
            return int(self.connection.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])

    def snapshot(self, model_hash: str, since: int, database_id: str) -> Snapshot | None:
        """What changed for `model_hash` after change `since` (all of it when `since` is 0 or the
        local copy came from another database), read in one consistent snapshot; None when nothing did."""
        with self._errors(), self.connection.transaction():
            self.connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            here = str(self.connection.execute("SELECT database_id FROM siamese_edge_database").fetchone()[0])
            head = int(self.connection.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])
            whole = since <= 0 or here != database_id or since > head
            if not whole and head == since:
                return None
            query = (
                "SELECT p.name, e.vector, e.source, e.digest FROM embeddings e JOIN people p ON p.id = e.person_id "
                "WHERE e.model_hash = %s"
            )
            if whole:
                rows = self.connection.execute(query + " ORDER BY p.id, e.id", (model_hash,)).fetchall()
                return Snapshot(here, head, None, rows)
            touched = self.connection.execute(
                "SELECT name, new_name FROM changes WHERE seq > %s AND seq <= %s", (since, head)
            ).fetchall()
            names = {n for pair in touched for n in pair if n}
            rows = self.connection.execute(
                query + " AND p.name = ANY(%s) ORDER BY p.id, e.id", (model_hash, sorted(names))
            ).fetchall()
            return Snapshot(here, head, names, rows)
