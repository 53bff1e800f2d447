#!/usr/bin/env bash
# Train a writer-independent signature model: signers are split, never shared between training and
# test; a signer's genuine folder (012/) and forgery folder (012_forg/) stay together. Ink-cropped,
# aspect-kept 96x192 input. About 8 minutes on 2 CPU cores.
# Usage: benchmarks/signatures/run.sh OUTDIR [DATA_ROOT]
set -euo pipefail
out=${1:?usage: $0 OUTDIR [DATA_ROOT]}
here=$(cd "$(dirname "$0")" && pwd)
data=${2:-$here/../../../shared/datasets/signatures}

siamese-train --data "$data" --out "$out" \
  --layout folders --group-separator _ --split 0.6,0.15,0.25 --split-seed 0 --kind signature \
  --backbone edge --input-size 96x192 --channels 1 --resize ink \
  --loss cosface --margin 0.3 -P 16 -K 4 --epochs 20 --steps-per-epoch 30 --lr 1e-3 \
  --way 5 --shot 1 --episodes 1000 --val-episodes 300 --target-far 1e-2 --seed 0 --threads 2
export-onnx "$out/best.pt" --all
python "$here/evaluate.py" "$out/best.pt" "$out/best.int8.onnx" "$data"
