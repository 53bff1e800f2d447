"""The live view: each stream's newest frame, annotated and encoded as JPEG only while someone
watches and at most `max_rate` times a second (every watcher shares one encoding); and what each
stream has done (frames, rate, latency, faces, unknowns, dropped frames) for the page and metrics.

The loop's main thread calls `LiveHub.write` for every frame: with nobody watching it only counts
(and notes events); watchers' own threads annotate and encode."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_runtime.faces.regions import Region
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.tracker import TrackedRecognition
from edge_runtime.io.outputs import annotate
from edge_runtime.loop.run_summary import StreamSummary
from edge_runtime.serve.events import EventLog

log = logging.getLogger(__name__)
MAX_RATE = 10.0  # live frames a second, at most, per stream
JPEG_QUALITY = 75


@dataclass
class StreamView:
    """One stream as the server sees it: its counts, its newest frame while watched, its watchers."""

    name: str
    summary: StreamSummary | None = None
    faces: int = 0
    unknowns: int = 0
    dropped: int = 0
    viewers: int = 0
    newest: tuple[int, np.ndarray, list[TrackedRecognition], float] | None = None  # (number, image, results, fps)
    number: int = 0
    encoded: tuple[int, bytes] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to_dict(self) -> dict:
        """The stream's state and figures, as the API gives them."""
        summary = self.summary or StreamSummary(self.name)
        mean = summary.mean_latency_ms()  # (the percentile would read the loop's deque while it grows)
        return {"name": self.name, "state": summary.state, "frames": summary.frames, "fps": round(summary.fps, 2),
                "latency_ms": round(mean, 1), "faces": self.faces, "unknowns": self.unknowns,
                "dropped": self.dropped, "viewers": self.viewers}  # fmt: skip


class LiveHub:
    """What the recognition loop shows the server: a `StreamView` per stream, and the events."""

    def __init__(self, events: EventLog | None = None, max_rate: float = MAX_RATE) -> None:
        self.views: dict[str, StreamView] = {}
        self.events = events or EventLog()
        self.max_rate = max_rate

    def write(self, stream: str, image: np.ndarray | None, results: list[TrackedRecognition],
              regions: list[Region], summary: StreamSummary, dropped: int) -> None:  # fmt: skip
        """The loop's frame of `stream`: count it, note its events, and keep it if someone watches. Whatever
        goes wrong here is logged, never raised: the server must not stop the loop."""
        try:
            self._write(stream, image, results, regions, summary, dropped)
        except Exception as error:  # the loop goes on; the page misses this frame
            log.warning("the web page missed a frame of %s: %s: %s", stream, type(error).__name__, error)

    def _write(self, stream: str, image: np.ndarray | None, results: list[TrackedRecognition],
               regions: list[Region], summary: StreamSummary, dropped: int) -> None:  # fmt: skip
        view = self.views.get(stream) or self.views.setdefault(stream, StreamView(stream))
        view.summary, view.dropped = summary, dropped
        usable = [r for r in results if r.skipped is None]
        view.faces += len(usable)
        view.unknowns += sum(r.name == UNKNOWN for r in usable)
        if image is None:
            return
        if any(r.is_new for r in results):
            self.events.note(stream, image, results, regions)
        if view.viewers:
            view.number += 1
            view.newest = (view.number, image, results, summary.fps)

    def add_stream(self, stream: str) -> None:
        """Show `stream` (before its first frame: as waiting)."""
        self.views.setdefault(stream, StreamView(stream))

    @contextlib.contextmanager
    def watching(self, stream: str) -> Iterator[StreamView]:
        """Count a watcher of `stream` while inside (frames are kept only while one watches)."""
        view = self.views[stream]
        with view.lock:
            view.viewers += 1
        try:
            yield view
        finally:
            with view.lock:
                view.viewers -= 1
                if not view.viewers:
                    view.newest = view.encoded = None

    def jpeg(self, stream: str) -> tuple[int, bytes] | None:
        """The newest frame of `stream`, annotated as on the window, as (number, JPEG); None before the
        first frame watched. Encoded once for every watcher."""
        view = self.views[stream]
        with view.lock:
            newest = view.newest
            if newest is None:
                return None
            if view.encoded is None or view.encoded[0] != newest[0]:
                number, image, results, fps = newest
                canvas = annotate(image, results, fps)
                jpeg = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes()
                view.encoded = (number, jpeg)
            return view.encoded
