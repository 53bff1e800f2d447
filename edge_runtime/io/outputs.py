"""Where results go: an annotated frame, a video file, a window, and JSON lines for other programs."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.core.atomic import create_temporary, remove_stale_temporaries
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.faces.face_quality import SKIP_REASONS
from edge_runtime.identity.labels import draw_text, text_size
from edge_runtime.identity.names import UNKNOWN, printable
from edge_runtime.identity.tracker import PENDING, SKIPPED, TrackedRecognition

log = logging.getLogger(__name__)

KNOWN_COLOR, UNKNOWN_COLOR, SKIPPED_COLOR = (60, 200, 60), (40, 40, 230), (150, 150, 150)
PENDING_COLOR = (0, 170, 255)  # amber (BGR): a face whose name is not confirmed yet
LABEL_PIXELS, FPS_PIXELS = 16, 18


class OutputError(SiameseEdgeError):
    """An output cannot be written."""


def annotate(frame: np.ndarray, results: list[TrackedRecognition], fps: float | None = None) -> np.ndarray:
    """A copy of `frame` with boxes, names (any script), scores and (optionally) the frame rate drawn on it:
    green for a name, red for "unknown", amber "pending" for a face whose name is not confirmed yet,
    grey for a face the quality gate skipped."""
    canvas = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    for r in results:
        x, y, w, h = r.box
        track = f" #{r.track_id}" if r.track_id is not None else ""
        if r.skipped:
            color, label = SKIPPED_COLOR, f"{SKIP_REASONS.get(r.skipped, r.skipped)}{track}"
        elif r.status == PENDING:
            color, label = PENDING_COLOR, f"{PENDING} {r.score:.2f}{track}"
        else:
            color = UNKNOWN_COLOR if r.name == UNKNOWN else KNOWN_COLOR
            label = f"{r.name} {r.score:.2f}{track}"
        cv2.rectangle(canvas, (x, y), (x + w, y + h), color, 2)
        tw, th = text_size(label, LABEL_PIXELS)
        top = y - th - 6 if y >= th + 6 else y  # above the box, or inside it at the frame's edge
        cv2.rectangle(canvas, (x, top), (x + tw + 4, top + th + 6), color, -1)
        draw_text(canvas, label, (x + 2, top + 3), (255, 255, 255), LABEL_PIXELS)
    if fps is not None:
        draw_text(canvas, f"{fps:.1f} FPS", (8, canvas.shape[0] - 10 - FPS_PIXELS), (0, 255, 255), FPS_PIXELS)
    return canvas


def letterbox(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`frame` scaled to fit a width x height `size`, aspect kept, centred on black."""
    width, height = size
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    scale = min(width / frame.shape[1], height / frame.shape[0])
    new_w, new_h = max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas = np.zeros((height, width, 3), np.uint8)
    left, top = (width - new_w) // 2, (height - new_h) // 2
    canvas[top : top + new_h, left : left + new_w] = cv2.resize(frame, (new_w, new_h), interpolation=interpolation)
    return canvas


