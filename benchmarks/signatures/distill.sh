#!/usr/bin/env bash
# Distillation on a task that is not faces: a signature student (edge backbone at 64x128, 2.25 times
# fewer pixels than the teacher) trained twice on the same signers, split, seed and batches: once
# alone (CosFace on the labels, as benchmarks/signatures/run.sh trains) and once taught by the bundled
# signature model (edge at 96x192, an exported INT8 ONNX model: its input comes from its metadata).
# Both students and the teacher are then measured on the same 16 test signers none of them saw.
# About 15 minutes on 2 CPU cores.
#   Usage: benchmarks/signatures/distill.sh OUTDIR [DATA_ROOT]
#   TEACHER=model.onnx|checkpoint.pt (default: edge_runtime/models/signatures.int8.onnx), WEIGHT (distill weight)
set -euo pipefail
out=${1:?usage: $0 OUTDIR [DATA_ROOT]}
here=$(cd "$(dirname "$0")" && pwd)
data=${2:-$here/../../../shared/datasets/signatures}
teacher=${TEACHER:-$here/../../edge_runtime/models/signatures.int8.onnx}
weight=${WEIGHT:-1}

common=(--data "$data" --layout folders --group-separator _ --split 0.6,0.15,0.25 --split-seed 0 --kind signature
  --backbone edge --input-size 64x128 --channels 1 --resize ink --loss cosface --margin 0.3 -P 16 -K 4 --epochs 20
  --steps-per-epoch 30 --lr 1e-3 --way 5 --shot 1 --episodes 1000 --val-episodes 300 --target-far 1e-2 --seed 0
  --threads 2 --quiet)
siamese-train "${common[@]}" --out "$out/alone"
siamese-train "${common[@]}" --out "$out/distilled" --teacher "$teacher" --distill-weight "$weight"
# FP32: the 64x128 student trained alone has activations INT8 cannot hold (export-onnx refuses its S8S8 file,
# min cosine 0.85 to PyTorch), and the comparison is between the two ways of training, not precisions
for run in alone distilled; do
  export-onnx "$out/$run/best.pt" -p fp32
  python "$here/evaluate.py" "$out/$run/best.pt" "$out/$run/best.fp32.onnx" "$data" | tee "$out/$run/signers.json"
done
# the teacher on the same test signers (the split is the students', and the teacher's own)
python "$here/evaluate.py" "$out/alone/best.pt" "$teacher" "$data" | tee "$out/teacher_signers.json"
