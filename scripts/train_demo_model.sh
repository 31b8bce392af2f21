#!/usr/bin/env bash
# Trains the shipped demo model (configs/models/shapes-vlm) from scratch on this machine's CPU, with the settings it
# was shipped with: 2500 steps x 32 generated images with 4 questions each, seed 1 (about 35 minutes on 2 cores). Work goes to
# out/train-demo (re-running resumes from its last checkpoint); the finished folder is then copied over
# configs/models/shapes-vlm. Extra arguments go to `pio-fvlm train-demo` (--seed N, --steps N, --threads N, ...).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/out/train-demo"
target="$root/configs/models/shapes-vlm"
dotnet build "$root/PioFvlm.Bench" -c Release -v quiet -nologo >/dev/null
cd "$root"
dotnet run --project "$root/PioFvlm.Bench" -c Release --no-build -- train-demo --out "$work" --steps 2500 --batch 32 --seed 1 "$@"
mkdir -p "$target"
for f in config.json generation_config.json preprocessor_config.json tokenizer.json tokenizer_config.json \
         model.safetensors training-log.csv training-loss.png training-accuracy.png; do
    cp "$work/$f" "$target/$f"
done
echo "copied the trained model to $target"
