#!/usr/bin/env bash
# Regenerates PioFvlm.Bench/Reports/performance.md (and the raw performance.json beside it) from ONE measuring process:
# LLaVA-1.5-7B with random bf16 weights is built once (~60 s, ~14.5 GB RAM: run ONE copy, on a quiet machine), then
# in that process: the one-layer cost curve on its layer 0 (n = 22 ... 2988), every schedule's image encoding + prefill
# (fastest of --repeats) and decode tokens/s (unpruned; PIO 33.3/22.2/11.1 % w/o and w/ VE; FastV, DART, VisionZip,
# CDPruner, VisPruner, HiPrune, Downsample at 11.1 %), and the pruner's pieces (one layer forward, probe Full/Cheap,
# NMS at 576 and 2928 tokens checked against the fp32 full-matrix reference), the decode rows (unpruned and pio-11:
# --decode-row-tokens greedy tokens, default 32, with each decode route, libtorch defaults and decode kernels, alternating) and one decode
# step taken apart op by op at the unpruned cache length. Expected full run on the 2-core machine: ~12 min (build 1 min,
# curve ~1 min, schedules + decode rows ~8.5 min, decode breakdown ~0.5 min, pieces ~0.5 min); each part prints its time. --with-micro also runs the BenchmarkDotNet micro suites
# (a second process after the first, adds several minutes) and appends their tables.
# --smoke runs the same code at tiny widths (same 576 visual tokens, 32 layers, schedules and presets) in seconds and
# writes to a temporary folder unless --out is given; the repository's report is left alone.
# Usage: scripts/perf_report.sh [--smoke] [--threads N] [--repeats N] [--decode-tokens N] [--decode-row-tokens N] [--with-micro] [--out FILE.md]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads=2; repeats=3; decode=4; rowtokens=32; smoke=0; micro=0; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --threads) threads="$2"; shift ;;
    --repeats) repeats="$2"; shift ;;
    --decode-tokens) decode="$2"; shift ;;
    --decode-row-tokens) rowtokens="$2"; shift ;;
    --with-micro) micro=1 ;;
    --out) out="$2"; shift ;;
    *) echo "perf_report.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
work="$(mktemp -d -t perf-report-XXXXXX)"
trap 'rm -rf "$work"' EXIT
if [ "$smoke" = 1 ]; then
  size=(--smoke); repeats=1; decode=2; rowtokens=4
  json="$work/performance-smoke.json"; out="${out:-$work/performance-smoke.md}"
else
  size=()
  json="$root/PioFvlm.Bench/Reports/performance.json"; out="${out:-$root/PioFvlm.Bench/Reports/performance.md}"
fi
step() { echo "== [$(date +%T)] $*"; }
took() { echo "== $1 took $(( $(date +%s) - $2 )) s"; }

start=$(date +%s); t=$start
step "build (Release)"
dotnet build "$root/PioFvlm.Bench" -c Release -v quiet -nologo >/dev/null
took build "$t"
cd "$root"
pio() { dotnet "$root/PioFvlm.Bench/bin/Release/net10.0/pio-fvlm.dll" "$@"; }

t=$(date +%s)
step "measure: model build, cost curve, 14 schedules x $repeats prefills + $decode decode tokens, decode rows ($rowtokens tokens x 2 routes) + breakdown, pruner pieces"
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
echo "MemAvailable: $((avail_kb / 1024)) MiB"
pio measure-llava-7b-prefill "${size[@]}" --threads "$threads" --repeats "$repeats" --decode-tokens "$decode" \
  --decode-rows unpruned,pio-11 --decode-row-tokens "$rowtokens" --decode-breakdown \
  --cost-curve --probe-costs --json "$json" \
  --schedules unpruned,pio-33,pio-22,pio-11,pio-ve-33,pio-ve-22,pio-ve-11,configs/pruning/fastv-64.json,configs/pruning/dart-64.json,configs/pruning/visionzip-64.json,configs/pruning/cdpruner-64.json,configs/pruning/vispruner-64.json,configs/pruning/hiprune-64.json,configs/pruning/downsample-64.json
took measure "$t"

appendix=()
if [ "$micro" = 1 ]; then
  if [ "$smoke" = 1 ]; then
    echo "--with-micro is skipped in --smoke mode (the micro suites run at the 7B layer shape)"
  else
    t=$(date +%s)
    step "BenchmarkDotNet micro suites"
    pio bench --threads "$threads" --anyCategories micro --exporters github --artifacts "$work/bdn"
    cat "$work"/bdn/results/*-report-github.md > "$work/micro.md"
    appendix=(--appendix "$work/micro.md")
    took micro "$t"
  fi
fi

t=$(date +%s)
step "report"
pio perf-report --prefill "$json" --out "$out" "${appendix[@]}"
took report "$t"
took "perf_report.sh (all)" "$start"
if [ "$smoke" = 1 ]; then cat "$out"; fi
