#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU, in one go (a few minutes): installs onnxruntime-gpu
# (and the TensorRT libraries from PyPI), runs edge-bench over the CPU, CUDA and TensorRT providers
# (TensorRT with and without FP16, first build and cached start; INT8 models reach TensorRT as their
# S8S8 variant, a case that falls back to another provider is listed as not run), on classes the
# models never saw, and, if torch sees CUDA, a short
# mixed-precision training run.   Usage: benchmarks/gpu_check.sh [OUTDIR] [MODEL.onnx ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$here/..
out=${1:-$repo/runs/gpu_check}
shift || true
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

python3 -m venv "$out/venv"
. "$out/venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e "$repo[gpu,plot]" "tensorrt-cu12" || python -m pip install --quiet -e "$repo[gpu,plot]"
# onnxruntime-gpu finds CUDA, cuDNN and TensorRT through the library path.
site=$(python -c "import site; print(site.getsitepackages()[0])")
export LD_LIBRARY_PATH="$(find "$site/nvidia" "$site/tensorrt_libs" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')${LD_LIBRARY_PATH:-}"
python -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())" | tee "$out/providers.txt"

models=("$@")
[ ${#models[@]} -gt 0 ] || models=("$repo/edge_runtime/models/att_faces_demo.int8.onnx")
# Accuracy on the ten AT&T subjects the demo model never saw (edge-bench refuses its training classes).
held_out=$out/held_out
rm -rf "$held_out" && mkdir -p "$held_out"
python - "$repo/edge_runtime/models/att_faces_demo.json" "$repo/data/demo/att_faces" "$held_out" <<'PY'
import json, os, sys
notes, faces, target = sys.argv[1:4]
for subject in json.load(open(notes))["never_trained_on"]:
    os.symlink(os.path.join(faces, subject), os.path.join(target, subject))
PY
timeout 300 edge-bench "${models[@]}" --providers cpu,cuda,tensorrt --batch 1,8,32 --runs 100 \
  --engine-cache "$out/engines" --val "$held_out" --way 10 \
  --json "$out/bench.json" --csv "$out/bench.csv" --plot "$out/bench.png" | tee "$out/bench.md"
timeout 200 edge-bench "${models[@]}" --providers tensorrt --trt-fp16 --batch 8 --engine-cache "$out/engines" \
  | tee "$out/bench_trt_fp16.md"

if python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  timeout 200 siamese-train --data "$repo/data/demo/att_faces" --out "$out/train_cuda" --device cuda --amp \
    --split 24,6,10 --input-size 80x64 --loss cosface --epochs 3 --way 10 --episodes 200 --quiet | tee "$out/train.txt"
else
  echo "torch with CUDA not installed here: the CUDA training check was skipped" | tee "$out/train.txt"
fi
