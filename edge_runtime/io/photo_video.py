"""A test video made of photos, with the truth of every frame, and the score of what a run said on it.

Photos are shown one at a time (scaled to 220×220 and drifting on a textured background, a few
frames each) or several at once in a grid (a crowd at a door). The truth lists, for each frame,
each photo's label (a name, or "unknown" for someone never enrolled), where it lies and which photo
it is; a run's JSON events are matched to it by where each recognised face lies. Each photo on
screen is one appearance: it is scored frame by frame, and once, by the name given on its last
frame (a tracker confirms a name after a few frames, so its first frames are pending: no name, and
no wrong name). `edge-demo` and the face benchmarks (`benchmarks.faces.video_test`) use it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_runtime.identity.names import UNKNOWN

SIZE = (640, 480)
SINGLE = 220  # one photo at a time: in each quarter of the frame in turn, drifting
Truth = list[list[tuple[str, list[int], int]]]  # per frame, each photo shown: (label, [x, y, w, h], photo index)


def _background() -> np.ndarray:
    noise = np.random.default_rng(0).integers(60, 200, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (31, 31), 0)


def _photo(path: Path, side: int) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read photo {path}")
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


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
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, SIZE)
    truth: Truth = []
    try:
        if faces == 1:
            for index, (label, photo) in enumerate(shown):
                image = _photo(photo, SINGLE)
                for step in range(frames_per_photo):
                    frame = background.copy()
                    if in_place:  # drifting to and fro across changes of photo
                        x, y = 10 + abs((4 * (index * frames_per_photo + step)) % 160 - 80), 10
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
    finally:
        writer.release()
    return truth


def _inside(point: tuple[float, float], box: list[int]) -> bool:
    x, y, w, h = box
    return x <= point[0] < x + w and y <= point[1] < y + h


def score_events(truth: Truth, events: list[dict]) -> dict:
    """How each photo shown was named, frame by frame and once per appearance, by the face whose centre
    lies inside it (JSON events: frame, box, status, name; a pending face names no one)."""
    said: dict[tuple[int, int], str | None] = {}  # None: pending
    for event in events:
        if event.get("skipped") or event.get("frame") is None or event.get("box") is None:
            continue
        x, y, w, h = event["box"]
        for slot, (_, box, _) in enumerate(truth[event["frame"]]):
            if _inside((x + w / 2, y + h / 2), box):
                said[event["frame"], slot] = None if event.get("status") == "pending" else event["name"]
    frames: list[tuple[str, str | None]] = []
    last: dict[tuple[int, int], tuple[str, str | None]] = {}  # appearance -> (label, the last answer)
    for frame, photos in enumerate(truth):
        for slot, (label, _, photo) in enumerate(photos):
            answer = said.get((frame, slot))
            frames.append((label, answer))
            last[photo, _appearance(truth, frame, slot)] = (label, answer)
    return {
        "faces shown (frames)": len(frames),
        **_rates(frames, "frames"),
        "appearances": len(last),
        **_rates(list(last.values()), "appearances"),
        "frames where no face was recognised (none found, or skipped by the quality gate)": len(frames) - len(said),
        "frames pending (a face recognised, its name not yet confirmed)": sum(a is None for a in said.values()),
    }


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
