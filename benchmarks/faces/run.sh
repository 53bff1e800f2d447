#!/usr/bin/env bash
# Train a small edge-backbone face model on labels alone (the recipe of the former small model,
# lfw_faces.int8.onnx, 83.8%; the bundled small model is now distilled: benchmarks/faces/distill.sh)
# from LFW: cut the faces of the people outside View 2 folds 1-5 from Haar boxes with the eyes
# levelled, train, export to INT8, measure View 2 verification on folds 1-5 (people never seen)
# and the one-shot gallery test. About 50 minutes on 2 CPU cores. (The default face model is
# dlib's, rebuilt by benchmarks/faces/dlib_model.sh.)
#   Usage: benchmarks/faces/run.sh OUTDIR [LFW_ROOT] [PAIRS_FILE]
set -euo pipefail
out=${1:?usage: $0 OUTDIR [LFW_ROOT] [PAIRS_FILE]}
here=$(cd "$(dirname "$0")" && pwd)
repo=$here/../..
lfw=${2:-$repo/../shared/datasets/lfw}
pairs=${3:-$repo/../shared/datasets/meta/lfw/pairs_10fold_reconstructed.txt}

cd "$repo"
python -m benchmarks.faces.prepare "$lfw" "$pairs" "$out/faces" --test-folds 5
siamese-train --data "$out/faces" --out "$out" --layout folders --split 0.9,0.1,0 --kind face \
  --backbone edge --input-size 96 --channels 3 --loss cosface --margin 0.35 -P 32 -K 4 --flip --photometric \
  --epochs 80 --way 20 --val-episodes 300 --target-far 1e-3 --seed 0 --threads 2 --quiet
export-onnx "$out/best.pt" -p fp32 -p int8 --flip-average
python -m benchmarks.faces.lfw_view2 "$out/best.int8.onnx" "$lfw" "$pairs" --test-folds 5 | tee "$out/view2.json"
python -m benchmarks.faces.gallery_test "$out/best.int8.onnx" "$lfw" "$pairs" --test-folds 5 | tee "$out/gallery.json"
