#!/usr/bin/env bash
# Rebuild the bundled default face model (edge_runtime/models/dlib_face_resnet.int8.onnx, and its FP16
# sibling for TensorRT) from dlib's face ResNet: cut the LFW faces of people in no View 2 fold onto
# dlib's chip from dlib's 5-point landmarks, convert dlib's weights (threshold calibrated on those
# never-seen people), export FP32, FP16 and INT8, measure LFW View 2 on all 10 folds and the one-shot
# gallery test, then bundle the INT8 and FP16 models with those figures.
# Needs the [reference] extra (face-recognition-models ships dlib's .dat file). About 25 minutes on 2 cores.
#   Usage: benchmarks/faces/dlib_model.sh OUTDIR [LFW_ROOT] [PAIRS_FILE] [--no-bundle]
set -euo pipefail
out=${1:?usage: $0 OUTDIR [LFW_ROOT] [PAIRS_FILE] [--no-bundle]}
here=$(cd "$(dirname "$0")" && pwd)
repo=$here/../..
lfw=${2:-$repo/../shared/datasets/lfw}
pairs=${3:-$repo/../shared/datasets/meta/lfw/pairs_10fold_reconstructed.txt}
target_far=${TARGET_FAR:-1e-3}

cd "$repo"
mkdir -p "$out"
python -m benchmarks.faces.prepare "$lfw" "$pairs" "$out/unseen" --test-folds 10 --min-images 1 \
  --template dlib --size 150
convert-dlib-face --data "$out/unseen" -o "$out/dlib_face.pt" --target-far "$target_far"
export-onnx "$out/dlib_face.pt" -o "$out/dlib_face.onnx" -p fp32 -p fp16 -p int8 --calib "$out/unseen" --calib-count 1500 \
  --kind face
for precision in fp32 int8; do
  python -m benchmarks.faces.lfw_view2 "$out/dlib_face.$precision.onnx" "$lfw" "$pairs" | tee "$out/view2.$precision.json"
done
python -m benchmarks.faces.gallery_test "$out/dlib_face.int8.onnx" "$lfw" "$pairs" | tee "$out/gallery.json"
if [[ "${4:-}" != "--no-bundle" ]]; then
  python -m benchmarks.faces.bundle "$out"
fi
