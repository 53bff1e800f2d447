"""A test video made of photos, with the truth of every frame, and the score of what a run said on it.

Photos are shown one at a time (scaled to 220×220 and drifting on a textured background, a few
frames each) or several at once in a grid (a crowd at a door). The truth lists, for each frame,
each photo's label (a name, or "unknown" for someone never enrolled), where it lies and which photo
it is; a run's JSON events are matched to it by where each recognised face lies. Each photo on
screen is one appearance: it is scored frame by frame, and once, by the name given on its last
frame (a tracker confirms a name after a few frames, so its first frames are pending: no name, and
no wrong name). `edge-demo` and the face benchmarks (`benchmarks.faces.video_test`) use it.

A doorway video (`write_doorway_video`) shows one photo at a time where the last one stood, then
pairs of photos crossing; its truth also names the change each appearance follows ("enrolled→stranger",
"crossing enrolled×enrolled", …), and the score counts wrong names for each kind of change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.identity.names import UNKNOWN

SIZE = (640, 480)
SINGLE = 220  # one photo at a time: in each quarter of the frame in turn, drifting
CROSSING = 200  # two photos crossing: their side, and how far apart they start
# per frame, each photo shown, back to front: (label, [x, y, w, h], photo index), and in a doorway video the
# change it follows
Truth = list[list[tuple]]


def _background() -> np.ndarray:
    noise = np.random.default_rng(0).integers(60, 200, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (31, 31), 0)


def _photo(path: Path, side: int) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read photo {path}")
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


@contextmanager
def _video(path: Path) -> Iterator[cv2.VideoWriter]:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, SIZE)
    try:
        yield writer
    finally:
        writer.release()


def _in_place(frame: int) -> tuple[int, int]:
    """Where a photo stands in place on frame `frame`: drifting to and fro in the first quarter."""
    return 10 + abs((4 * frame) % 160 - 80), 10


def still_frame(photo: Path) -> np.ndarray:
    """One 640×480 frame of the test video: `photo` at 220×220 in the top-left quarter, on its background."""
    frame = _background()
    frame[10 : 10 + SINGLE, 10 : 10 + SINGLE] = _photo(photo, SINGLE)
    return frame


def write_photo_video(
    shown: list[tuple[str, Path]], path: Path, frames_per_photo: int, faces: int = 1, in_place: bool = False
) -> Truth:
    """Write a 640×480 video of `shown` (label, photo) and return the truth of each frame.

    One face per frame: each photo drifts for `frames_per_photo` frames at 220×220, in each quarter of
    the frame in turn (a place is used again only after three other photos, as when one person
    leaves and another comes), or with `in_place` all in the first quarter (each photo replaces the
    last where it stood, as when one person steps out of a doorway and the next steps in). Several:
    a 4×2 grid of `faces` photos at 160×160, changing every `frames_per_photo` frames.
    """
    background = _background()
    truth: Truth = []
    with _video(path) as writer:
        if faces == 1:
            for index, (label, photo) in enumerate(shown):
                image = _photo(photo, SINGLE)
                for step in range(frames_per_photo):
                    frame = background.copy()
                    if in_place:  # drifting to and fro across changes of photo
                        x, y = _in_place(index * frames_per_photo + step)
                    else:
                        x = (index % 2) * SIZE[0] // 2 + 10 + (4 * step) % 80
                        y = (index // 2 % 2) * SIZE[1] // 2 + 10
                    frame[y : y + SINGLE, x : x + SINGLE] = image
                    writer.write(frame)
                    truth.append([(label, [x, y, SINGLE, SINGLE], index)])
        else:
            side, cell = 160, (SIZE[0] // 4, SIZE[1] // 2)
            images = [_photo(photo, side) for _, photo in shown]
            for step in range(len(shown) * frames_per_photo // faces):
                frame, here = background.copy(), []
                for slot in range(faces):
                    index = (step // frames_per_photo * faces + slot) % len(shown)
                    label = shown[index][0]
                    x, y = (slot % 4) * cell[0], (slot // 4) * cell[1] + (cell[1] - side) // 2
                    frame[y : y + side, x : x + side] = images[index]
                    here.append((label, [x, y, side, side], index))
                writer.write(frame)
                truth.append(here)
    return truth


def _who(label: str) -> str:
    return "stranger" if label == UNKNOWN else "enrolled"


def change_of_person(before: str | None, after: str) -> str:
    """The kind of change from one label to the next ("enrolled→stranger", …; "first" with none before)."""
    return "first" if before is None else f"{_who(before)}→{_who(after)}"


def write_doorway_video(
    in_place: list[tuple[str, Path]],
    crossings: list[tuple[tuple[str, Path], tuple[str, Path]]],
    path: Path,
    frames_per_photo: int,
    frames_per_crossing: int,
) -> Truth:
    """Write a 640×480 doorway video and return the truth of each frame, with the change each photo follows.

    First each photo of `in_place` (label, photo) takes the last one's place (as `write_photo_video`
    with `in_place`) for `frames_per_photo` frames; then each pair of `crossings` walks across in
    opposite directions for `frames_per_crossing` frames, at 200×200 and the same height: their boxes
    overlap for the middle 45% of the frames, one photo in front of the other (the first of the pair
    in front, then the second, in turn). Each frame's truth lists its photos back to front.
    """
    background, truth = _background(), []
    with _video(path) as writer:
        for index, (label, photo) in enumerate(in_place):
            image = _photo(photo, SINGLE)
            change = change_of_person(in_place[index - 1][0] if index else None, label)
            for step in range(frames_per_photo):
                frame = background.copy()
                x, y = _in_place(index * frames_per_photo + step)
                frame[y : y + SINGLE, x : x + SINGLE] = image
                writer.write(frame)
                truth.append([(label, [x, y, SINGLE, SINGLE], index, change)])
        first = len(in_place)
        span, y = SIZE[0] - CROSSING, (SIZE[1] - CROSSING) // 2
        for pair, people in enumerate(crossings):
            images = [_photo(photo, CROSSING) for _, photo in people]
            change = f"crossing {_who(people[0][0])}×{_who(people[1][0])}"
            for step in range(frames_per_crossing):
                left = round(span * step / max(1, frames_per_crossing - 1))
                frame, here = background.copy(), []
                for k in (1, 0) if pair % 2 == 0 else (0, 1):  # back to front: the one in front drawn last
                    x = left if k == 0 else span - left
                    frame[y : y + CROSSING, x : x + CROSSING] = images[k]
                    here.append((people[k][0], [x, y, CROSSING, CROSSING], first + 2 * pair + k, change))
                writer.write(frame)
                truth.append(here)
    return truth


def _inside(point: tuple[float, float], box: list[int]) -> bool:
    x, y, w, h = box
    return x <= point[0] < x + w and y <= point[1] < y + h


def _distance(point: tuple[float, float], box: list[int]) -> float:
    x, y, w, h = box
    return float(np.hypot(point[0] - (x + w / 2), point[1] - (y + h / 2)))


def photo_seen(point: tuple[float, float], photos: list) -> int | None:
    """The slot of the photo seen at `point` in a frame's truth (listed back to front: the last that holds
    it, in front of the others), or None where no photo is."""
    return max((slot for slot, photo in enumerate(photos) if _inside(point, photo[1])), default=None)


def score_events(truth: Truth, events: list[dict]) -> dict:
    """How each photo shown was named, frame by frame and once per appearance (JSON events: frame, box,
    status, name; a pending face names no one). A face belongs to the photo seen at its centre (where
    crossing photos overlap, the one in front: the other is hidden there, however near its centre);
    of two faces on one photo, the one nearer its centre counts.
    When the truth names the change each photo follows, the wrong names are also counted per change
    (and for all crossings together)."""
    said: dict[tuple[int, int], tuple[float, str | None]] = {}  # (frame, slot) -> (distance, answer; None: pending)
    for event in events:
        if event.get("skipped") or event.get("frame") is None or event.get("box") is None:
            continue
        x, y, w, h = event["box"]
        centre = (x + w / 2, y + h / 2)
        photos = truth[event["frame"]]
        slot = photo_seen(centre, photos)
        if slot is None:
            continue
        distance = _distance(centre, photos[slot][1])
        if (event["frame"], slot) not in said or distance < said[event["frame"], slot][0]:
            said[event["frame"], slot] = (distance, None if event.get("status") == "pending" else event["name"])
    frames: list[tuple[str, str | None]] = []
    last: dict[tuple[int, int], tuple[str, str | None]] = {}  # appearance -> (label, the last answer)
    changes: dict[str, dict] = {}  # change -> frames showing it, wrong names on them
    for frame, photos in enumerate(truth):
        for slot, photo in enumerate(photos):
            label, answer = photo[0], said.get((frame, slot), (0.0, None))[1]
            frames.append((label, answer))
            last[photo[2], _appearance(truth, frame, slot)] = (label, answer)
            for kind in _changes(photo):
                change = changes.setdefault(kind, {"frames": set(), "wrong names (frames)": 0})
                change["frames"].add(frame)
                change["wrong names (frames)"] += answer not in (None, UNKNOWN, label)
    report = {
        "faces shown (frames)": len(frames),
        **_rates(frames, "frames"),
        "appearances": len(last),
        **_rates(list(last.values()), "appearances"),
        "frames where no face was recognised (none found, or skipped by the quality gate)": len(frames) - len(said),
        "frames pending (a face recognised, its name not yet confirmed)": sum(a is None for _, a in said.values()),
    }
    if changes:
        report["wrong names by change of person"] = {
            change: {"frames": len(c["frames"]), "wrong names (frames)": c["wrong names (frames)"],
                     "per 1,000 frames": round(1000 * c["wrong names (frames)"] / len(c["frames"]), 2)}
            for change, c in sorted(changes.items())
        }  # fmt: skip
    return report


def _changes(photo: tuple) -> list[str]:
    """The changes a photo of the truth counts for: the one it follows, and "crossing" for any crossing."""
    change = photo[3:4]
    return [*change, "crossing"] if change and change[0].startswith("crossing") else list(change)


def _appearance(truth: Truth, frame: int, slot: int) -> int:
    """The first frame of the run of frames that show this photo in this slot."""
    photo = truth[frame][slot][2]
    while frame > 0 and slot < len(truth[frame - 1]) and truth[frame - 1][slot][2] == photo:
        frame -= 1
    return frame


def _rates(answers: list[tuple[str, str | None]], unit: str) -> dict:
    known = [answer == label for label, answer in answers if label != UNKNOWN]
    strangers = [answer in (UNKNOWN, None) for label, answer in answers if label == UNKNOWN]
    wrong = sum(answer not in (None, UNKNOWN, label) for label, answer in answers)
    return {
        f"enrolled people named right ({unit})": round(sum(known) / max(1, len(known)), 4),
        f"strangers not named ({unit})": round(sum(strangers) / max(1, len(strangers)), 4),
        f"wrong names ({unit})": wrong,
    }