class VideoFileSink:
    """An MP4 (or AVI) file, written under a temporary name of its own and renamed once finalised.

    The place is checked when the sink is made, so an unwritable path fails before any work. The
    first frame fixes the video's size; frames of another size (photos) are letterboxed to it.
    """

    def __init__(self, path: str | Path, rate: float) -> None:
        self.path = Path(path)
        self.rate = rate if rate and rate > 0 else 25.0
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0  # written so far: a finalised file must hold them all (a full disk does not)
        if self.path.suffix in ("", "."):  # OpenCV would fail at the first frame, in its own words
            raise OutputError(f"cannot write video {self.path}: the output needs a video suffix (.mp4, .avi)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.path, keep_suffix=True)  # left by runs killed outright (kill -9)
            self.temporary = create_temporary(self.path, keep_suffix=True)[0]  # two runs: each its own
        except OSError as error:
            raise OutputError(f"cannot write video {self.path}: {error.strerror or error}") from None

    def write(self, frame: np.ndarray) -> None:
        """Append a frame (the first one fixes the video's size, the others are letterboxed to it)."""
        if self.writer is None:
            codec = "mp4v" if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"
            self.size = (frame.shape[1], frame.shape[0])
            writer = cv2.VideoWriter(str(self.temporary), cv2.VideoWriter_fourcc(*codec), self.rate, self.size)
            if not writer.isOpened():
                raise OutputError(f"cannot write video {self.path}: OpenCV cannot encode {self.path.suffix} here")
            self.writer = writer
        self.writer.write(letterbox(frame, self.size))
        self.frames += 1

    def close(self) -> None:
        """Finalise the file and move it into place (nothing is left when no frame was written).

        OpenCV only warns when a write fails (a full disk), so the finalised temporary is read back:
        unless it opens and holds every frame written, it is removed, any earlier file at the path is
        left as it was, and `OutputError` says so (once: a second close does nothing).
        """
        if self.writer is None:
            self.temporary.unlink(missing_ok=True)
            return
        self.writer.release()
        self.writer = None
        capture = cv2.VideoCapture(str(self.temporary))
        held = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        capture.release()
        try:
            if held < self.frames:
                raise OSError(_space_left(self.temporary.parent))
            os.replace(self.temporary, self.path)
        except OSError as error:
            self.temporary.unlink(missing_ok=True)
            kept = "left as it was" if self.path.exists() else "not written"
            reason = error.strerror or str(error)
            raise OutputError(f"cannot write video {self.path}: {reason}; it is {kept}") from None


def _space_left(folder: Path) -> str:
    """Why a finalised video is unreadable: the disk is full, or (rarely) the encoder failed."""
    try:
        stat = os.statvfs(folder)
    except OSError:
        return "the written video is unreadable"
    if stat.f_bavail * stat.f_frsize < 1024 * 1024:
        return f"{os.strerror(errno.ENOSPC)} (the written video is unreadable)"
    return "the written video is unreadable"


class JsonLinesSink:
    """One JSON object per recognition: time, stream, frame (counted per stream), track (per stream),
    box, status ("named", "unknown", "pending" while a track's name is not confirmed, or "skipped"),
    name (null when pending or skipped: "unknown" means no one enrolled), score (the frame's own best
    match; null when skipped), whether it is an event (a newly confirmed name), and why the quality
    gate skipped it (null when it did not). A photo's lines also carry its file name (and no track);
    a photo with nothing to recognise gets one line with a null box and name, status "skipped" and
    the reason in "skipped"."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout

    def write(
        self,
        frame_index: int,
        timestamp: float,
        results: list[TrackedRecognition],
        file: str | None = None,
        note: str | None = None,
        stream: str | None = None,
    ) -> None:
        """Write this frame's (or photo's) recognitions, naming its stream when given."""
        photo = {"file": printable(file)} if file is not None else {}
        named = {"stream": printable(stream)} if stream is not None else {}
        records = [
            {
                "time": round(timestamp, 3),
                **named,
                "frame": frame_index,
                **photo,
                "track": r.track_id,
                "box": list(r.box),
                "status": r.status,
                "name": None if r.status == SKIPPED else r.name,
                "score": None if r.status == SKIPPED else round(r.score, 4),
                "event": r.is_new,
                "skipped": r.skipped,
            }
            for r in results
        ]
        if not records and file is not None:
            records = [{"time": round(timestamp, 3), **named, "frame": frame_index, **photo, "track": None, "box": None,
                        "status": SKIPPED, "name": None, "score": None, "event": False, "skipped": note}]  # fmt: skip
        for record in records:
            self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()


def display_available() -> bool:
    """Whether a window can be shown (a display exists and OpenCV was built with a GUI)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return "GUI: NONE" not in cv2.getBuildInformation().replace("  ", " ")


# Opens and closes one OpenCV window: where the display cannot be opened, Qt aborts the process
# (SIGABRT) rather than raising, so this runs in a child process of its own.
_OPEN_A_WINDOW = "import cv2; cv2.namedWindow('siamese-edge check'); cv2.waitKey(1); cv2.destroyAllWindows()"
DISPLAY_SECONDS = 10.0


def display_problem(seconds: float = DISPLAY_SECONDS) -> str | None:
    """Why a window cannot be opened on this machine's display, or None when it can: a short-lived
    child process opens and closes one OpenCV window (`seconds` at most). Call it only where
    `display_available()` is true; it is what catches a DISPLAY with no X server behind it (a
    dropped `ssh -X`, a container)."""
    where = f"DISPLAY={os.environ.get('DISPLAY', '')}" if os.environ.get("DISPLAY") else "the display"
    try:
        done = subprocess.run([sys.executable, "-c", _OPEN_A_WINDOW], capture_output=True, timeout=seconds,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"no window opened on {where} within {seconds:g} s"
    except OSError as error:
        return f"cannot check {where}: {error.strerror or error}"
    if done.returncode != 0:
        return f"no window can be opened on {where} (no X server answers there)"
    return None
