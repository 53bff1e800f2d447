"""What a recognition run did, in all and per stream: frames, rate, stage times, latency, batches
and who was seen."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from edge_runtime.faces.face_quality import SKIP_REASONS
from edge_runtime.identity.tracker import NAMED, PENDING, SKIPPED, UNKNOWN, TrackedRecognition

STAGES = ("decode", "detect", "align", "embed_match", "draw_write")
LATENCIES_KEPT = 10_000  # the percentile is of the latest frames: a run of days keeps no more


@dataclass
class StreamSummary:
    """One stream's share of a run. `seconds` runs from the start of the run to the stream's last
    frame written; latency is from the moment its frame was read to the moment it was written (the
    mean over all frames, the 95th percentile over the latest `LATENCIES_KEPT`)."""

    name: str
    frames: int = 0
    seconds: float = 0.0
    latency_total: float = 0.0
    latencies: deque = field(default_factory=lambda: deque(maxlen=LATENCIES_KEPT), repr=False)
    appearances: Counter = field(default_factory=Counter)
    dropped: int = 0  # a live stream's frames left for newer ones
    reconnects: int = 0
    state: str = "running"  # then "ended", "stopped" (Ctrl-C, SIGTERM, --max-frames) or "failed: why"

    @property
    def fps(self) -> float:
        """Frames per second of this stream."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self) -> tuple[float, float]:
        """Mean and 95th percentile latency, in milliseconds."""
        if not self.latencies:
            return 0.0, 0.0
        return self.mean_latency_ms(), 1000.0 * float(np.percentile(self.latencies, 95))

    def mean_latency_ms(self) -> float:
        """Mean latency in milliseconds; safe to read from another thread while frames are added."""
        frames = self.frames
        return 1000.0 * self.latency_total / frames if frames else 0.0

    def add(self, latency: float, seconds: float) -> None:
        """Count a frame written `latency` seconds after it was read, `seconds` into the run."""
        self.frames += 1
        self.seconds = seconds
        self.latency_total += latency
        self.latencies.append(latency)

    def describe(self) -> str:
        """One line for the log: frames, FPS, latency and how the stream ended."""
        mean, p95 = self.latency_ms()
        extra = "".join(
            f", {count} {what}" for what, count in (("dropped", self.dropped), ("reconnects", self.reconnects)) if count
        )
        return (f"{self.name}: {self.frames} frames, {self.fps:.1f} FPS, latency {mean:.0f} ms "
                f"(p95 {p95:.0f} ms){extra}, {self.state}")  # fmt: skip


@dataclass
class LoopSummary:
    """What a run did: frames of all streams, rate, per-stage latency, batches, who was seen
    (appearance events), and each stream's own summary."""

    frames: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    appearances: Counter = field(default_factory=Counter)
    interrupted: bool = False  # Ctrl-C, SIGTERM or SIGHUP
    quit: bool = False  # q (or Esc) pressed in the window
    streams: list[StreamSummary] = field(default_factory=list)
    batches: int = 0
    batched_frames: int = 0
    batched_faces: int = 0  # regions embedded (those the quality gate let through)
    unnamed: Counter = field(default_factory=Counter)  # why no name: see `note_frame`
    _counted: set = field(default_factory=set, repr=False)

    @property
    def fps(self) -> float:
        """Frames per second over the whole run, all streams together."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def stage_ms(self) -> dict[str, float]:
        """Mean milliseconds per frame in each stage."""
        return {k: 1000.0 * v / max(1, self.frames) for k, v in self.stage_seconds.items()}

    def count(self, result: TrackedRecognition, stream: StreamSummary | None = None) -> None:
        """Count an appearance: each identity once per track (a track confirming ann, then unknown,
        then ann again is one appearance of ann), each named photo once; tracks are per stream. Faces
        pending, unknown or skipped are no appearance."""
        if not result.is_new or result.status != NAMED:
            return
        key = (stream.name if stream else None, result.track_id, result.name)
        if result.track_id is None or key not in self._counted:
            self._counted.add(key)
            self.appearances[result.name] += 1
            if stream is not None:
                stream.appearances[result.name] += 1

    def note_frame(self, results: list[TrackedRecognition]) -> None:
        """Count why this frame named nobody, or which of its faces got no name and why: no face
        found, the quality gate's reason (too small, too blurred, turned away), below the threshold
        (unknown), or pending (a name not yet confirmed)."""
        if not results:
            self.unnamed["no face"] += 1
        for result in results:
            status = result.status
            if status == SKIPPED:
                self.unnamed[SKIP_REASONS.get(result.skipped, result.skipped)] += 1
            elif status == UNKNOWN:
                self.unnamed["below the threshold"] += 1
            elif status == PENDING:
                self.unnamed["pending"] += 1

    def describe_unnamed(self) -> str:
        """Why faces got no name, most frequent first, and the frames with no face: what to fix (light,
        camera angle, distance, threshold)."""
        faces = ", ".join(f"{why} {count}" for why, count in self.unnamed.most_common() if why != "no face")
        return f"faces without a name: {faces or 'none'}; frames with no face: {self.unnamed['no face']}"

    @property
    def frames_per_batch(self) -> float:
        """Frames the model embedded together, on average (several streams share its calls)."""
        return self.batched_frames / max(1, self.batches)

    def describe_batches(self) -> str:
        """How the streams shared the model: batches, and frames and faces per batch."""
        return (f"{self.batches} batches, {self.frames_per_batch:.2f} frames and "
                f"{self.batched_faces / max(1, self.batches):.2f} faces a batch")  # fmt: skip
