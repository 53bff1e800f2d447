"""Enrollment: from a folder of identities, from image files, or from a live frame.

Enrolling a photo that is already in the gallery (the same bytes, wherever the file now lies) is a
no-op under the same name and is refused under another; a folder whose name is not a valid
identity name (see `names`) is skipped with a warning, and the others are enrolled. A person's folder
that yields no image (only subfolders, videos or other files; none usable) is named in a warning too:
nobody goes missing from an enrolment unsaid.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.words import counted
from edge_runtime.faces.face_quality import SKIP_REASONS
from edge_runtime.faces.regions import RegionFinder, image_problem, make_regions
from edge_runtime.identity.gallery import Gallery, GalleryError, changing
from edge_runtime.identity.names import check_name, printable
from edge_runtime.imaging.detectors import box_area
from edge_runtime.imaging.preprocessing import image_files, is_image_file, read_image
from edge_runtime.inference.embedder import Embedder

log = logging.getLogger(__name__)
# a person's folder that holds only these is named as holding videos: frames are not enrolled from them
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".3gp", ".mts", ".m2ts", ".wmv", ".mpg", ".mpeg")
RIVAL_SHARE = 0.5  # another face at least this share of the largest one's area makes a photo ambiguous


def identity_images(folder: str | Path) -> dict[str, list[Path]]:
    """`folder/<name>/*.jpg` (one identity per subfolder) or `folder/<name>.jpg` (one per image)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GalleryError(f"enrollment folder {folder} does not exist")
    found: dict[str, list[Path]] = {}
    refused = 0
    for entry in sorted(folder.iterdir()):
        images = image_files(entry) if entry.is_dir() else [entry] if is_image_file(entry) else []
        if not images:
            if not entry.name.startswith("."):  # .git, .DS_Store: nobody's photos
                log.warning("%s: %s, not enrolled", printable(entry.name), _why_no_images(entry))
            continue
        try:
            name = check_name(entry.name if entry.is_dir() else entry.stem)
        except SiameseEdgeError as error:
            log.warning("skipped %s: %s", printable(str(entry)), error)
            refused += 1
            continue
        found.setdefault(name, []).extend(images)
    if not found:
        refused_note = f"; {refused} skipped for their names" if refused else ""
        raise GalleryError(f"no images to enroll in {folder} (expected {folder}/<name>/<image>{refused_note})")
    return found


def _why_no_images(entry: Path) -> str:
    """Why a person's folder (or a file beside them) yields no image, with what it holds instead."""
    if not entry.is_dir():
        return "not an image file"
    held = {"folder": 0, "video": 0, "other file": 0}
    in_subfolders = False
    for item in entry.iterdir():
        if item.is_dir():
            held["folder"] += 1
            in_subfolders = in_subfolders or bool(image_files(item))
        else:
            held["video" if item.suffix.lower() in VIDEO_SUFFIXES else "other file"] += 1
    if not any(held.values()):
        return "no image files (an empty folder)"
    holds = ", ".join(counted(count, kind) for kind, count in held.items() if count)
    move = f"; move the photos in its subfolders into {printable(entry.name)}/ itself" if in_subfolders else ""
    return f"no image files (holds {holds}{move})"


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes: the same photo has the same digest wherever it lies."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def usable_region(image: np.ndarray, regions: RegionFinder, source: str) -> np.ndarray:
    """The pixels to embed from an image (its largest region, as the recognizer would cut it), or a
    SiameseEdgeError saying why there are none. When another usable face is at least half as large,
    which one was meant is a guess, and a warning says so."""
    problem = image_problem(image)
    if problem:
        raise SiameseEdgeError(f"{source}: {problem}")
    detections = regions.detect(image)
    if not detections:
        raise SiameseEdgeError(f"{source}: nothing detected")
    large = [d for d in detections[1:] if box_area(d.box) >= RIVAL_SHARE * box_area(detections[0].box)]
    region, *others = regions.cut(image, detections[:1] + large)
    if region.skipped is not None:
        raise SiameseEdgeError(f"{source}: the face is {SKIP_REASONS[region.skipped]} (--no-quality to use it anyway)")
    rivals = [other for other in others if other.skipped is None]  # a profile or blur would not be used
    if rivals:
        more = "another face" if len(rivals) == 1 else f"{len(rivals)} other faces"
        log.warning("%s: %s at least half the size of the largest; took the largest (crop the photo to the person "
                    "to be sure)", source, more)  # fmt: skip
    return region.image


@dataclass
class Enrolled:
    """What enrolling some images did: how many were added, and how many were already enrolled."""

    added: int = 0
    already: int = 0


