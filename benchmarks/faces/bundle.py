"""Bundle the face model built by `benchmarks/faces/dlib_model.sh` as the runtime's default: copy its INT8
export (U8S8, for CPUs) and its FP16 export into edge_runtime/models, with notes in their metadata
(source, licence, data, alignment, and the figures measured in OUTDIR: view2.fp32.json,
view2.int8.json, gallery.json) and a JSON file of the same facts beside them.

The INT8 file names the FP16 one as the file the TensorRT provider receives: TensorRT's own INT8
(S8S8, `*.int8.tensorrt.onnx`) keeps this network's weights in float and weighs 22 MB, too much to
ship in the repository (export it with `export-onnx -p int8` for INT8 on TensorRT).

Usage: python -m benchmarks.faces.bundle OUTDIR
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import onnx

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.bundled import DEFAULT_MODEL, packaged_model
from edge_runtime.inference.embedder import Embedder
from export.graph import attach_metadata
from train.checkpoint import load_checkpoint


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def describe(out: Path) -> tuple[str, dict]:
    """The notes for the model's metadata, and the facts behind them."""
    payload = load_checkpoint(out / "dlib_face.pt")
    view2 = {p: json.loads((out / f"view2.{p}.json").read_text()) for p in ("fp32", "int8")}
    gallery = json.loads((out / "gallery.json").read_text())
    info = Embedder(out / "dlib_face.int8.onnx", providers=("cpu",)).info
    rows = {row["enrolled identities (one image each)"]: row for row in gallery["galleries"]}
    hundred = rows.get(100) or gallery["galleries"][0]
    int8 = view2["int8"]
    accuracy, fp32 = _percent(int8["accuracy (mean over folds)"]), _percent(view2["fp32"]["accuracy (mean over folds)"])
    own = _percent(int8["accuracy at the model's threshold"])
    notes = " ".join([
        "Face embedding for one-shot recognition: dlib's face ResNet (dlib_face_recognition_resnet_model_v1,",
        "29 layers, 128-d; by Davis King, released into the public domain; trained by dlib on about 3 million",
        "faces of 7,485 people, none of them in LFW), converted to PyTorch by convert-dlib-face (descriptors",
        "equal to dlib's) and exported to INT8 (U8S8, 7-bit weights; TensorRT gets the FP16 export).",
        "Faces: found by YuNet, their 5 landmarks by dlib's shape predictor (run in numpy, points equal to",
        "dlib's), warped onto dlib's own face chip as the template in this model's input says.",
        f"Threshold {info.threshold:.4f} calibrated for FAR {info.target_far:g} on",
        f"{len(payload['split']['val'])} LFW people in no View 2 fold.",
        f"LFW View 2, all 10 folds ({int8['pairs']} pairs, people never seen): {accuracy}",
        f"+/- {_percent(int8['accuracy std'])} with thresholds chosen on the other folds (FP32 {fp32}),",
        f"{own} at the model's own threshold,",
        f"TAR {_percent(int8['tar_at_far_1e-3'])} at FAR 1e-3.",
        f"Gallery of {hundred['enrolled identities (one image each)']} people enrolled with one photo each, at the",
        f"threshold: {_percent(hundred['known_identification_rate'])} of their other photos named right,",
        f"{_percent(hundred['unknown_rejection_rate'])} of never-enrolled people's photos called unknown.",
        "Recipe: benchmarks/faces/dlib_model.sh. LFW: Huang et al., UMass Amherst TR 07-49, 2007 (research use).",
    ])  # fmt: skip
    facts = {"notes": notes, "view2": view2, "gallery": gallery, "calibrated_on": payload["split"]["val"]}
    return notes, facts


def bundle(model: Path, target: Path, **changes) -> None:
    """Copy `model` to `target` with its metadata changed as given (the graph and its hash untouched)."""
    info = Embedder(model, providers=("cpu",)).info
    proto = attach_metadata(onnx.load(str(model)), dataclasses.replace(info, **changes))
    with atomic_path(target) as temporary:
        onnx.save(proto, temporary)
        if Embedder(temporary, providers=("cpu",)).info.model_hash != info.model_hash:
            raise SystemExit("the notes changed the model's graph hash; nothing bundled")


def bundle_model(model: Path, for_tensorrt: Path, target: Path, notes: str, facts: dict) -> None:
    """Bundle `model` as the packaged `target` and `for_tensorrt` beside it as its TensorRT variant,
    both with `notes` (the variant named as the target, with its own suffixes: `.fp16.onnx`,
    `.int8.tensorrt.onnx`), and write `facts` to the JSON file of the same name."""
    stem, suffixes = target.name.split(".")[0], for_tensorrt.name[for_tensorrt.name.index(".") :]
    variant = target.with_name(stem + suffixes)
    bundle(for_tensorrt, variant, notes=notes)
    bundle(model, target, notes=notes, tensorrt_variant=variant.name)
    target.with_suffix("").with_suffix(".json").write_text(json.dumps(facts, indent=1) + "\n")
    print(f"bundled {target} and {variant.name}\n{notes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    notes, facts = describe(args.out)
    target = Path(packaged_model(DEFAULT_MODEL))
    bundle_model(args.out / "dlib_face.int8.onnx", args.out / "dlib_face.fp16.onnx", target, notes, facts)


if __name__ == "__main__":
    main()
