# shellcheck shell=bash
# The siamese-train settings that every face-student recipe shares (distill.sh, distill_patient.sh):
# the split (validation people only: View 2's people are never in the folder), distillation alone
# with lambda = 10, the batch, the augmentation and the validation. Sourced, not run.
student_flags=(--layout folders --split 0.9,0.1,0 --kind face --channels 3 --distill-weight 1 --relation-weight 10
  -P 32 -K 4 --flip --photometric --way 20 --val-episodes 300 --target-far 1e-3 --threads 2 --quiet)
