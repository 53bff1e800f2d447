"""A small IoU tracker: detections keep an id across frames, and each track confirms a name by vote.

The rule: a track shows its confirmed name (an enrolled identity or "unknown") on a frame only when
that frame's own recognition gives the same name; otherwise the face is pending, as it is until a
track's first name is confirmed. A name is confirmed when, among the track's recognitions since
its decision began (the latest `smooth` of them; faces the quality gate skipped do not vote), it
holds more than half and at least `min_votes`; a frame that disagrees with the confirmed name
begins a new decision. An event (`is_new`) is a vote confirming a name other than the confirmed
one, so frames that agree again are shown at once without one, and votes that flap cannot
announce a change on every frame.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.recognizer import Recognition
from edge_runtime.imaging.detectors import Box, box_area, box_overlap

DEFAULT_MIN_VOTES = 3
NAMED, PENDING, SKIPPED = "named", "pending", "skipped"  # and UNKNOWN: the statuses of a result


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter = box_overlap(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One face followed across frames: the name it has confirmed and the votes of the decision under
    way (none while the confirmed name is not in doubt)."""

    track_id: int
    box: Box
    votes: deque = field(default_factory=deque)
    missed: int = 0
    confirmed: str | None = None

    def vote(self, name: str, min_votes: int) -> bool:
        """Count a recognition; True when it confirms a name other than the confirmed one."""
        if name == self.confirmed and not self.votes:
            return False  # the confirmed name, not in doubt
        self.votes.append(name)  # a first disagreeing vote restarts the decision: the votes were cleared
        top, count = Counter(self.votes).most_common(1)[0]
        if 2 * count <= len(self.votes) or count < min_votes:
            return False
        changed, self.confirmed = top != self.confirmed, top
        self.votes.clear()
        return changed


@dataclass(frozen=True)
class TrackedRecognition:
    """A recognition after tracking and voting. `name` is the enrolled name, "unknown", or None while
    the track's decision is pending; `is_new` marks an event (a newly confirmed name). Photos
    recognised on their own have no track (`track_id` None) and are never pending."""

    track_id: int | None
    box: Box
    name: str | None
    score: float
    is_new: bool
    skipped: str | None = None

    @property
    def status(self) -> str:
        """ "named", "unknown", "pending" (no name confirmed that this frame supports) or "skipped"."""
        if self.skipped is not None:
            return SKIPPED
        if self.name is None:
            return PENDING
        return UNKNOWN if self.name == UNKNOWN else NAMED


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
        """Assign tracks, count votes, and report each face's name (or pending) and new names."""
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
            is_new = track.vote(recognition.name, self.min_votes)
            name = recognition.name if recognition.name == track.confirmed else None  # None: pending
            results.append(TrackedRecognition(track.track_id, recognition.box, name, recognition.score, is_new))
        return results


class SeparateImages:
    """For photos that are not a video: each recognition stands alone, no track, no vote; every
    usable one is an event."""

    def update(self, recognitions: list[Recognition]) -> list[TrackedRecognition]:
        """The recognitions as they are."""
        return [TrackedRecognition(None, r.box, r.name, r.score, r.skipped is None, r.skipped) for r in recognitions]
