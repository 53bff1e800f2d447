"""The commands' side of a gallery in PostgreSQL (`-g postgresql://…`): enrol, list, remove and rename in
the database; recognise and search from the device's local copy, kept up to date (see `fleet`)."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import numpy as np

from edge_runtime.core.words import counted
from edge_runtime.faces.regions import RegionFinder
from edge_runtime.fleet.database import GalleryDatabase
from edge_runtime.fleet.gallery_sync import GallerySync
from edge_runtime.identity.enrollment import enroll_folder, enroll_paths, new_gallery
from edge_runtime.identity.gallery import Gallery, GalleryError
from edge_runtime.inference.embedder import Embedder

log = logging.getLogger(__name__)


def push(database: GalleryDatabase, gallery: Gallery) -> int:
    """Add every identity of an in-memory `gallery` to the database; returns the embeddings added."""
    added = 0
    for name in gallery.names:
        rows = gallery.owners == gallery.names.index(name)
        sources = [s for s, keep in zip(gallery.sources, rows, strict=True) if keep]
        digests = [d for d, keep in zip(gallery.digests, rows, strict=True) if keep]
        added += database.enroll(gallery.model_hash, name, gallery.embeddings[rows], sources, digests)
    return added


def enroll(
    uri: str,
    embedder: Embedder,
    finder: RegionFinder,
    paths: list[Path],
    name: str | None,
    device: str = "",
    folder: bool = False,
) -> None:
    """`edge-gallery enroll -g URI` (or `edge-recognize --enroll` with `folder`): embed here, add to the database."""
    gallery = new_gallery(embedder, regions=finder)
    with GalleryDatabase(uri, device) as database:
        database.require_write()  # before the embedding work: a read-only role is told at once
        if folder:
            enroll_folder(gallery, embedder, paths[0], finder)
        else:
            enroll_paths(gallery, embedder, paths, name, finder)
        added = push(database, gallery)
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
