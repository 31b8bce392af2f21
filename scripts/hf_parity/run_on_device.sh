#!/usr/bin/env bash
# One command for the GPU machine (Python 3.12, torch, transformers 5.x, safetensors, Pillow; no internet):
#   bash scripts/hf_parity/run_on_device.sh            # writes $OUT/hf_parity.tar.gz (+ the log)
#   OUT=/tmp/x bash scripts/hf_parity/run_on_device.sh --families llava
# Without $OUT the fixtures go into the tree (PioFvlm.Tests/TestData/hf_parity) and the tarball next to it.
# Extra arguments are passed to make_fixtures.py. The models run on CPU (the reference device); the GPU is not
# needed. Exit status: that of make_fixtures.py (1 if any family or case raised; the files written are kept).
set -euo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../.."

if [[ -n "${OUT:-}" ]]; then
  dest="$OUT/hf_parity"
  tar_dir="$OUT"
else
  dest="PioFvlm.Tests/TestData/hf_parity"
  tar_dir="PioFvlm.Tests/TestData"
fi
mkdir -p "$dest"

rc=0
python3 scripts/hf_parity/make_fixtures.py --out "$dest" "$@" 2>&1 | tee "$tar_dir/hf_parity.log" || rc=$?
cp "$tar_dir/hf_parity.log" "$dest/make_fixtures.log"
tar -czf "$tar_dir/hf_parity.tar.gz" -C "$(dirname "$dest")" "$(basename "$dest")"
echo "[run_on_device] exit $rc; archive $tar_dir/hf_parity.tar.gz ($(du -h "$tar_dir/hf_parity.tar.gz" | cut -f1))"
# With $OUT set, keep only the archive and the log there (fewer files to bring back).
if [[ -n "${OUT:-}" && "${KEEP_TREE:-0}" != "1" ]]; then
  rm -rf "$dest"
fi
exit $rc
