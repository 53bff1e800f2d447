"""Helpers of the tests that run the real commands in real processes: a long real video to stop
halfway, and reading a process's output without ever hanging."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import cv2


def long_video(path: Path, faces_root: Path, frames: int = 3000) -> None:
    """A 92×112 video of one AT&T subject's ten photos in turn, long enough to be stopped halfway."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (92, 112))
    images = [cv2.imread(str(faces_root / "s1" / f"{i}.png")) for i in range(1, 11)]
    for index in range(frames):
        writer.write(images[index % 10])
    writer.release()


def read_lines(stream, count: int, seconds: float) -> list[str]:
    """Up to `count` lines of `stream`, waiting `seconds` at most (the test never hangs)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stream.readline() for _ in range(count)), daemon=True)
    reader.start()
    reader.join(seconds)
    return lines


def stop_with_sigterm(command: list[str], after_lines: int, seconds: float,
                      signal_number: int = signal.SIGTERM) -> tuple[int, str]:  # fmt: skip
    """Run `command`, send it SIGTERM (or `signal_number`: SIGHUP) once it has printed `after_lines`
    lines (within `seconds`, else the test fails); its exit code and stderr. The process never
    outlives the test."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        got = len(read_lines(process.stdout, after_lines, seconds))
        assert got == after_lines, f"{got} lines, not {after_lines}, within {seconds} s"
        process.send_signal(signal_number)
        _, errors = process.communicate(timeout=30)
    finally:
        process.kill()
    return process.returncode, errors


def stop_once_logged(command: list[str], log: Path, text: str, settle: float = 0.0) -> tuple[int, str, bool]:
    """Run `command` with its stderr in `log`; once `text` appears there (60 s at most) and `settle`
    seconds more have passed, send it SIGTERM. Its exit code, its stdout, and whether it was still
    running when stopped. The process never outlives the test."""
    with open(log, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and text not in log.read_text():
            time.sleep(0.2)
        time.sleep(settle)
        running = process.poll() is None
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    return process.returncode, output, running
