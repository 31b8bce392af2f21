#!/usr/bin/env bash
# The performance report: one LLaMA-7B layer's cost curve (~1 GB), one LLaVA-1.5-7B prefill per PIO-FVLM schedule
# (~14.5 GB free RAM, ~4 min: run ONE copy on a quiet machine), then PioFvlm.Bench/Reports/performance.md with the
# measured speedups beside the FLOPs/KV ratios and each schedule's speed of light.
# Usage: scripts/perf_report.sh [--skip-curve] [--threads N]   (--skip-curve reuses Reports/llama7b-layer-cost-cpu.json)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reports="$root/PioFvlm.Bench/Reports"
threads=2; skip_curve=0
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-curve) skip_curve=1 ;;
    --threads) threads="$2"; shift ;;
    *) echo "perf_report.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
curve="$reports/llama7b-layer-cost-cpu.json"
prefill="$(mktemp -t perf-prefill-XXXXXX.json)"
trap 'rm -f "$prefill"' EXIT
dotnet build "$root/PioFvlm.Bench" -c Release -v quiet -nologo >/dev/null
cd "$root"
pio() { dotnet run --project "$root/PioFvlm.Bench" -c Release --no-build -- "$@"; }
if [ "$skip_curve" = 0 ]; then
  pio measure-layer-cost --threads "$threads" --out "$curve"
fi
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
echo "MemAvailable: $((avail_kb / 1024)) MiB"
pio measure-llava-7b-prefill --threads "$threads" \
  --schedules unpruned,pio-33,pio-22,pio-11,pio-ve-33,pio-ve-22,pio-ve-11 --probe-costs --json "$prefill"
pio perf-report --curve "$curve" --prefill "$prefill" --out "$reports/performance.md"
