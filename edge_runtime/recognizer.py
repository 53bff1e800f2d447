"""`Recognizer`: detector, embedder and gallery together: a frame in, named boxes out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.detectors import Box, WholeFrame, crop
from edge_runtime.embedder import Embedder
from edge_runtime.errors import SiameseEdgeError
from edge_runtime.gallery import Gallery, GalleryError

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Recognition:
    """One recognised region: its box, the name (or "unknown") and the best cosine score."""

    box: Box
    name: str
    score: float


def resolve_threshold(embedder: Embedder, override: float | None) -> float:
    """`override` if given, else the calibrated threshold in the model's metadata."""
    if override is not None:
        return float(override)
    if embedder.info.threshold is None:
        raise SiameseEdgeError("the model carries no calibrated threshold; pass --threshold")
    return float(embedder.info.threshold)


class Recognizer:
    """Name what a frame shows, or say "unknown" below the threshold."""

    def __init__(self, embedder: Embedder, gallery: Gallery, detector=None, threshold: float | None = None) -> None:
        if gallery.model_hash != embedder.info.model_hash:
            raise GalleryError(
                f"the gallery was enrolled with model {gallery.model_hash}, not with this model "
                f"({embedder.info.model_hash}); re-enroll the identities with this model"
            )
        self.embedder, self.gallery = embedder, gallery
        self.detector = detector or WholeFrame()
        self.threshold = resolve_threshold(embedder, threshold)

    def recognize(self, frame: np.ndarray) -> list[Recognition]:
        """Detect, embed and match every region of `frame`."""
        return self.recognize_boxes(frame, self.detector.detect(frame))

    def recognize_boxes(self, frame: np.ndarray, boxes: list[Box]) -> list[Recognition]:
        """Embed and match the given regions of `frame` (all unknown while the gallery is empty)."""
        if not boxes:
            return []
        if len(self.gallery) == 0:
            return [Recognition(box=box, name=UNKNOWN, score=0.0) for box in boxes]
        embeddings = self.embedder.embed([crop(frame, box) for box in boxes])
        results = []
        for box, (best,) in zip(boxes, self.gallery.match(embeddings, k=1), strict=True):
            name = best.name if best.score >= self.threshold else UNKNOWN
            results.append(Recognition(box=box, name=name, score=best.score))
        return results
