#!/usr/bin/env bash
# Train the edge backbone on the Omniglot background set and report 20-way 1-shot accuracy on
# held-out alphabets, within-alphabet (Lake et al.'s and Koch et al.'s harder protocol).
# Budget: about 25 minutes on 2 CPU cores.   Usage: benchmarks/omniglot/run.sh OUTDIR [DATA_ROOT]
set -euo pipefail
out=${1:?usage: $0 OUTDIR [DATA_ROOT]}
here=$(cd "$(dirname "$0")" && pwd)
data=${2:-$here/../../../shared/datasets/omniglot/images_background}

siamese-train --data "$data" --out "$out" \
  --layout omniglot --split 0.7,0.1,0.2 --split-seed 0 \
  --backbone edge --input-size 64 --channels 1 \
  --loss triplet --mining batch-hard --metric cosine --margin 0.2 -P 32 -K 4 \
  --rotate-classes --epochs 12 --steps-per-epoch 400 --lr 1e-3 \
  --way 20 --shot 1 --same-group --episodes 2000 --val-episodes 300 \
  --target-far 1e-3 --seed 0 --threads 2
