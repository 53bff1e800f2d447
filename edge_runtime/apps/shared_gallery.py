"""The commands' side of a gallery in PostgreSQL (`-g postgresql://…`): enrol, list, remove and rename in
the database; recognise and search from the device's local copy, kept up to date (see `fleet`)."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import cv2
import numpy as np

from edge_runtime.core.words import counted
from edge_runtime.faces.regions import RegionFinder
from edge_runtime.fleet.database import GalleryDatabase
from edge_runtime.fleet.gallery_sync import GallerySync
from edge_runtime.identity.enrollment import enroll_folder, enroll_paths, new_gallery
from edge_runtime.identity.gallery import Gallery, GalleryError
from edge_runtime.inference.embedder import Embedder

log = logging.getLogger(__name__)


class FaceKeeper:
    """An embedder that keeps every face it embeds, as PNG (lossless), in order (`--keep-faces`)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder, self.faces = embedder, []

    def __getattr__(self, name: str):
        return getattr(self.embedder, name)

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """Embed as the embedder does, keeping each image."""
        self.faces += [cv2.imencode(".png", image)[1].tobytes() for image in images]
        return self.embedder.embed(images)


def push(database: GalleryDatabase, gallery: Gallery, faces: list[bytes] | None = None) -> int:
    """Add every identity of an in-memory `gallery` to the database (with `faces`, one per embedding in
    order, the faces they were made from); returns the embeddings added."""
    added = 0
    for name in gallery.names:
        rows = gallery.owners == gallery.names.index(name)
        sources = [s for s, keep in zip(gallery.sources, rows, strict=True) if keep]
        digests = [d for d, keep in zip(gallery.digests, rows, strict=True) if keep]
        kept = [f for f, keep in zip(faces, rows, strict=True) if keep] if faces else None
        added += database.enroll(gallery.model_hash, name, gallery.embeddings[rows], sources, digests, kept)
    return added


def enroll(
    uri: str,
    embedder: Embedder,
    finder: RegionFinder,
    paths: list[Path],
    name: str | None,
    device: str = "",
    folder: bool = False,
    keep_faces: bool = False,
) -> None:
    """`edge-gallery enroll -g URI` (or `edge-recognize --enroll` with `folder`): embed here, add to the
    database; with `keep_faces` the aligned faces too (personal data: off by default), for `reembed`."""
    gallery = new_gallery(embedder, regions=finder)
    keeper = FaceKeeper(embedder) if keep_faces else None
    embedder = keeper or embedder
    with GalleryDatabase(uri, device) as database:
        database.require_write()  # before the embedding work: a read-only role is told at once
        if folder:
            enroll_folder(gallery, embedder, paths[0], finder)
        else:
            enroll_paths(gallery, embedder, paths, name, finder)
        added = push(database, gallery, keeper.faces if keeper else None)
        people = len(database.people())
        log.info("added %s to %s", counted(added, "embedding"), database.shown)
        if not folder:
            click.echo(f"{counted(people, 'identity', 'identities')} in {database.shown}")


def enroll_one(uri: str, model_hash: str, name: str, embeddings: np.ndarray, device: str = "") -> None:
    """Enrol one live face (the window's `e`) into the database."""
    with GalleryDatabase(uri, device) as database:
        database.enroll(model_hash, name, embeddings, ["live"], [""])


def list_people(uri: str) -> None:
    """`edge-gallery list -g URI`: every person, their embeddings and the models they are enrolled for."""
    with GalleryDatabase(uri) as database:
        people = database.people()
        click.echo(f"{counted(len(people), 'identity', 'identities')} in {database.shown}, change {database.head()}")
        for name, count, models in people:
            click.echo(f"{name}\t{count}\t{models}")


def remove(uri: str, names: list[str], device: str = "") -> None:
    """`edge-gallery remove -g URI`: remove people everywhere (logged in the database's `removals`)."""
    with GalleryDatabase(uri, device) as database:
        database.remove(names)
        click.echo(f"{counted(len(database.people()), 'identity', 'identities')} in {database.shown}")


def rename(uri: str, old: str, new: str, merge: bool, device: str = "") -> None:
    """`edge-gallery rename -g URI`."""
    with GalleryDatabase(uri, device) as database:
        database.rename(old, new, merge)
    click.echo(f"renamed {old} to {new}")


def open_copy(
    uri: str, embedder: Embedder, finder: RegionFinder, index: str = "numpy", copy: str | None = None, device: str = ""
) -> tuple[Gallery, GallerySync]:
    """The device's copy of the gallery at `uri`, caught up if the database answers; the sync that keeps it
    up to date (start it to follow the database while running)."""
    info = embedder.info
    sync = GallerySync(
        uri, copy, info.family, info.embedding_size, face_cut=finder.landmark_method, index=index, device=device
    )
    gallery = sync.open()
    if gallery is None:
        raise GalleryError(f"no copy of {sync.shown} on this device yet")
    return gallery, sync


def sync_now(uri: str, embedder: Embedder, copy: str | None = None, device: str = "") -> str:
    """`edge-gallery sync`: catch the device's copy up once (an error when the database does not answer)."""
    info = embedder.info
    sync = GallerySync(uri, copy, info.family, info.embedding_size, device=device)
    with GalleryDatabase(uri, device) as database:
        database.require_schema()
        sync.catch_up(database)
    gallery = Gallery.load(sync.copy, info.family)
    return f"{counted(len(gallery), 'identity', 'identities')} in {sync.copy}"


def reembed(uri: str, embedder: Embedder, device: str = "") -> None:
    """`edge-gallery reembed -g URI -m MODEL`: enrol everyone whose faces were kept (`--keep-faces`) for this
    model too, from those faces; people without a kept face are named (enrol them again)."""
    info = embedder.info
    with GalleryDatabase(uri, device) as database:
        database.require_write()
        faces, without = database.kept_faces(info.family)
        people: dict[str, list[tuple[np.ndarray, str, str]]] = {}
        for name, face, source, digest in faces:
            image = cv2.imdecode(np.frombuffer(face, np.uint8), cv2.IMREAD_UNCHANGED)
            if image is None:
                log.warning("skipped a kept face of %s (%s): not a readable image", name, source)
                continue
            people.setdefault(name, []).append((image, source, digest))
        added = 0
        for name, rows in people.items():
            vectors = embedder.embed([r[0] for r in rows])
            png = [cv2.imencode(".png", r[0])[1].tobytes() for r in rows]
            added += database.enroll(info.family, name, vectors, [r[1] for r in rows], [r[2] for r in rows], png)
        click.echo(
            f"{counted(added, 'embedding')} of {counted(len(people), 'person', 'people')} for model "
            f"{info.family} in {database.shown}"
        )
        if without:
            log.warning(
                "%s no kept face to re-embed (enrol them again): %s",
                counted(len(without), "person has", "people have"),
                ", ".join(without),
            )
