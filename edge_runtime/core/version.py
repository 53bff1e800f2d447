"""The installed siamese-edge version, for checkpoints and model metadata."""

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The version of the installed siamese-edge distribution ("unknown" when run from a bare tree)."""
    try:
        return version("siamese-edge")
    except PackageNotFoundError:
        return "unknown"
