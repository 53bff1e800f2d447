"""Bundle a face model trained by `benchmarks/faces/run.sh` as the runtime's default: copy its INT8
export into edge_runtime/models with notes in its metadata (data, recipe, licence, the accuracy
measured in OUTDIR/view2.json and OUTDIR/gallery.json) and a JSON file of the same facts.

Usage: python -m benchmarks.faces.bundle OUTDIR
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import onnx

from edge_runtime.atomic import atomic_path
from edge_runtime.detectors import DEFAULT_MODEL, packaged_model
from edge_runtime.embedder import Embedder
from export.graph import attach_metadata
from train.checkpoint import load_checkpoint


def describe_training(payload: dict) -> str:
    """How the checkpoint was trained, in one sentence."""
    config, split = payload["config"], payload["split"]
    extras = [name for name in ("flip", "photometric") if config.get(name)]
    augmentation = f"affine{''.join(f', {name}' for name in extras)} augmentation"
    return (
        f"Trained with siamese-train ({config['backbone']} backbone, {config['height']}x{config['width']}x"
        f"{payload['input']['channels']}, {config['loss']} margin {config['margin']}, {config['epochs']} epochs, "
        f"{augmentation}) "
        f"on {len(split['train'])} LFW people outside View 2 folds 1-5 ({len(split['val'])} more for validation), "
        "faces cut by the runtime's own detector with their eyes levelled."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    payload = load_checkpoint(args.out / "best.pt")
    view2 = json.loads((args.out / "view2.json").read_text())
    gallery = json.loads((args.out / "gallery.json").read_text())
    small = gallery["galleries"][0]
    model = args.out / "best.int8.onnx"
    info = Embedder(model, providers=("cpu",)).info
    accuracy = (
        f"LFW View 2 folds 1-5 (people never seen in training): {100 * view2['accuracy (mean over folds)']:.1f}% "
        f"+/- {100 * view2['accuracy std']:.1f} verification accuracy, TAR {100 * view2['tar_at_far_1e-3']:.1f}% "
        f"at FAR 1e-3. Gallery of {small['enrolled identities (one image each)']} people enrolled with one image "
        f"each, at the threshold: {100 * small['known_identification_rate']:.1f}% of their other images named "
        f"right, {100 * small['unknown_rejection_rate']:.1f}% of never-enrolled people's images called unknown."
    )
    notes = " ".join([
        "Face embedding for one-shot recognition.",
        describe_training(payload),
        "Exported to INT8 with --flip-average: each face and its mirror image are embedded and averaged."
        if info.flip_average
        else "Exported to INT8.",
        f"Threshold {info.threshold:.4f} calibrated for FAR {info.target_far:g} on the validation people.",
        accuracy,
        "Data: Labeled Faces in the Wild (Huang et al., UMass Amherst TR 07-49, 2007): no formal licence, "
        "research use; cite the report. Recipe: benchmarks/faces/run.sh.",
    ])  # fmt: skip
    proto = attach_metadata(onnx.load(str(model)), dataclasses.replace(info, notes=notes))
    target = Path(packaged_model(DEFAULT_MODEL))
    with atomic_path(target) as temporary:
        onnx.save(proto, temporary)
        if Embedder(temporary, providers=("cpu",)).info.model_hash != info.model_hash:
            raise SystemExit("the notes changed the model's graph hash; nothing bundled")
    facts = {"notes": notes, "view2": view2, "gallery": gallery, "trained_on": payload["split"]["train"],
             "validation": payload["split"]["val"]}  # fmt: skip
    target.with_suffix("").with_suffix(".json").write_text(json.dumps(facts, indent=1) + "\n")
    print(f"bundled {target}\n{notes}")


if __name__ == "__main__":
    main()
