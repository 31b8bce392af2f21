#!/usr/bin/env bash
# Regenerates the 7B performance report of LLaVA-NeXT (--family next) or Qwen2.5-VL (--family qwen): for each of two
# image sizes, ONE measuring process builds the 7B model with random bf16 weights in memory (config from
# configs/models/; ~15-17 GB RAM: run ONE copy, on a quiet machine) and measures in that process the one-layer cost
# curve on its layer 0, every schedule's vision tower + pre-LLM selection, prefill (fastest of --repeats) and decode
# tokens/s, and (first size only) the pruner's pieces. The two renderings go into one report:
#   next: PioFvlm.Bench/Reports/llava-next-7b-performance.md, images 672x672 (2,880 visual tokens + 48 newline rows =
#         2,928 positions) and 640x480; unpruned, PIO 11.1/22.2/33.3 %, PIO w/ VE 11.1 %, FastV, DART and VisionZip at 11.1 %.
#   qwen: PioFvlm.Bench/Reports/qwen25vl-7b-performance.md, images 1008x1008 (1,296 visual tokens) and 644x476 (391);
#         unpruned, PIO 11.1 % (ours) and the reference's loader schedule (0.1 after layer 1, 13.2 %), PIO w/ VE 11.1 %
#         (VScan's Qwen rule: received attention of the full-attention blocks), FastV, DART and VisionZip (adapted to the
#         CLS-free tower: PioFvlm.Core/Pruning/PreLlm/README.md) at 11.1 %.
# Each family's report checks pio-11 against its own goals (NeXT: >= 5x and >= 80 % of its speed of light; Qwen: >= 4x
# and >= 80 %). Hand-written sections measured by other commands live in PioFvlm.Bench/Reports/<name>-performance-extra.md
# and are appended to the report. --render-only rebuilds the report from the committed JSON measurements, measuring
# nothing (seconds).
# --smoke runs the same code at tiny widths (same visual-token counts, layer counts and schedules) in seconds and
# writes to a temporary folder unless --out is given; the repository's report is left alone.
# Usage: scripts/perf_report_family.sh --family next|qwen [--smoke] [--threads N] [--repeats N] [--decode-tokens N]
#        [--images WxH,WxH] [--render-only] [--out FILE.md]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
family=""; threads=2; repeats=2; decode=4; smoke=0; out=""; images=""; render_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --family) family="$2"; shift ;;
    --smoke) smoke=1 ;;
    --threads) threads="$2"; shift ;;
    --repeats) repeats="$2"; shift ;;
    --decode-tokens) decode="$2"; shift ;;
    --images) images="$2"; shift ;;
    --render-only) render_only=1 ;;
    --out) out="$2"; shift ;;
    *) echo "perf_report_family.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
r=configs/pruning/ratio
case "$family" in
  next)
    config=configs/models/llava-next-7b/config.json; label="LLaVA-NeXT-7B (llava-v1.6-vicuna-7b)"; name=llava-next-7b
    script=scripts/perf_report_next.sh; images="${images:-672x672,640x480}"
    schedules="unpruned,pio-11,pio-22,pio-33,pio-ve-11,$r/fastv-11.json,$r/dart-11.json,$r/visionzip-11.json"
    goals=(--target-speedup 5 --target-light-share 0.8) ;;
  qwen)
    config=configs/models/qwen25vl-7b/config.json; label="Qwen2.5-VL-7B-Instruct"; name=qwen25vl-7b
    script=scripts/perf_report_qwen.sh; images="${images:-1008x1008,644x476}"
    schedules="unpruned,pio-11,pio-loader,pio-ve-11,$r/fastv-11.json,$r/dart-11.json,$r/visionzip-11.json"
    goals=(--target-speedup 4 --target-light-share 0.8) ;;
  *) echo "perf_report_family.sh: --family next or --family qwen is required" >&2; exit 2 ;;
esac
work="$(mktemp -d -t perf-report-XXXXXX)"
trap 'rm -rf "$work"' EXIT
if [ "$smoke" = 1 ]; then
  size=(--smoke); repeats=1; decode=2
  jsondir="$work"; out="${out:-$work/$name-performance-smoke.md}"
else
  size=()
  jsondir="$root/PioFvlm.Bench/Reports"; out="${out:-$root/PioFvlm.Bench/Reports/$name-performance.md}"
fi
step() { echo "== [$(date +%T)] $*"; }
took() { echo "== $1 took $(( $(date +%s) - $2 )) s"; }

start=$(date +%s); t=$start
extra="$root/PioFvlm.Bench/Reports/$name-performance-extra.md"
step "build (Release)"
dotnet build "$root/PioFvlm.Bench" -c Release -v quiet -nologo >/dev/null
took build "$t"
cd "$root"
pio() { dotnet "$root/PioFvlm.Bench/bin/Release/net10.0/pio-fvlm.dll" "$@"; }

first=1
parts=()
IFS=',' read -ra sizes <<< "$images"
for image in "${sizes[@]}"; do
  t=$(date +%s)
  json="$jsondir/$name-performance-$image.json"
  pieces=(); if [ "$first" = 1 ]; then pieces=(--probe-costs); fi
  if [ "$render_only" = 0 ]; then
    step "measure $label at $image: model build, cost curve, schedules x $repeats prefills + $decode decode tokens${pieces:+, pruner pieces}"
    avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
    echo "MemAvailable: $((avail_kb / 1024)) MiB"
    pio measure-prefill "${size[@]}" --config "$config" --image "$image" --label "$label" --script "$script" \
      --threads "$threads" --repeats "$repeats" --decode-tokens "$decode" --cost-curve "${pieces[@]}" --json "$json" \
      --schedules "$schedules"
    took "measure $image" "$t"
  fi
  pio perf-report --prefill "$json" --out "$work/part-$image.md" "${goals[@]}"
  parts+=("$work/part-$image.md")
  first=0
done

step "report"
{
  echo "# Performance: $label${size:+ (smoke)} at ${images//,/ and }"
  echo
  echo "One section per image size, each from its own measuring process (\`$script${size:+ --smoke}\`); ratios compare runs of the same process only."
  for part in "${parts[@]}"; do echo; sed 's/^#/##/' "$part"; done
  if [ "$smoke" = 0 ] && [ -f "$extra" ]; then echo; cat "$extra"; fi
} > "$out"
echo "wrote $out"
took "perf_report_family.sh --family $family (all)" "$start"
if [ "$smoke" = 1 ]; then cat "$out"; fi
