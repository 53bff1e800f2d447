"""The training stage's entry points: in an install without the [train] extra they say so in one line."""

from edge_runtime.core.extras import run_needing_extra


def main() -> None:
    """Run `siamese-train`, or name the extra it needs."""
    run_needing_extra("train.cli:main", "train")


def convert_dlib_face() -> None:
    """Run `convert-dlib-face`, or name the extra it needs."""
    run_needing_extra("train.dlib.convert:main", "train")
