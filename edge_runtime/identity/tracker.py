"""A small IoU tracker: detections keep an id across frames, and each track confirms a name by vote.

The rule: a track's votes are its recognitions (faces the quality gate skipped do not vote). A name,
an enrolled identity or "unknown", is confirmed when, among the votes cast since the track's last
confirmation (the latest `smooth` of them at most), it holds more than half and at least
`min_votes`. A track shows its confirmed name ("unknown" until one is confirmed), and an event
(`is_new`) is emitted exactly when the confirmed name changes: once when someone is first
confirmed, then only when another name wins such a vote. Each decision counts only votes cast after
the previous one, so a track whose votes flap between two names cannot announce a change on every
frame, and "unknown" replaces a confirmed name only by winning a vote of its own.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.recognizer import Recognition
from edge_runtime.imaging.detectors import Box, box_area, box_overlap

DEFAULT_MIN_VOTES = 3


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter = box_overlap(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One object followed across frames: its recent votes and the name it has confirmed."""

    track_id: int
    box: Box
    votes: deque = field(default_factory=deque)
    missed: int = 0
    confirmed: str | None = None
    since_confirmed: int = 0  # votes cast since the last confirmation

    def vote(self, name: str, score: float, min_votes: int) -> bool:
        """Count a recognition; True when it confirms a name other than the confirmed one."""
        self.votes.append((name, score))
        self.since_confirmed += 1
        deciding = [n for n, _ in self.votes][-self.since_confirmed :]
        top, count = Counter(deciding).most_common(1)[0]
        if top != self.confirmed and 2 * count > len(deciding) and count >= min_votes:
            self.confirmed, self.since_confirmed = top, 0
            return True
        return False

    def shown(self, latest_score: float) -> tuple[str, float]:
        """The confirmed name ("unknown" while none is) and the mean score of its recent votes."""
        name = self.confirmed or UNKNOWN
        scores = [s for n, s in self.votes if n == name]
        return name, sum(scores) / len(scores) if scores else latest_score


@dataclass(frozen=True)
class TrackedRecognition:
    """A recognition after tracking and voting; `is_new` marks an event (a newly confirmed name).
    Photos recognised on their own have no track (`track_id` None)."""

    track_id: int | None
    box: Box
    name: str
    score: float
    is_new: bool
    skipped: str | None = None


class IouTracker:
    """Greedy IoU matching of each frame's recognitions to the live tracks, names confirmed by vote."""

    def __init__(
        self, smooth: int = 5, min_iou: float = 0.3, max_missed: int = 10, min_votes: int = DEFAULT_MIN_VOTES
    ) -> None:
        self.smooth, self.min_iou, self.max_missed = max(1, smooth), min_iou, max_missed
        self.min_votes = min(max(1, min_votes), self.smooth)
        self.tracks: list[Track] = []
        self.next_id = 1

    def update(self, recognitions: list[Recognition]) -> list[TrackedRecognition]:
        """Assign tracks, count votes, and report which tracks confirm a new name."""
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
            is_new = track.vote(recognition.name, recognition.score, self.min_votes)
            name, score = track.shown(recognition.score)
            results.append(TrackedRecognition(track.track_id, recognition.box, name, score, is_new))
        return results


class SeparateImages:
    """For photos that are not a video: each recognition stands alone, no track, no vote; every
    usable one is an event."""

    def update(self, recognitions: list[Recognition]) -> list[TrackedRecognition]:
        """The recognitions as they are."""
        return [TrackedRecognition(None, r.box, r.name, r.score, r.skipped is None, r.skipped) for r in recognitions]
