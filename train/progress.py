"""A progress line for long work: redrawn in place on a terminal, a log line now and then elsewhere."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger(__name__)


class Progress:
    """Report `done` of `total` with rate and time left; `enabled=False` makes it silent."""

    def __init__(self, label: str, total: int, enabled: bool = True, stream=None) -> None:
        self.label, self.total, self.enabled = label, max(total, 1), enabled
        self.stream = stream or sys.stderr
        self.interactive = enabled and self.stream.isatty()
        self.start = self.last_report = time.monotonic()
        self.done = 0

    def update(self, done: int, note: str = "") -> None:
        """Record that `done` items are finished; `note` (a loss, say) is shown beside."""
        self.done = done
        now = time.monotonic()
        finished = done >= self.total
        if not self.enabled or (now - self.last_report < (0.2 if self.interactive else 30.0) and not finished):
            return
        self.last_report = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else 0.0
        width = 24
        filled = int(width * done / self.total)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
            f"{rate:.1f}/s {elapsed:.0f}s elapsed {left:.0f}s left {note}"
        )
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if finished else ""))
            self.stream.flush()
        else:
            log.info("%s", line)
