#!/usr/bin/env bash
# End-to-end FPS and per-stage latency of edge-recognize on a 640x480 video with face detection,
# the bundled default face model (INT8), eye levelling and the quality gate.
#   Usage: benchmarks/runtime/run.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../runs/runtime}
mkdir -p "$out"
python "$here/make_video.py" "$out/faces_640x480.mp4" "$out/enroll" --frames 300
edge-recognize --provider cpu --enroll "$out/enroll" -i "$out/faces_640x480.mp4" \
  --detector face --headless --output "$out/annotated.mp4"
python "$here/gallery_search.py"
