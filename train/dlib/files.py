"""Where dlib's model files are: PyPI's `face-recognition-models` ships them (dlib's face ResNet and
its 5-point landmark model, both released into the public domain by Davis King)."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from edge_runtime.core.errors import CheckpointError

FACE_RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"


def face_recognition_models_file(name: str = FACE_RESNET_FILE) -> Path:
    """Where `face-recognition-models` keeps one of dlib's model files (found without importing the
    package, whose `pkg_resources` import fails on setuptools 81 and later)."""
    spec = find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(f"give the path of {name}, or pip install face-recognition-models, which ships it")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / name
