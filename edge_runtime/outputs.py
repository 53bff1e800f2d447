"""Where results go: an annotated frame, a video file, a window, and JSON lines for other programs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.errors import SiameseEdgeError
from edge_runtime.face_quality import SKIP_REASONS
from edge_runtime.recognizer import UNKNOWN
from edge_runtime.tracker import TrackedRecognition

KNOWN_COLOR, UNKNOWN_COLOR, SKIPPED_COLOR = (60, 200, 60), (40, 40, 230), (150, 150, 150)


class OutputError(SiameseEdgeError):
    """An output cannot be written."""


def annotate(frame: np.ndarray, results: list[TrackedRecognition], fps: float | None = None) -> np.ndarray:
    """A copy of `frame` with boxes, names, scores and (optionally) the frame rate drawn on it."""
    canvas = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    for r in results:
        x, y, w, h = r.box
        if r.skipped:
            color, label = SKIPPED_COLOR, f"{SKIP_REASONS.get(r.skipped, r.skipped)} #{r.track_id}"
        else:
            color = UNKNOWN_COLOR if r.name == UNKNOWN else KNOWN_COLOR
            label = f"{r.name} {r.score:.2f} #{r.track_id}"
        cv2.rectangle(canvas, (x, y), (x + w, y + h), color, 2)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        top = y - th - 6 if y >= th + 6 else y  # above the box, or inside it at the frame's edge
        cv2.rectangle(canvas, (x, top), (x + tw + 4, top + th + 6), color, -1)
        cv2.putText(
            canvas, label, (x + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA
        )
    if fps is not None:
        bottom = canvas.shape[0] - 10
        cv2.putText(canvas, f"{fps:.1f} FPS", (8, bottom), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2, cv2.LINE_AA)
    return canvas


class VideoFileSink:
    """An MP4 (or AVI) file, written under a temporary name and renamed once finalised."""

    def __init__(self, path: str | Path, rate: float) -> None:
        self.path = Path(path)
        self.temporary = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.rate = rate if rate and rate > 0 else 25.0
        self.writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        """Append a frame (the first one fixes the video's size)."""
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            codec = "mp4v" if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"
            height, width = frame.shape[:2]
            self.writer = cv2.VideoWriter(
                str(self.temporary), cv2.VideoWriter_fourcc(*codec), self.rate, (width, height)
            )
            if not self.writer.isOpened():
                raise OutputError(f"cannot write video {self.path}")
        self.writer.write(frame)

    def close(self) -> None:
        """Finalise the file and move it into place."""
        if self.writer is not None:
            self.writer.release()
            os.replace(self.temporary, self.path)
            self.writer = None


class JsonLinesSink:
    """One JSON object per recognition: time, frame, track, box, name, score, whether it is new, and
    why the quality gate skipped it (null when it did not)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout

    def write(self, frame_index: int, timestamp: float, results: list[TrackedRecognition]) -> None:
        """Write this frame's recognitions."""
        for r in results:
            record = {
                "time": round(timestamp, 3),
                "frame": frame_index,
                "track": r.track_id,
                "box": list(r.box),
                "name": r.name,
                "score": round(r.score, 4),
                "event": r.is_new,
                "skipped": r.skipped,
            }
            self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()


def display_available() -> bool:
    """Whether a window can be shown (a display exists and OpenCV was built with a GUI)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return "GUI: NONE" not in cv2.getBuildInformation().replace("  ", " ")
