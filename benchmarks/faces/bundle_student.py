"""Bundle the student built by `benchmarks/faces/distill.sh` as the small face model: copy its INT8 export
(U8S8 for CPUs, S8S8 for TensorRT) into edge_runtime/models with notes in their metadata (how it
was distilled, from what, on which people, and the figures measured in OUTDIR: view2.student.json,
view2.teacher.json, gallery.json) and a JSON file of the same facts beside them.

Usage: python -m benchmarks.faces.bundle_student OUTDIR [--continued-from CHECKPOINT]
  --continued-from: the checkpoint whose weights OUTDIR's run started from (siamese-train
  --init-weights), so the notes give both schedules.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.faces.bundle import _percent, bundle_model
from edge_runtime.core.bundled import SMALL_FACE_MODEL, packaged_model
from edge_runtime.inference.embedder import read_model_info
from edge_runtime.inference.int8_variants import TENSORRT_SUFFIX
from train.checkpoint import load_checkpoint


def _schedule(config: dict, earlier: dict | None) -> str:
    """How long the student was trained: its run's epochs, after those of the run it started from."""

    def epochs(settings: dict) -> str:
        mixup = settings.get("mixup", 0.0)
        return f"{settings['epochs']} epochs{f' with mixup alpha {mixup:g}' if mixup else ''}"

    return epochs(config) if earlier is None else f"{epochs(earlier)}, then {epochs(config)} from those weights"


def describe(out: Path, continued_from: Path | None = None) -> tuple[str, dict]:
    """The notes for the student's metadata, and the facts behind them."""
    payload = load_checkpoint(out / "student" / "best.pt")
    earlier = load_checkpoint(continued_from)["config"] if continued_from else None
    config, split, spec = payload["config"], payload["split"], payload["input"]
    view2 = {who: json.loads((out / f"view2.{who}.json").read_text()) for who in ("student", "teacher")}
    gallery = json.loads((out / "gallery.json").read_text())
    student, teacher = view2["student"], view2["teacher"]
    accuracy, spread = _percent(student["accuracy (mean over folds)"]), _percent(student["accuracy std"])
    own, tar = _percent(student["accuracy at the model's threshold"]), _percent(student["tar_at_far_1e-3"])
    steadier = f" ({_percent(student['tar_at_far_1e-2'])} at 1e-2)" if "tar_at_far_1e-2" in student else ""
    info = read_model_info(out / "student.int8.onnx")
    ten = next(row for row in gallery["galleries"] if row["enrolled identities (one image each)"] == 10)
    weight = config["distill_weight"]
    cut = (
        "YuNet, dlib's 5 landmarks, dlib's chip"
        if info.spec.face_landmarks == "dlib5"
        else "YuNet and its own 5 landmarks, onto a template fitted to dlib's chip: no landmark model at run time"
    )
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    parameters = sum(t.numel() for k, t in payload["model_state"].items() if not k.endswith(buffers))
    blend = (
        "distillation alone, no labels used"
        if weight == 1
        else f"{weight} distillation, {1 - weight:.2f} {config['loss']}"
    )
    notes = " ".join([
        f"Face embedding for one-shot recognition, small and fast: the {payload['arch']['name']} backbone",
        f"({parameters / 1e6:.1f} M parameters,",
        f"{spec['height']}x{spec['width']} colour) distilled from dlib's face ResNet (the default model,",
        "public domain) with siamese-train --teacher: the student learns the teacher's embedding",
        "directions and in-batch cosine similarities on the same augmented faces",
        f"({blend}; affine, flip and photometric augmentation; {_schedule(config, earlier)}).",
        f"Trained on {len(split['train'])} LFW people outside View 2 folds 1-5, faces cut as the runtime",
        f"cuts them ({cut}).",
        f"Threshold {info.threshold:.4f} calibrated for FAR {info.target_far:g} on {len(split['val'])}",
        "held-out people.",
        f"LFW View 2 folds 1-5 ({student['pairs']} pairs, people never seen): {accuracy} +/- {spread}",
        f"(the teacher on the same folds: {_percent(teacher['accuracy (mean over folds)'])}),",
        f"{own} at the model's own threshold, TAR {tar} at FAR 1e-3{steadier}.",
        "Gallery of 10 people enrolled with one photo each, at the threshold:",
        f"{_percent(ten['known_identification_rate'])} of their other photos named right,",
        f"{_percent(ten['unknown_rejection_rate'])} of never-enrolled people's photos called unknown.",
        f"Recipe: benchmarks/faces/distill.sh{', then distill_patient.sh' if earlier else ''}.",
        "LFW: Huang et al., UMass Amherst TR 07-49, 2007 (research use).",
    ])  # fmt: skip
    facts = {"notes": notes, "view2": view2, "gallery": gallery, "trained_on": split["train"],
             "validation": split["val"], "teacher": payload["teacher"],
             "continued_from": str(continued_from) if continued_from else None}  # fmt: skip
    return notes, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--continued-from", type=Path, help="the checkpoint the run's --init-weights came from")
    args = parser.parse_args()
    notes, facts = describe(args.out, args.continued_from)
    model, for_tensorrt = args.out / "student.int8.onnx", args.out / ("student.int8" + TENSORRT_SUFFIX)
    bundle_model(model, for_tensorrt, Path(packaged_model(SMALL_FACE_MODEL)), notes, facts)


if __name__ == "__main__":
    main()
