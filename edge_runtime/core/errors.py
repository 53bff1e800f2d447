"""Errors a user can cause, shared by every stage: each carries a message that says what to do."""


class SiameseEdgeError(Exception):
    """Base class of every error the command-line tools turn into a one-line message."""


class ImageReadError(SiameseEdgeError):
    """An image file is missing, truncated or not an image."""


class DatasetError(SiameseEdgeError):
    """A dataset folder cannot be used: wrong layout, too few classes, an empty class."""


class CheckpointError(SiameseEdgeError):
    """A checkpoint is missing, truncated, from another program or from another format version."""


class ModelError(SiameseEdgeError):
    """An ONNX model is missing, truncated, not from siamese-edge or from an unsupported version."""


class ForeignCheckpointError(CheckpointError):
    """A readable file that is not a siamese-edge checkpoint (another program's)."""


class ForeignModelError(ModelError):
    """A readable ONNX model without siamese-edge metadata (exported by another tool)."""


def error_line(error: BaseException, last: bool = False, prefer: str = "") -> str:
    """One line of `error`'s message, for a one-line report: its first line that is not blank, or with
    `last` its last one (where a traceback precedes the cause, as in torch's errors); with `prefer`, chosen
    among the lines holding that text when any do. The error's type name when its message is blank."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if prefer:
        lines = [line for line in lines if prefer in line] or lines
    if not lines:
        return type(error).__name__
    return lines[-1] if last else lines[0]
