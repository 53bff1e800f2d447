"""OpenCV's, FFmpeg's and ONNX Runtime's own warnings (`[ WARN:…]`, `[tcp @ …]`, coloured ONNX Runtime
lines) quietened, so a command's one line is what the user reads; `SIAMESE_EDGE_VERBOSE=1` shows them."""

from __future__ import annotations

import os
import sys

VERBOSE_VARIABLE = "SIAMESE_EDGE_VERBOSE"


def verbose() -> bool:
    """Whether the user asked for the libraries' own messages (SIAMESE_EDGE_VERBOSE=1)."""
    return os.environ.get(VERBOSE_VARIABLE, "").strip().lower() not in ("", "0", "no", "false", "off")


def quiet_native_logs() -> None:
    """Keep only errors from OpenCV and FFmpeg (through OpenCV), and only fatal ones from ONNX Runtime,
    unless verbose(): a provider that cannot start is one line of the command's own, with ONNX
    Runtime's reason (`Embedder`), not that line and ONNX Runtime's coloured ones.

    The environment is set before OpenCV opens its first FFmpeg capture (FFmpeg's level is read
    then); libraries already imported are told directly. A level the user set in the environment is
    kept. Nothing is imported here: a command that loads neither library pays nothing.
    """
    if verbose():
        return
    chosen = "OPENCV_LOG_LEVEL" in os.environ
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cv2 = sys.modules.get("cv2")
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if not chosen and logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    onnxruntime = sys.modules.get("onnxruntime")
    if onnxruntime is not None and hasattr(onnxruntime, "set_default_logger_severity"):
        onnxruntime.set_default_logger_severity(4)  # fatal only
