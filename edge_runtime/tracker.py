"""A small IoU tracker: detections keep an id across frames, names are voted over recent frames,
and an event is emitted once each time a track shows a (new) identity."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from edge_runtime.detectors import Box
from edge_runtime.recognizer import UNKNOWN, Recognition


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One object followed across frames, with its recent names and scores."""

    track_id: int
    box: Box
    votes: deque = field(default_factory=deque)
    missed: int = 0
    announced: str | None = None

    def voted(self) -> tuple[str, float]:
        """The most frequent recent name (latest wins ties) and its mean score."""
        counts = Counter(name for name, _ in self.votes)
        top = max(counts.values())
        name = next(n for n, _ in reversed(self.votes) if counts[n] == top)
        scores = [s for n, s in self.votes if n == name]
        return name, sum(scores) / len(scores)


@dataclass(frozen=True)
class TrackedRecognition:
    """A recognition after tracking and voting; `is_new` marks an appearance event."""

    track_id: int
    box: Box
    name: str
    score: float
    is_new: bool
    skipped: str | None = None


class IouTracker:
    """Greedy IoU matching of each frame's recognitions to the live tracks."""

    def __init__(self, smooth: int = 5, min_iou: float = 0.3, max_missed: int = 10) -> None:
        self.smooth, self.min_iou, self.max_missed = max(1, smooth), min_iou, max_missed
        self.tracks: list[Track] = []
        self.next_id = 1

    def update(self, recognitions: list[Recognition]) -> list[TrackedRecognition]:
        """Assign tracks, vote names, and report which tracks show a new identity."""
        pairs = sorted(
            ((iou(t.box, r.box), ti, ri) for ti, t in enumerate(self.tracks) for ri, r in enumerate(recognitions)),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for overlap, ti, ri in pairs:
            if overlap < self.min_iou:
                break
            if ti not in used_tracks and ri not in assigned:
                assigned[ri] = self.tracks[ti]
                used_tracks.add(ti)
        for ti, track in enumerate(self.tracks):
            if ti not in used_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        results = []
        for ri, recognition in enumerate(recognitions):
            track = assigned.get(ri)
            if track is None:
                track = Track(self.next_id, recognition.box, deque(maxlen=self.smooth))
                self.next_id += 1
                self.tracks.append(track)
            track.box, track.missed = recognition.box, 0
            if recognition.skipped is not None:  # not named and no vote: the track's name waits
                results.append(
                    TrackedRecognition(track.track_id, recognition.box, UNKNOWN, 0.0, False, recognition.skipped)
                )
                continue
            track.votes.append((recognition.name, recognition.score))
            name, score = track.voted()
            is_new = name != track.announced
            track.announced = name
            results.append(TrackedRecognition(track.track_id, recognition.box, name, score, is_new))
        return results
