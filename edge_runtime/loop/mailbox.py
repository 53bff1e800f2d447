"""One stream's frames on their way to the shared batch.

A live stream's mailbox holds its newest frame only: a frame not yet taken is replaced by a newer
one (and counted as dropped), so recognition never lags behind the camera. A file's mailbox holds
up to `room` frames in order and its reader waits for room, so no frame is lost. Every mailbox of a
run shares one condition (`bell`), so the batch thread can wait for a frame from any stream.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class Mailbox:
    """Frames of one stream, from its reader thread to the batch thread."""

    def __init__(self, bell: threading.Condition, newest_only: bool, room: int = 2) -> None:
        self.bell, self.newest_only, self.room = bell, newest_only, room
        self.items: deque = deque()
        self.dropped = 0
        self.finished: str | None = None  # why no more frames will come: "ended", "stopped", "failed: …"
        self.reported = False
        self.last_put = time.perf_counter()  # when the latest frame came (or the mailbox was made)

    def put(self, frame, stop: threading.Event) -> None:
        """Hand over a frame (a live stream's replaces an untaken one; a file's waits for room until `stop`)."""
        with self.bell:
            if self.newest_only and self.items:
                self.items.clear()
                self.dropped += 1
            while len(self.items) >= self.room and not stop.is_set():
                self.bell.wait(0.1)
            if stop.is_set():
                return
            self.items.append(frame)
            self.last_put = time.perf_counter()
            self.bell.notify_all()

    def finish(self, why: str) -> None:
        """No more frames will come, for this reason."""
        with self.bell:
            self.finished = why
            self.bell.notify_all()

    def take(self):
        """The oldest frame held (call with `bell` held, when `items` is not empty)."""
        frame = self.items.popleft()
        self.bell.notify_all()
        return frame

    def wait_take(self, stop: threading.Event):
        """The oldest frame, waiting for one; None once the mailbox is finished and empty, or on `stop`."""
        with self.bell:
            while not self.items and self.finished is None and not stop.is_set():
                self.bell.wait(0.1)
            return None if stop.is_set() or not self.items else self.take()

    def expected(self, now: float, silence: float) -> bool:
        """Whether a frame may come soon: not finished, and one came within `silence` seconds (read
        with `bell` held); a camera that is reconnecting or has not opened is not waited for."""
        return self.finished is None and now - self.last_put < silence

    @property
    def done(self) -> bool:
        """Finished and emptied (read with `bell` held)."""
        return self.finished is not None and not self.items
