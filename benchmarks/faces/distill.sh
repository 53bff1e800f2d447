#!/usr/bin/env bash
# Distil dlib's face ResNet (the default model) into the 1.5 M-parameter edge-spatial backbone and bundle the
# student as the small face model (edge_runtime/models/face_student.int8.onnx): cut the LFW faces of
# people outside View 2 folds 1-5 as the runtime cuts them (YuNet, dlib's landmarks, dlib's chip),
# train the student on the teacher's embeddings of the same augmented faces (no labels), export it
# (FP32, FP16, INT8; threshold calibrated at FAR 1e-3 on held-out people), then measure it next to
# the teacher: LFW View 2 folds 1-5, the one-shot gallery test, edge-bench (per face, each precision)
# and the 8-faces-per-frame video. The crop size, epochs and weights were chosen on the validation
# people (README, "Faces: a small model distilled from the default one"), never on View 2.
#   Usage: benchmarks/faces/distill.sh OUTDIR [LFW_ROOT] [PAIRS_FILE] [--no-bundle]
#   TEACHER=model.onnx|checkpoint.pt (default: the bundled default model), SIZE (80), EPOCHS (70),
#   BACKBONE (edge-spatial), MIXUP (0: off; siamese-train --mixup), TEMPLATE (dlib: dlib's chip from its
#   landmark model; or a template JSON such as benchmarks/faces/dlib_template.json, YuNet's own landmarks,
#   which spares the student the landmark model at run time), TEACHER_TEMPLATE (unset: the teacher sees the
#   student's cut; dlib or a template JSON: its own cut of the same photos, siamese-train --teacher-data),
#   STUDENT_TURN (0: off; the student's view alone is turned by up to this many degrees: siamese-train
#   --student-turn, for a cut that does not follow a tilted head)
set -euo pipefail
out=${1:?usage: $0 OUTDIR [LFW_ROOT] [PAIRS_FILE] [--no-bundle]}
here=$(cd "$(dirname "$0")" && pwd)
repo=$here/../..
lfw=${2:-$repo/../shared/datasets/lfw}
pairs=${3:-$repo/../shared/datasets/meta/lfw/pairs_10fold_reconstructed.txt}
teacher=${TEACHER:-$repo/edge_runtime/models/dlib_face_resnet.int8.onnx}
size=${SIZE:-80}
epochs=${EPOCHS:-70}
backbone=${BACKBONE:-edge-spatial}
mixup=${MIXUP:-0}
template_path() {  # dlib (dlib's chip), none (empty), or a template JSON, made absolute before the cd below
  if [[ -z "$1" || "$1" == dlib ]]; then echo "$1"; else realpath "$1"; fi
}
template=$(template_path "${TEMPLATE:-dlib}")
teacher_template=$(template_path "${TEACHER_TEMPLATE:-}")
student_turn=${STUDENT_TURN:-0}

cd "$repo"
mkdir -p "$out"
if [[ ! -f "$out/faces/face_template.json" ]]; then
  python -m benchmarks.faces.prepare "$lfw" "$pairs" "$out/faces" --test-folds 5 --min-images 1 --template "$template" \
    --size 150
fi
teacher_data=()
if [[ -n "$teacher_template" ]]; then
  if [[ ! -f "$out/teacher_faces/face_template.json" ]]; then
    python -m benchmarks.faces.prepare "$lfw" "$pairs" "$out/teacher_faces" --test-folds 5 --min-images 1 \
      --template "$teacher_template" --size 150
  fi
  teacher_data=(--teacher-data "$out/teacher_faces")
fi
resume=()
[[ -f "$out/student/last.pt" ]] && resume=(--resume "$out/student/last.pt")
source "$here/student_flags.sh"
siamese-train --data "$out/faces" --out "$out/student" "${student_flags[@]}" --backbone "$backbone" --input-size "$size" \
  --teacher "$teacher" --lr 3e-3 --mixup "$mixup" --student-turn "$student_turn" --epochs "$epochs" --seed 0 \
  "${teacher_data[@]}" "${resume[@]}"
export-onnx "$out/student/best.pt" -o "$out/student.onnx" -p fp32 -p fp16 -p int8 --calib "$out/faces" \
  --calib-count 1500 --kind face
python -m benchmarks.faces.lfw_view2 "$out/student.int8.onnx" "$lfw" "$pairs" --test-folds 5 | tee "$out/view2.student.json"
python -m benchmarks.faces.lfw_view2 "$teacher" "$lfw" "$pairs" --test-folds 5 | tee "$out/view2.teacher.json"
python -m benchmarks.faces.gallery_test "$out/student.int8.onnx" "$lfw" "$pairs" --test-folds 5 | tee "$out/gallery.json"
# speed side by side in one run: per face at each precision, and end to end on eight faces a frame
# (people of folds 1-5 only); the teacher's FP16 sibling, when it has one, is its other precision
python -m benchmarks.faces.video_test make "$out/video8" --faces 8 --test-folds 5 --lfw "$lfw" --pairs "$pairs"
teachers=("$teacher")
[[ -f "${teacher%.int8.onnx}.fp16.onnx" ]] && teachers+=("${teacher%.int8.onnx}.fp16.onnx")
edge-bench "${teachers[@]}" "$out"/student.{fp32,fp16,int8}.onnx --batch 1,8 --runs 200 \
  --video "$out/video8/video.mp4" --enroll "$out/video8/enroll" --json "$out/bench.json" | tee "$out/bench.md"
for model in "$out/student.int8.onnx" "$teacher"; do
  python -m benchmarks.faces.video_test score "$out/video8" -m "$model"
done | tee "$out/video8.json"
if [[ "${4:-}" != "--no-bundle" ]]; then
  python -m benchmarks.faces.bundle_student "$out"
fi
