#!/usr/bin/env bash
# The fused-attention evidence of the LLaVA-NeXT-7B report: native peak memory of one LLaMA-7B-shape decoder layer
# forward (bf16) at N positions with the fused SDPA kernel and with the eager kernel that materialises the
# [32, N, N] attention matrix, each in its own process (peak RSS is per process).
# Usage: scripts/attention_memory.sh [N (default 2988)] [threads (default 2)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dotnet build "$root/PioFvlm.Bench" -c Release -v quiet -nologo >/dev/null
for kernel in sdpa eager; do
  dotnet "$root/PioFvlm.Bench/bin/Release/net10.0/pio-fvlm.dll" measure-attention-memory --kernel "$kernel" --positions "${1:-2988}" --threads "${2:-2}"
done