def enroll_images(
    gallery: Gallery, embedder: Embedder, name: str, paths: list[Path], regions: RegionFinder | None = None
) -> Enrolled:
    """Enroll `name` from image files; unreadable images, ones without a detection, ones the quality
    gate turns away and ones enrolled under another name are skipped with a warning, ones already
    enrolled under this name are left as they are. `regions` defaults to what the model's kind needs."""
    name = check_name(name)
    regions = regions or make_regions(embedder.info)
    result, images, sources, digests = Enrolled(), [], [], []
    for path in paths:
        shown = printable(str(path))
        try:
            digest = file_digest(Path(path))
            owner = gallery.owner_of_digest(digest) or (name if digest in digests else None)
            if owner == name:
                log.debug("%s is already enrolled as %s; left as it is", shown, name)
                result.already += 1
                continue
            if owner is not None:
                raise GalleryError(f"{shown} is already enrolled as {owner!r} (edge-gallery remove or rename first)")
            images.append(usable_region(read_image(path), regions, shown))
        except (SiameseEdgeError, OSError) as error:
            log.warning("skipped %s", error)
            continue
        sources.append(shown)
        digests.append(digest)
    if images:
        gallery.add(name, embedder.embed(images), sources, digests)
    result.added = len(images)
    return result


def enroll_folder(
    gallery: Gallery, embedder: Embedder, folder: str | Path, regions: RegionFinder | None = None
) -> dict[str, int]:
    """Enroll every identity of a folder; returns how many images each added (identities whose
    images were all enrolled already are left out)."""
    enrolled, already = {}, 0
    regions = regions or make_regions(embedder.info)  # once: it loads the detectors
    for name, paths in identity_images(folder).items():
        result = enroll_images(gallery, embedder, name, paths, regions)
        already += result.already
        if result.added:
            enrolled[name] = result.added
        elif not result.already:
            log.warning("%s: no usable image, not enrolled", name)
    if not enrolled and not already:
        raise GalleryError(f"no identity of {folder} could be enrolled")
    if already:
        log.info(
            "%s of %s %s already enrolled; left as they are",
            counted(already, "image"),
            folder,
            "was" if already == 1 else "were",
        )
    return enrolled


def enroll_paths(
    gallery: Gallery, embedder: Embedder, paths: list[Path], name: str | None, regions: RegionFinder | None = None
) -> None:
    """`edge-gallery enroll`: folders of <name>/<image>, or with `name` image files and folders of
    one person's images; an image file without `name` is an error that says to give one."""
    if name is None:
        for path in paths:
            if not path.is_dir():
                raise GalleryError(f"{printable(str(path))} is a file: give --name NAME to enroll it as NAME")
        regions = regions or make_regions(embedder.info)
        for folder in paths:
            enroll_folder(gallery, embedder, folder, regions)
        return
    images = [image for path in paths for image in (image_files(path) if path.is_dir() else [path])]
    result = enroll_images(gallery, embedder, name, images, regions)
    if result.already:
        log.info(
            "%s %s already enrolled as %s; left as they are",
            counted(result.already, "image"),
            "was" if result.already == 1 else "were",
            name,
        )
    if not result.added and not result.already:
        raise GalleryError(f"no usable image for {name}")


def new_gallery(embedder: Embedder, index: str = "numpy", regions: RegionFinder | None = None) -> Gallery:
    """An empty gallery bound to this embedder's model (its family: every precision and variant of one
    export), recording how `regions` cut faces."""
    gallery = Gallery(embedder.info.family, embedder.info.embedding_size, index)
    if regions is not None:
        gallery.face_cut = regions.landmark_method
    return gallery


def open_gallery(
    path: str | Path,
    embedder: Embedder,
    create: bool = False,
    index: str = "numpy",
    regions: RegionFinder | None = None,
) -> Gallery:
    """Load the gallery at `path` for this model (or start an empty one when `create` and absent); with
    `regions`, warn when its faces were cut by other landmarks than these cut them."""
    if create and not Path(path).exists():
        return new_gallery(embedder, index, regions)
    gallery = Gallery.load(path, model_hash=embedder.info.family, index=index)
    if gallery.embedding_size != embedder.info.embedding_size:
        raise GalleryError(
            f"gallery {path} holds embeddings of size {gallery.embedding_size}, and this model makes embeddings of "
            f"size {embedder.info.embedding_size}; re-enroll the identities with this model"
        )
    if regions is not None:
        _adopt_or_compare_face_cut(gallery, regions.landmark_method, path)
    return gallery


def add_to_saved(
    path: str | Path,
    embedder: Embedder,
    name: str,
    embeddings: np.ndarray,
    sources: list[str],
    regions: RegionFinder | None = None,
) -> None:
    """Add `name`'s embeddings to the gallery file at `path` as it is now, under its lock: what other
    processes enrolled there since this one loaded it stays (the live window's enrolment)."""
    with changing(path):
        gallery = open_gallery(path, embedder, create=True, regions=regions)
        gallery.add(name, embeddings, sources)
        gallery.save(path)


def _adopt_or_compare_face_cut(gallery: Gallery, method: str, path: str | Path) -> None:
    """An empty gallery takes `method` (what will cut its faces); one enrolled with another says so."""
    if not len(gallery):
        gallery.face_cut = method
    elif method and gallery.face_cut and gallery.face_cut != method:
        log.warning("gallery %s was enrolled with --landmarks %s, and faces are cut with --landmarks %s now: the "
                    "two cut faces a little apart, so names may be missed; give --landmarks %s (or re-enroll)",
                    printable(str(path)), gallery.face_cut, method, gallery.face_cut)  # fmt: skip
