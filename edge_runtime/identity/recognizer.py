"""`Recognizer`: regions, embedder and gallery together: a frame in, named boxes out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.words import counted
from edge_runtime.faces.regions import Region, RegionFinder, make_regions
from edge_runtime.identity.gallery import Gallery, GalleryError
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.thresholds import ThresholdChoice, ThresholdError
from edge_runtime.imaging.detectors import Box
from edge_runtime.inference.embedder import Embedder

__all__ = ["UNKNOWN", "Recognition", "Recognizer", "resolve_threshold"]
log = logging.getLogger("edge_runtime")


@dataclass(frozen=True)
class Recognition:
    """One recognised region: its box, the name (or "unknown") and the best cosine score.

    A region the quality gate turned away is "unknown" with score 0 and says why in `skipped`.
    """

    box: Box
    name: str
    score: float
    skipped: str | None = None


def resolve_threshold(embedder: Embedder, override: float | None) -> float:
    """`override` if given, else the calibrated threshold in the model's metadata."""
    if override is not None:
        return float(override)
    if embedder.info.threshold is None:
        raise SiameseEdgeError("the model carries no calibrated threshold; pass --threshold")
    return float(embedder.info.threshold)


class Recognizer:
    """Name what a frame shows, or say "unknown" below the threshold. With `by_size`, the threshold
    follows the number of people enrolled (--false-name-rate): a gallery that grows or shrinks while
    running (an enrolment from the window or the page, a shared gallery's sync) gets its own."""

    def __init__(
        self,
        embedder: Embedder,
        gallery: Gallery,
        regions: RegionFinder | None = None,
        threshold: float | None = None,
        by_size: Callable[[int], ThresholdChoice] | None = None,
    ) -> None:
        if gallery.model_hash != embedder.info.family:
            raise GalleryError(
                f"the gallery was enrolled with model {gallery.model_hash}, not with this model "
                f"({embedder.info.family}); re-enroll the identities with this model"
            )
        self.embedder, self.gallery = embedder, gallery
        self.regions = regions or make_regions(embedder.info)
        self._threshold = resolve_threshold(embedder, threshold)
        self.by_size, self._people = by_size, max(1, len(gallery))

    @property
    def threshold(self) -> float:
        """The threshold now (with `by_size`, the one for the number of people enrolled now)."""
        people = max(1, len(self.gallery))
        if self.by_size is not None and people != self._people:
            self._people = people
            try:
                choice = self.by_size(people)
            except ThresholdError as error:  # a running loop keeps going: the stricter of what it has
                log.warning("%s enrolled now: %s; keeping threshold %.4f", counted(people, "person", "people"),
                            error, self._threshold)  # fmt: skip
                return self._threshold
            if choice.threshold != self._threshold:
                log.info("%s enrolled now: threshold %.4f (%s)", counted(people, "person", "people"),
                         choice.threshold, choice.why)  # fmt: skip
            self._threshold = choice.threshold
        return self._threshold

    def recognize(self, frame: np.ndarray) -> list[Recognition]:
        """Detect, cut, vet, embed and match every region of `frame`."""
        return self.recognize_regions(self.regions.find(frame))

    def recognize_regions(self, regions: list[Region]) -> list[Recognition]:
        """Embed and match the usable regions (all unknown while the gallery is empty)."""
        return self.recognize_frames([regions])[0]

    def recognize_frames(self, frames: list[list[Region]]) -> list[list[Recognition]]:
        """The regions of several frames (of several streams) embedded in one batch and matched."""
        usable = [(f, i) for f, regions in enumerate(frames) for i, r in enumerate(regions) if r.skipped is None]
        named: dict[tuple[int, int], tuple[str, float]] = {}
        gallery, threshold = self.gallery, self.threshold  # once: a sync may swap in a new gallery at any moment
        if usable and len(gallery):
            matches = gallery.match(self.embedder.embed([frames[f][i].image for f, i in usable]), k=1)
            for key, (best,) in zip(usable, matches, strict=True):
                named[key] = (best.name if best.score >= threshold else UNKNOWN, best.score)
        return [
            [Recognition(r.box, *named.get((f, i), (UNKNOWN, 0.0)), skipped=r.skipped) for i, r in enumerate(regions)]
            for f, regions in enumerate(frames)
        ]
