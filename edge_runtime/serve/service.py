"""What the server does with the runtime: recognise and verify uploaded photos with the loop's own
model session and gallery, the people, the live view and the events, and the model's facts."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_runtime.faces.regions import RegionFinder
from edge_runtime.identity.enrollment import usable_region
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.identity.verification import verify
from edge_runtime.serve.live import LiveHub
from edge_runtime.serve.people import People


@dataclass
class Service:
    """The recognizer (its embedder, gallery and threshold), shared with the loop when one runs, and
    what the server keeps beside it. `lock` is the one the loop matches under; uploads are detected
    with a finder of their own, one request at a time."""

    recognizer: Recognizer
    gallery_path: str | Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    hub: LiveHub = field(default_factory=LiveHub)
    index: str = "numpy"

    def __post_init__(self) -> None:
        self.finder: RegionFinder = self.recognizer.regions.for_another_thread()
        self.finder_lock = threading.Lock()  # OpenCV's detectors keep state per call
        self.people = People(self.recognizer, self.finder, self.gallery_path, self.lock, self.index)

    def recognize(self, image: np.ndarray) -> list[dict]:
        """Every face of `image`: box, name (or "unknown"), score, and why one was skipped."""
        with self.finder_lock:
            regions = self.finder.find(image)
        with self.lock:
            found = self.recognizer.recognize_regions(regions)
        return [{"box": list(r.box), "name": r.name, "score": round(r.score, 4), "skipped": r.skipped} for r in found]

    def verify(self, first: np.ndarray, second: np.ndarray) -> dict:
        """Whether two photos show the same person: the verdict, the score and the threshold."""
        with self.finder_lock:
            regions = [usable_region(first, self.finder, "first"), usable_region(second, self.finder, "second")]
        verdict = verify(self.recognizer.embedder, *regions, self.recognizer.threshold)
        return {**verdict.to_dict(), "same": verdict.accepted}

    def enrol_photo(self, name: str, image: np.ndarray, data: bytes, filename: str) -> dict:
        """Enrol `name` from an uploaded photo (its largest face)."""
        with self.finder_lock:
            return self.people.enrol_photo(name, image, data, filename, self.finder)

    def about(self) -> dict:
        """The model, its providers, the threshold and the gallery's size: what the page shows read-only."""
        embedder = self.recognizer.embedder
        info = embedder.info
        return {"model": Path(embedder.path).name, "arch": info.arch, "precision": info.precision,
                "providers": list(embedder.active_providers), "threshold": round(self.recognizer.threshold, 4),
                "people": len(self.recognizer.gallery)}  # fmt: skip
