"""Genuine against skilled forgery, on signers the model never saw: EER and accuracy at threshold.

For every test signer: all pairs of two genuine signatures ("same") and every genuine signature
paired with every forgery of that signer ("different"). The model's own calibrated threshold
decides; the EER shows the best a threshold could do.

Usage: python benchmarks/signatures/evaluate.py CHECKPOINT MODEL.onnx [DATA_ROOT]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from edge_runtime.identity.openset import equal_error_rate, roc_auc, roc_curve
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference.embedder import Embedder
from train.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="the training checkpoint (for its split of signers)")
    parser.add_argument("model", type=Path, help="the exported model to evaluate")
    parser.add_argument("data", type=Path, nargs="?", help="signatures root (default: the checkpoint's)")
    args = parser.parse_args()
    payload = load_checkpoint(args.checkpoint)
    root = args.data or Path(payload["dataset"]["root"])
    signers = sorted({name.split("_")[0] for name in payload["split"]["test"]})
    embedder = Embedder(args.model, providers=("cpu",))
    threshold = embedder.info.threshold
    scores, same = [], []
    for signer in signers:
        genuine = embedder.embed([read_image(p) for p in sorted((root / signer).iterdir())])
        forged = embedder.embed([read_image(p) for p in sorted((root / f"{signer}_forg").iterdir())])
        for a, b in itertools.combinations(range(len(genuine)), 2):
            scores.append(float(genuine[a] @ genuine[b]))
            same.append(True)
        for a in range(len(genuine)):
            scores.extend((forged @ genuine[a]).tolist())
            same.extend([False] * len(forged))
    scores, same = np.asarray(scores), np.asarray(same)
    roc = roc_curve(scores, same)
    accepted = scores >= threshold
    report = {
        "test signers": len(signers),
        "genuine pairs": int(same.sum()),
        "genuine-forgery pairs": int((~same).sum()),
        "eer": round(equal_error_rate(roc), 4),
        "roc_auc": round(roc_auc(roc), 4),
        "threshold": round(threshold, 4),
        "accuracy at threshold": round(float(np.mean(accepted == same)), 4),
        "genuine accepted": round(float(np.mean(accepted[same])), 4),
        "forgeries rejected": round(float(np.mean(~accepted[~same])), 4),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
