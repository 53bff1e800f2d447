"""`convert-dlib-face`: dlib's face ResNet as a siamese-edge checkpoint that `export-onnx` and
`siamese-train --init-weights` take.

The weights come from dlib's `dlib_face_recognition_resnet_model_v1.dat` (in PyPI's
`face-recognition-models`; public domain by its author, Davis King). dlib trained it on about
3 million faces of 7,485 people, none of them in LFW. The "unknown" threshold is calibrated on
faces of people it never saw: `--data` is a folder of face crops (`<person>/<image>`) cut by the
runtime onto a face template, which the folder records in `face_template.json` (see
`benchmarks/faces/prepare.py`); the template goes into the model, so faces are cut the same way
at run time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import click
import torch

from edge_runtime.core.command_line import CONTEXT, one_line_errors
from edge_runtime.core.errors import DatasetError
from edge_runtime.faces.face_alignment import TEMPLATE_FILE, folder_template
from train.backbones import build_model
from train.checkpoint import load_weights, save_checkpoint
from train.config import TrainConfig
from train.datasets import ClassSplit, load_images, scan_dataset
from train.dlib.files import face_recognition_models_file
from train.dlib.resnet import DLIB_INPUT
from train.evaluation import calibrate_threshold, embed_images, evaluate_embeddings, feasible_way
from train.trainer import versions

log = logging.getLogger(__name__)
ARCH = "dlib-resnet"
SOURCE = (
    "dlib_face_recognition_resnet_model_v1 by Davis King (dlib), public domain; trained by dlib on about "
    "3 million faces of 7,485 people, none in LFW"
)


def convert_dlib_face(dat: Path, data: Path, out: Path, target_far: float = 1e-3, episodes: int = 1000) -> dict:
    """Write a checkpoint of dlib's face ResNet with its threshold calibrated on `data`; returns its evaluation."""
    template = folder_template(data)
    if template is None:
        raise DatasetError(
            f"{data} has no {TEMPLATE_FILE}: cut the faces onto a template first "
            "(python -m benchmarks.faces.prepare ... --template dlib)"
        )
    points, landmarks = template
    spec = replace(DLIB_INPUT, face_template=points, face_landmarks=landmarks)
    model = build_model(ARCH)
    model.load_state_dict(load_weights(dat))
    records = scan_dataset(data, "folders")
    classes = tuple(sorted({r.label for r in records}))
    faces = load_images(records, classes, spec)
    embeddings = embed_images(model, faces.images, spec, torch.device("cpu"))
    threshold = calibrate_threshold(embeddings, faces.labels, target_far)
    way = feasible_way(faces, 20, 1, False)
    metrics, _ = evaluate_embeddings(embeddings, faces, way=way, episodes=episodes, threshold=threshold)
    config = TrainConfig(
        data=str(data.resolve()), layout="folders", split=(0, 1, 0), height=spec.height, width=spec.width,
        channels=3, kind="face", backbone=ARCH, epochs=0, way=way, target_far=target_far,
    )  # fmt: skip
    payload = {
        "arch": {"name": ARCH, "kwargs": {}},
        "model_state": model.state_dict(),
        "loss_state": {},
        "input": spec.to_dict(),
        "embedding_size": 128,
        "metric": "cosine",
        "threshold": threshold,
        "target_far": target_far,
        "split": ClassSplit((), classes, ()).to_dict(),
        "dataset": {
            "name": "dlib face recognition set (about 3 million faces, 7,485 people)",
            "root": str(data.resolve()),
            "layout": "folders",
            "num_classes": 7485,
            "num_train_classes": 7485,
            "source": SOURCE,
        },
        "config": config.to_dict(),
        "versions": versions(),
        "training": {
            "epoch": 0,
            "best_score": metrics["few_shot_accuracy"],
            "best_epoch": 0,
            "stale_epochs": 0,
            "history": [],
        },  # fmt: skip
        "evaluation": {"threshold": threshold, "target_far": target_far, "validation": metrics, "test": None},
    }
    save_checkpoint(payload, out)
    return metrics


@click.command(context_settings=CONTEXT)
@click.argument("dat", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help=f"Face crops of people the model never saw (<person>/<image>), with their {TEMPLATE_FILE}.",
)
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=Path("dlib_face.pt"))
@click.option("--target-far", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=1e-3)
@click.option("--episodes", type=int, default=1000, help="Episodes for the one-shot accuracy.")
@one_line_errors()
def main(dat: Path | None, data: Path, out: Path, target_far: float, episodes: int) -> None:
    """Convert dlib's face ResNet (DAT; default: the one face-recognition-models installed) into a
    checkpoint, with a threshold calibrated on --data."""
    metrics = convert_dlib_face(dat or face_recognition_models_file(), data, out, target_far, episodes)
    keys = ("classes", "images", "threshold", "far_at_threshold", "tar_at_threshold", "few_shot_accuracy", "eer")
    click.echo(json.dumps({"checkpoint": str(out), **{k: metrics[k] for k in keys}}, indent=2))


if __name__ == "__main__":
    main()
