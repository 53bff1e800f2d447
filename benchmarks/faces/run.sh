#!/usr/bin/env bash
# Train a face model on LFW people outside the held-out View 2 folds 1-5, export it to INT8, and
# measure View 2 verification on folds 1-5 (their people never seen in training). About 15 minutes
# on 2 CPU cores.   Usage: benchmarks/faces/run.sh OUTDIR [LFW_ROOT] [PAIRS_FILE]
set -euo pipefail
out=${1:?usage: $0 OUTDIR [LFW_ROOT] [PAIRS_FILE]}
here=$(cd "$(dirname "$0")" && pwd)
repo=$here/../..
lfw=${2:-$repo/../shared/datasets/lfw}
pairs=${3:-$repo/../shared/datasets/meta/lfw/pairs_10fold_reconstructed.txt}

cd "$repo"
python -m benchmarks.faces.prepare "$lfw" "$pairs" "$out/faces" --test-folds 5
siamese-train --data "$out/faces" --out "$out" --layout folders --split 0.9,0.1,0 \
  --backbone edge --input-size 64 --channels 3 --loss cosface --margin 0.3 -P 32 -K 4 --flip \
  --epochs 30 --way 20 --val-episodes 300 --target-far 1e-3 --seed 0 --threads 2
export-onnx "$out/best.pt" --all
python -m benchmarks.faces.lfw_view2 "$out/best.int8.onnx" "$lfw" "$pairs" --test-folds 5
