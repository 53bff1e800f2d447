#!/usr/bin/env bash
# Rebuild the runtime's bundled demo model: train with run.sh, export to INT8, and copy the model
# and the list of subjects it never saw into edge_runtime/models/.   Usage: bundle.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../runs/att_faces}
models=$here/../../edge_runtime/models

bash "$here/run.sh" "$out"
export-onnx "$out/best.pt" --all --calib-method percentile
cp "$out/best.int8.onnx" "$models/att_faces_demo.int8.onnx"
# its TensorRT (S8S8) variant, under the name the runtime looks for beside a renamed model
cp "$out/best.int8.tensorrt.onnx" "$models/att_faces_demo.int8.tensorrt.onnx"
python - "$out/best.pt" "$models/att_faces_demo.json" <<'PY'
import json, sys
from train.checkpoint import load_checkpoint
payload = load_checkpoint(sys.argv[1])
split = payload["split"]
note = {"never_trained_on": split["test"], "validation": split["val"], "trained_on": split["train"],
        "source": "AT&T (ORL) faces; see data/demo/README.md", "recipe": "benchmarks/att_faces/bundle.sh"}
open(sys.argv[2], "w").write(json.dumps(note, indent=1) + "\n")
PY
echo "bundled $models/att_faces_demo.int8.onnx"
