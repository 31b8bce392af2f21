#!/usr/bin/env bash
# Submits a sharded pio-fvlm evaluation to Slurm: an array of N tasks (one shard each) and a merge job that starts
# when all of them succeeded and writes the report. Prints "ARRAY_JOB_ID MERGE_JOB_ID".
#   scripts/slurm/submit.sh CONFIG.json OUTPUT_DIR [N=4] [extra eval overrides, e.g. --Run:Eval:MaxNewTokens=8]
# (These variables avoid the PIOFVLM_ prefix: that one is read by pio-fvlm as config overrides, PIOFVLM_Run__Eval__Limit=3.)
# Environment: PIO_FVLM_CLI (default pio-fvlm; e.g. "dotnet /opt/pio-fvlm/pio-fvlm.dll"), and sbatch's own SBATCH_*
# variables (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...) for site settings. Jobs run in the current
# folder (relative paths in the config resolve as they would here).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -ge 2 ] || { sed -n '2,8p' "${BASH_SOURCE[0]}" >&2; exit 2; }
config=$1; output=$2; n=${3:-4}; shift $(( $# >= 3 ? 3 : 2 ))
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit: N must be a positive integer, got '$n'" >&2; exit 2; }
[ -f "$config" ] || { echo "submit: run config not found: $config" >&2; exit 2; }
mkdir -p "$output/slurm"
export PIO_SLURM_CONFIG="$config" PIO_SLURM_OUTPUT="$output" PIO_SLURM_SHARDS="$n" PIO_FVLM_CLI="${PIO_FVLM_CLI:-pio-fvlm}"
export PIO_SLURM_EVAL_ARGS="$*"
array=$(sbatch --parsable --export=ALL --chdir="$PWD" --array="0-$((n - 1))" \
  --output="$output/slurm/eval-%A_%a.out" "$here/eval-array.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --chdir="$PWD" --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$output/slurm/merge-%j.out" "$here/merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
