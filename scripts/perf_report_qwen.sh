#!/usr/bin/env bash
# Qwen2.5-VL-7B's performance report (PioFvlm.Bench/Reports/qwen25vl-7b-performance.md): see perf_report_family.sh.
# Usage: scripts/perf_report_qwen.sh [--smoke] [--threads N] [--repeats N] [--decode-tokens N] [--images WxH,WxH] [--out FILE.md]
exec "$(dirname "${BASH_SOURCE[0]}")/perf_report_family.sh" --family qwen "$@"
