"""Recent appearances, as the page and the event stream show them: who (a name or "unknown"),
where (stream), when, and a thumbnail of the face; each keeps the face as the model saw it, so
that "this is Ann" can enrol it."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edge_runtime.faces.regions import Region
from edge_runtime.identity.tracker import NAMED, TrackedRecognition
from edge_runtime.imaging.detectors import Box

KEEP = 200  # events kept in memory: the page shows the latest, the stream sends each once
THUMBNAIL_SIDE = 96


def thumbnail(image: np.ndarray, box: Box | None = None, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG of `box` in `image` (with a margin of a fifth around it), scaled to `side` pixels high."""
    if box is not None:
        x, y, w, h = box
        margin = max(w, h) // 5
        top, left = max(0, y - margin), max(0, x - margin)
        cut = image[top : y + h + margin, left : x + w + margin]
        image = cut if cut.size else image  # a box outside the frame: the whole frame
    scale = side / max(1, image.shape[0])
    small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), side), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


@dataclass(frozen=True)
class Event:
    """One appearance: a newly confirmed name (or "unknown") on a stream, its face and thumbnail."""

    id: int
    time: float
    stream: str
    name: str
    score: float
    box: Box
    thumbnail: bytes
    face: np.ndarray | None  # the region as the model embeds it (for enrolling it), None for a photo's

    def to_dict(self) -> dict:
        """The event as the API gives it (the thumbnail by its address)."""
        return {"id": self.id, "time": round(self.time, 3), "stream": self.stream, "name": self.name,
                "score": round(self.score, 4), "box": list(self.box),
                "thumbnail": f"/api/events/{self.id}/thumbnail"}  # fmt: skip


class EventLog:
    """The latest `keep` events, numbered from 1, safe to note from the loop and read from the server."""

    def __init__(self, keep: int = KEEP) -> None:
        self.events: deque[Event] = deque(maxlen=keep)
        self.lock = threading.Lock()
        self.next_id = 1

    def note(self, stream: str, image: np.ndarray, results: list[TrackedRecognition], regions: list[Region]) -> None:
        """Keep the events among a frame's results (a newly confirmed name or unknown)."""
        for index, result in enumerate(results):
            if not result.is_new or result.name is None or result.skipped is not None:
                continue
            face = regions[index].image if index < len(regions) else None
            self.add(stream, result.name if result.status == NAMED else "unknown", result.score, result.box,
                     thumbnail(image, result.box), face)  # fmt: skip

    def add(self, stream: str, name: str, score: float, box: Box, jpeg: bytes, face: np.ndarray | None) -> Event:
        """Keep one event; returns it."""
        with self.lock:
            event = Event(self.next_id, time.time(), stream, name, float(score), tuple(box), jpeg, face)
            self.next_id += 1
            self.events.append(event)
        return event

    def since(self, last_id: int) -> list[Event]:
        """The events after `last_id`, oldest first."""
        with self.lock:
            return [e for e in self.events if e.id > last_id]

    def latest(self, count: int = 50) -> list[Event]:
        """The latest `count` events, newest first."""
        with self.lock:
            return list(self.events)[::-1][:count]

    def get(self, event_id: int) -> Event | None:
        """The event numbered `event_id`, while it is kept."""
        with self.lock:
            return next((e for e in self.events if e.id == event_id), None)
