#!/usr/bin/env bash
# Trains the shipped demo model (configs/models/shapes-vlm) from scratch on this machine's CPU, with the settings it
# was shipped with, in two stages (about 2 h 15 min on 2 cores):
#   1. 2,500 steps x 32 generated images with 4 questions each, peak lr 1.5e-3, training data seed 1;
#   2. a warm restart from stage 1: 6,000 steps, peak lr 4e-4 (1e-3 undid stage 1's gains), fresh patch heads plus the grid-column head,
#      fresh images (training data seed 4).
# Seed 2 is the validation split and seed 3 the demo's held-out test split; neither is trained on.
# Work goes to out/train-demo/stage1 and stage2; re-running resumes from the last checkpoint (a finished stage 1 is
# kept). The finished model is copied over configs/models/shapes-vlm with both stages' logs in one training-log.csv.
# Extra arguments go to both `pio-fvlm train-demo` calls (--threads N, --seed N, ...).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/out/train-demo"
target="$root/configs/models/shapes-vlm"
dotnet build "$root/PioFvlm.Bench" -c Release -v quiet -nologo >/dev/null
cd "$root"
train() { dotnet run --project "$root/PioFvlm.Bench" -c Release --no-build -- train-demo "$@"; }

if [[ ! -f "$work/stage1/model.safetensors" ]]; then
    train --out "$work/stage1" --steps 2500 --batch 32 --seed 1 "$@"
fi
train --out "$work/stage2" --init-from "$work/stage1" --steps 6000 --batch 32 --seed 1 --lr 4e-4 --warmup 100 \
      --column-labels --data-seed 4 "$@"

mkdir -p "$target"
for f in config.json generation_config.json preprocessor_config.json tokenizer.json tokenizer_config.json model.safetensors; do
    cp "$work/stage2/$f" "$target/$f"
done
# One log over both stages: stage 2's steps and seconds continue from stage 1's last row.
awk -F, -v OFS=, 'FNR == 1 { if (NR == 1) print; next }
                  FILENAME == ARGV[1] { print; steps = $1; seconds = $2; next }
                  { $1 += steps; $2 = sprintf("%.1f", $2 + seconds); print }' \
    "$work/stage1/training-log.csv" "$work/stage2/training-log.csv" > "$target/training-log.csv"
train --out "$target" --curves-only
echo "copied the trained model to $target"
