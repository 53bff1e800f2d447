#!/usr/bin/env bash
# The first GPU machine's check, in one command, with or without network: installs what it can
# (onnxruntime-gpu, the TensorRT libraries, onnx, OpenCV: from PyPI, or from wheels carried in
# WHEELS=DIR), says plainly what it could not install or test, then runs benchmarks/gpu_check.py:
# for each provider × precision of the default face model, whether it really ran on that provider
# (no fallback), TensorRT's engine build and cached start, latency at batch 1 and 8, and one-shot
# accuracy and agreement with the CPU in FP32 on the same aligned faces. Writes OUTDIR/gpu_check.json,
# OUTDIR/gpu_check.md and OUTDIR/setup.txt (what was installed, what was not, and why).
#   Usage: benchmarks/gpu_check.sh [OUTDIR] [--runs N]
#   PYTHON=python3           the interpreter whose packages it starts from (CUDA PyTorch, onnxruntime …)
#   GPU_CHECK_INSTALL=0      install nothing: measure with $PYTHON's packages as they are (tests, CPU machines)
#   WHEELS=DIR               wheels carried in (pip download -d DIR onnxruntime-gpu onnx … on a machine with network)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:-$repo/runs/gpu_check}
shift || true
mkdir -p "$out/engines"  # TensorRT's provider creates only the last level of its cache path
out=$(cd "$out" && pwd)
setup=$out/setup.txt
: >"$setup"
say() { echo "gpu_check: $*" | tee -a "$setup" >&2; }
untested=()

if command -v nvidia-smi >/dev/null 2>&1; then
  say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 1)"
else
  say "no nvidia-smi: no NVIDIA GPU or driver here; every CUDA and TensorRT row will say why it did not run"
  untested+=("any GPU: this machine has no NVIDIA driver (no nvidia-smi)")
fi

python=${PYTHON:-python3}
if [ "${GPU_CHECK_INSTALL:-1}" != "0" ]; then
  # A virtual environment that sees what is installed already (CUDA PyTorch and its nvidia-* libraries).
  "$python" -m venv --system-site-packages "$out/venv"
  python=$out/venv/bin/python
  links=()
  [ -n "${WHEELS:-}" ] && links=(--find-links "$WHEELS")
  install() {  # install "$@" from the index or the carried wheels; say what could not be installed
    if "$python" -m pip install --quiet --disable-pip-version-check "${links[@]}" "$@" >>"$setup" 2>&1 ||
      { [ ${#links[@]} -gt 0 ] && "$python" -m pip install --quiet --no-index "${links[@]}" "$@" >>"$setup" 2>&1; }; then
      say "installed $*"
      return 0
    fi
    say "could not install $* (no network, and not among the carried wheels)"
    return 1
  }
  "$python" -c "import numpy" 2>/dev/null || install "numpy<2" || true
  "$python" -c "import cv2" 2>/dev/null || install opencv-python-headless || untested+=("everything: OpenCV is missing (face alignment)")
  "$python" -c "import click, PIL" 2>/dev/null || install click pillow || true
  "$python" -c "import onnx" 2>/dev/null || install onnx || untested+=("FP32 rows: the onnx package is missing")
  install "onnxruntime-gpu==1.20.*" || untested+=("CUDA and TensorRT: onnxruntime-gpu could not be installed (any preinstalled onnxruntime is used)")
  install "tensorrt-cu12==10.*" || untested+=("TensorRT: its libraries (tensorrt-cu12) could not be installed")
fi

# onnxruntime-gpu finds CUDA, cuDNN and TensorRT through the library path: the pip-installed ones included.
sites=$("$python" -c "import site, sys; print(' '.join(site.getsitepackages() + [site.getusersitepackages()]))")
libraries=$(for site in $sites; do find "$site/nvidia" "$site/tensorrt_libs" -name 'lib*.so*' -printf '%h\n' 2>/dev/null || true; done | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH="${libraries}${LD_LIBRARY_PATH:-}"
"$python" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())" 2>&1 | tee -a "$setup" >&2 || true

args=()
for line in "${untested[@]}"; do args+=(--untested "$line"); done
cd "$repo"
missing=$("$python" -c "
import importlib.util
print(' '.join(m for m in ('numpy', 'cv2', 'onnxruntime', 'click', 'PIL') if importlib.util.find_spec(m) is None))")
if [ -n "$missing" ]; then  # nothing can be measured: the report says so, and why
  say "cannot measure: missing $missing (see $setup)"
  "$python" - "$out" "$missing" "${untested[@]}" <<'PY'
import json, pathlib, sys
out, missing, untested = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
reason = f"not run: the Python packages {missing} are missing and could not be installed"
report = {"environment": {}, "rows": [], "not_tested": [f"everything: {reason}", *untested]}
(out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
(out / "gpu_check.md").write_text("GPU check: nothing measured.\n\nNot tested here:\n\n"
                                  + "".join(f"- {line}\n" for line in report["not_tested"]))
PY
  exit 1
fi
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" -m benchmarks.gpu_check "$out" "${args[@]}" "$@"
say "report: $out/gpu_check.md and $out/gpu_check.json; setup: $setup"
