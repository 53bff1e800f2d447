#!/usr/bin/env bash
# The whole loop's frame rate on a crowd video, side by side: the default face model and the small one,
# each with dlib's landmark cascade and with the landmark network (--landmarks net), ROUNDS rounds with
# the four runs alternated in each. Every face is embedded (--no-quality). One line a run, from the run summary.
#   Usage: benchmarks/faces/crowd_fps.sh VIDEO_DIR [ROUNDS]
#   VIDEO_DIR: what `python -m benchmarks.faces.video_test make VIDEO_DIR --faces 8 --test-folds 5 --repeat 5` wrote
set -euo pipefail
dir=${1:?usage: $0 VIDEO_DIR [ROUNDS]}
rounds=${2:-3}
[[ -f "$dir/video.mp4" && -d "$dir/enroll" ]] || { echo "$0: $dir holds no video.mp4 and enroll/ (benchmarks.faces.video_test make)" >&2; exit 2; }
models=$(cd "$(dirname "$0")/../../edge_runtime/models" && pwd)
for round in $(seq "$rounds"); do
  for landmarks in dlib net; do
    for model in dlib_face_resnet.int8.onnx face_student.int8.onnx; do
      said=$(edge-recognize --enroll "$dir/enroll" -i "$dir/video.mp4" --headless --json -m "$models/$model" \
        --no-quality --landmarks "$landmarks" 2>&1 >/dev/null) || true
      summary=$(grep -oE '[0-9]+ frames in .*' <<<"$said" || true)
      if [[ -z "$summary" ]]; then
        echo "$0: $landmarks, $model: no run summary; edge-recognize said: $(tail -n 1 <<<"$said")" >&2
        exit 1
      fi
      echo "round $round, $landmarks, $model: $summary"
    done
  done
done
