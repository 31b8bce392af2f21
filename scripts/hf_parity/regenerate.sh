#!/usr/bin/env bash
# Regenerate the committed HF parity fixtures (PioFvlm.Tests/TestData/hf_parity) with the transformers oracle.
#
#   sudo bash scripts/hf_parity/regenerate.sh ORACLE_DIR      # from anywhere; needs root (chroot + bind mounts)
#
# ORACLE_DIR/oracle.sh missing: the oracle (a Debian chroot with torch + transformers from Debian packages) is built
# there first with scripts/hf_parity/oracle_setup.sh (3-7 minutes, about 2.3 GB; Debian/Ubuntu host with apt).
# Then make_fixtures.py writes everything into artifacts/hf_parity_work/hf_parity (git-ignored, inside the repo so
# the oracle sees it without extra mounts), compact.py drops what it verifies redundant, and only the files whose
# bytes changed are copied into the test data; files no longer produced are removed. Each is printed.
# Exit status: 1 if make_fixtures.py or compact.py reported an error / failed check (nothing is copied then).
set -euo pipefail
ORACLE=${1:?usage: regenerate.sh ORACLE_DIR}
cd "$(dirname "$0")/../.."
REPO=$PWD
DEST=PioFvlm.Tests/TestData/hf_parity

if [[ ! -f $ORACLE/oracle.sh ]]; then
  echo "[regenerate] no oracle in $ORACLE: building it (scripts/hf_parity/oracle_setup.sh)"
  bash scripts/hf_parity/oracle_setup.sh "$ORACLE"
fi

# Clear the work folder's contents but keep the folder itself: the oracle bind-mounts the repo, never this folder.
WORK=artifacts/hf_parity_work
mkdir -p "$WORK"
find "$WORK" -mindepth 1 -delete
echo "[regenerate] make_fixtures.py -> $WORK/hf_parity"
bash "$ORACLE/oracle.sh" -- python3 scripts/hf_parity/make_fixtures.py --out "$WORK/hf_parity" --device cpu \
  2>&1 | tee "$WORK/make_fixtures.log"
echo "[regenerate] compact.py"
bash "$ORACLE/oracle.sh" -- python3 scripts/hf_parity/compact.py "$WORK/hf_parity" 2>&1 | tee "$WORK/compact.log"

echo "[regenerate] sync -> $DEST"
mkdir -p "$DEST"
changed=0
while IFS= read -r -d '' f; do
  rel=${f#"$WORK/hf_parity/"}
  if [[ ! -f $DEST/$rel ]]; then
    echo "  new      $rel"
  elif ! cmp -s "$f" "$DEST/$rel"; then
    echo "  changed  $rel"
  else
    continue
  fi
  mkdir -p "$(dirname "$DEST/$rel")"
  cp "$f" "$DEST/$rel"
  changed=$((changed + 1))
done < <(find "$WORK/hf_parity" -type f -print0 | sort -z)
while IFS= read -r -d '' f; do
  rel=${f#"$DEST/"}
  if [[ ! -f $WORK/hf_parity/$rel ]]; then
    echo "  removed  $rel"
    rm "$f"
    changed=$((changed + 1))
  fi
done < <(find "$DEST" -type f -print0 | sort -z)
find "$DEST" -mindepth 1 -type d -empty -delete
echo "[regenerate] $changed file(s) changed; $DEST is $(du -sb "$DEST" | cut -f1) bytes ($(du -sh "$DEST" | cut -f1))"
echo "[regenerate] logs: $REPO/$WORK/make_fixtures.log, $REPO/$WORK/compact.log"
