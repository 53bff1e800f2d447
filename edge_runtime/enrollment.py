"""Enrollment: from a folder of identities, from image files, or from a live frame."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge_runtime.embedder import Embedder
from edge_runtime.errors import SiameseEdgeError
from edge_runtime.face_quality import SKIP_REASONS
from edge_runtime.gallery import Gallery, GalleryError
from edge_runtime.preprocessing import IMAGE_SUFFIXES, read_image
from edge_runtime.regions import RegionFinder, make_regions

log = logging.getLogger(__name__)


def identity_images(folder: str | Path) -> dict[str, list[Path]]:
    """`folder/<name>/*.jpg` (one identity per subfolder) or `folder/<name>.jpg` (one per image)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GalleryError(f"enrollment folder {folder} does not exist")
    found: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            images = sorted(p for p in entry.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if images:
                found[entry.name] = images
        elif entry.suffix.lower() in IMAGE_SUFFIXES:
            found.setdefault(entry.stem, []).append(entry)
    if not found:
        raise GalleryError(f"no images to enroll in {folder} (expected {folder}/<name>/<image>)")
    return found


def usable_region(image: np.ndarray, regions: RegionFinder, source: str) -> np.ndarray:
    """The pixels to embed from an image (its largest region, as the recognizer would cut it), or a
    SiameseEdgeError saying why there are none."""
    region = regions.largest(image)
    if region is None:
        raise SiameseEdgeError(f"{source}: nothing detected")
    if region.skipped is not None:
        raise SiameseEdgeError(f"{source}: the face is {SKIP_REASONS[region.skipped]} (--no-quality to use it anyway)")
    return region.image


def enroll_images(
    gallery: Gallery, embedder: Embedder, name: str, paths: list[Path], regions: RegionFinder | None = None
) -> int:
    """Enroll `name` from image files; unreadable images, ones without a detection and ones the quality
    gate turns away are skipped with a warning. `regions` defaults to what the model's kind needs."""
    regions = regions or make_regions(embedder.info.kind)
    images, sources = [], []
    for path in paths:
        try:
            images.append(usable_region(read_image(path), regions, str(path)))
        except SiameseEdgeError as error:
            log.warning("skipped %s", error)
            continue
        sources.append(str(path))
    if images:
        gallery.add(name, embedder.embed(images), sources)
    return len(images)


def enroll_folder(
    gallery: Gallery, embedder: Embedder, folder: str | Path, regions: RegionFinder | None = None
) -> dict[str, int]:
    """Enroll every identity of a folder; returns how many images each got."""
    enrolled = {}
    regions = regions or make_regions(embedder.info.kind)  # once: it loads the detectors
    for name, paths in identity_images(folder).items():
        count = enroll_images(gallery, embedder, name, paths, regions)
        if count:
            enrolled[name] = count
        else:
            log.warning("%s: no usable image, not enrolled", name)
    if not enrolled:
        raise GalleryError(f"no identity of {folder} could be enrolled")
    return enrolled


def new_gallery(embedder: Embedder, index: str = "numpy") -> Gallery:
    """An empty gallery bound to this embedder's model (its family: every precision and variant of one export)."""
    return Gallery(embedder.info.family, embedder.info.embedding_size, index)


def open_gallery(path: str | Path, embedder: Embedder, create: bool = False, index: str = "numpy") -> Gallery:
    """Load the gallery at `path` for this model (or start an empty one when `create` and absent)."""
    if create and not Path(path).exists():
        return new_gallery(embedder, index)
    return Gallery.load(path, model_hash=embedder.info.family, index=index)
