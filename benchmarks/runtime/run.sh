#!/usr/bin/env bash
# End-to-end FPS and per-stage latency of edge-recognize with the default face model on a 640x480
# video of LFW photos (one face per frame, 960 frames; benchmarks.faces.video_test): decode, YuNet
# detection, alignment, the quality gate, INT8 embedding, matching, drawing and writing the annotated
# video, then the gallery search benchmark.
#   Usage: benchmarks/runtime/run.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../runs/runtime}
mkdir -p "$out"
cd "$here/../.."
[[ -f "$out/video/video.mp4" ]] || python -m benchmarks.faces.video_test make "$out/video"
edge-recognize --provider cpu --enroll "$out/video/enroll" -i "$out/video/video.mp4" --headless \
  --output "$out/annotated.mp4"
python "$here/gallery_search.py"
