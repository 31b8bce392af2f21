#!/usr/bin/env bash
# Runs the test suite (the README's test command) and prints one closing line "N passed, N failed, N skipped"
# read from the TRX results. Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Safetensors").
# Slow, RealWeights, Gpu and Slurm tests are excluded unless PIOFVLM_TEST_FILTER overrides the filter (.ci/run
# includes Slurm after starting a local scheduler with scripts/slurm/setup-local.sh).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
results="$root/artifacts/test-results"
rm -rf "$results"
filter="${PIOFVLM_TEST_FILTER:-TestCategory!=Slow&TestCategory!=RealWeights&TestCategory!=Gpu&TestCategory!=Slurm}"
# pio-fvlm reads every PIOFVLM_* variable as a config override (PIOFVLM_Run__Eval__Limit=3): the tests must not see this one
unset PIOFVLM_TEST_FILTER
dotnet test "$root/PioFvlm.Tests/PioFvlm.Tests.csproj" -c Release --filter "$filter" \
  --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@"
rc=$?
trx="$results/results.trx"
if [ ! -f "$trx" ]; then
  echo "no test results were written (build failure?)"
  echo "0 passed, 1 failed"
  exit 1
fi
counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
passed=$(get passed); failed=$(get failed); total=$(get total); executed=$(get executed)
errors=$(get error); timeouts=$(get timeout); aborted=$(get aborted)
failed=$(( ${failed:-0} + ${errors:-0} + ${timeouts:-0} + ${aborted:-0} ))
skipped=$(( ${total:-0} - ${passed:-0} - failed ))
echo "${passed:-0} passed, ${failed} failed, ${skipped} skipped"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "${passed:-0}" -eq 0 ]; then exit 1; fi
