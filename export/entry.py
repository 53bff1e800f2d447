"""`export-onnx`'s entry point: in an install without the [train] extra it says so in one line."""

from edge_runtime.core.extras import run_needing_extra


def main() -> None:
    """Run `export-onnx`, or name the extra it needs."""
    run_needing_extra("export.cli:main", "train")
