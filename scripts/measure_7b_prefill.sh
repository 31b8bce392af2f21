#!/usr/bin/env bash
# One LLaVA-1.5-7B prefill (576 visual + 60 text tokens) with random bf16 weights built in memory, through the same
# calls `pio-fvlm generate` makes; prints vision ms, prefill ms and peak RSS. Needs ~14.5 GB free RAM: run ONE copy,
# on a quiet machine. Extra arguments go to the verb (--threads N, --text-tokens N, --config FILE, --force).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
echo "MemAvailable: $((avail_kb / 1024)) MiB"
dotnet build "$root/PioFvlm.Bench" -c Release -v quiet -nologo >/dev/null
cd "$root"
exec dotnet run --project "$root/PioFvlm.Bench" -c Release --no-build -- measure-llava-7b-prefill --threads 2 "$@"
