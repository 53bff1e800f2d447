"""The model files shipped inside the package (edge_runtime/models), by name.

- `dlib_face_resnet.int8.onnx`: the default face model, dlib's face ResNet converted
  (`benchmarks/faces/dlib_model.sh`), and `dlib_face_resnet.fp16.onnx`, its sibling for TensorRT and
  CUDA; both static graphs (`python -m export.static_shapes FILE` folded their padding computations).
- `face_student.int8.onnx`: the small face model (edge-spatial backbone, 1.6 MB), distilled from the default
  one (`benchmarks/faces/distill.sh`).
- `att_faces_demo.int8.onnx`: a tiny face model trained on 30 AT&T subjects; `att_faces_demo.json`
  lists the 10 it never saw.
- `signatures.int8.onnx`: genuine or forged, writer-independent.
- `yunet_s_640_640.onnx`: the YuNet face detector (Apache-2.0, `yunet.LICENSE.txt`).
- `haarcascade_*.xml`: OpenCV's Haar face and eye cascades (the fallback face detector).
- `shape_predictor_5_face_landmarks.npz`: dlib's 5-point landmark model, converted (public domain).
- `face_landmarks_net.onnx`: a small network trained on its points (`--landmarks net`,
  `python -m benchmarks.faces.landmark_net`); `face_landmarks_net.json` holds its figures.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEFAULT_MODEL = "dlib_face_resnet.int8.onnx"
SMALL_FACE_MODEL = "face_student.int8.onnx"
ATT_FACES_MODEL = "att_faces_demo.int8.onnx"


def packaged_model(name: str) -> str:
    """The path of a model file shipped inside edge_runtime/models."""
    return str(files("edge_runtime") / "models" / name)


def att_faces_unseen() -> list[str]:
    """The 10 AT&T subjects the AT&T model never saw in training."""
    import json

    return json.loads(Path(packaged_model("att_faces_demo.json")).read_text())["never_trained_on"]
