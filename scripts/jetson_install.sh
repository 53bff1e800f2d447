#!/usr/bin/env bash
# Install the siamese-edge runtime on a Jetson with JetPack 6, without Docker and without torch,
# then check it. Run from the repository: bash scripts/jetson_install.sh [VENV]
set -euo pipefail
venv=${1:-$HOME/.venvs/siamese-edge}
ort_index=${ORT_INDEX:-https://pypi.jetson-ai-lab.io/jp6/cu126}
ort_version=${ORT_VERSION:-1.20.0}

[ -f /etc/nv_tegra_release ] || { echo "not a Jetson (no /etc/nv_tegra_release)"; exit 1; }
# JetPack's OpenCV (with GStreamer), visible in the virtual environment through system site-packages.
sudo apt-get update && sudo apt-get install -y --no-install-recommends libopencv-python python3-venv
python3 -m venv --system-site-packages "$venv"
. "$venv/bin/activate"
python -m pip install "numpy==1.26.4" "click==8.1.7" "pillow>=9.2"
python -m pip install --extra-index-url "$ort_index" "onnxruntime-gpu==$ort_version"
python -m pip install --no-deps -e .      # no torch, no opencv-python wheel

# The checks: JetPack's OpenCV with GStreamer, ONNX Runtime with TensorRT and CUDA, and the doctor.
python - <<'PY'
import re, sys, cv2, onnxruntime as ort
gstreamer = re.search(r"GStreamer:\s*YES", cv2.getBuildInformation())
providers = ort.get_available_providers()
print("OpenCV", cv2.__version__, "GStreamer", "yes" if gstreamer else "NO")
print("onnxruntime", ort.__version__, providers)
sys.exit(0 if gstreamer and "TensorrtExecutionProvider" in providers else 1)
PY
edge-doctor --provider tensorrt --provider cuda
echo "installed in $venv: . $venv/bin/activate && edge-recognize --help"
