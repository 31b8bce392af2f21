#!/usr/bin/env bash
# A HuggingFace transformers reference ("oracle") on this CPU machine, from Debian packages only.
#
#   bash scripts/hf_parity/oracle_setup.sh DIR   (as root; 3-7 minutes on 2 cores, about 2.3 GB)
#
# DIR/chroot is a Debian sid chroot (debootstrapped as trixie minbase, then moved to sid), where these are packaged:
# python3 3.14, python3-torch 2.14 (CPU), python3-transformers 5.12, python3-safetensors 0.8,
# python3-huggingface-hub 1.23, python3-tokenizers 0.23, numpy, pillow. Nothing is downloaded from anywhere else.
# DIR/oracle.sh runs a command inside it; DIR/teardown.sh removes the bind mounts (run it before deleting DIR).
# Re-running on an existing DIR skips debootstrap (about 10 s). regenerate.sh calls this when DIR has no oracle.sh.
set -euo pipefail

DIR=${1:?usage: oracle_setup.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
C=$DIR/chroot
t0=$(date +%s)
say() { echo "[hf-oracle setup +$(( $(date +%s) - t0 ))s] $*"; }

# The Debian mirror this machine's apt already uses (deb822 "URIs:" first, then a classic "deb" line).
MIRROR=$(awk '$1 == "URIs:" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[[ -n $MIRROR ]] || MIRROR=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[[ -n $MIRROR ]] || { echo "setup.sh: no Debian mirror found in this machine's apt sources" >&2; exit 1; }

if ! command -v debootstrap >/dev/null; then
  say "apt-get install debootstrap (host)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# trixie first: its Release file is valid; sid's may be past Valid-Until on a frozen mirror.
if [[ ! -x $C/usr/bin/apt-get ]]; then
  say "debootstrap trixie minbase -> $C"
  debootstrap --variant=minbase trixie "$C" "$MIRROR" > "$DIR/debootstrap.log" 2>&1
fi

echo "deb $MIRROR sid main" > "$C/etc/apt/sources.list"
rm -f "$C/etc/apt/sources.list.d/"*.list
echo 'Acquire::Check-Valid-Until "false";' > "$C/etc/apt/apt.conf.d/99no-valid-until"
echo 'APT::Install-Recommends "false";' > "$C/etc/apt/apt.conf.d/99norecommends"
cp /etc/resolv.conf "$C/etc/resolv.conf"
mountpoint -q "$C/proc" || mount -t proc proc "$C/proc"
say "apt in the chroot: sid dist-upgrade + torch/transformers (log: $DIR/apt.log)"
{
  chroot "$C" apt-get update
  DEBIAN_FRONTEND=noninteractive chroot "$C" apt-get -y dist-upgrade
  DEBIAN_FRONTEND=noninteractive chroot "$C" apt-get install -y \
    python3-torch python3-transformers python3-safetensors python3-huggingface-hub python3-tokenizers \
    python3-numpy python3-pil python3-regex python3-yaml python3-packaging python3-tqdm python3-filelock
  chroot "$C" apt-get clean
} > "$DIR/apt.log" 2>&1

cat > "$DIR/oracle.sh" <<'EOF'
#!/usr/bin/env bash
# Run a command in the oracle chroot next to this script:   bash oracle.sh [-b PATH[:ro]]... -- CMD ARGS...
# The current directory and each -b PATH are bind-mounted at the same path inside (":ro" = read-only); the command
# starts in the current directory. "/", ancestors of the chroot and paths inside it are never bound.
# Mounts stay until teardown.sh: never delete the chroot folder before running it.
set -euo pipefail
C=$(cd "$(dirname "$0")" && pwd -P)/chroot
binds=("$PWD"); workdir=/
while [[ $# -gt 0 ]]; do
  case "$1" in
    -b) binds+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
mountpoint -q "$C/proc" || mount -t proc proc "$C/proc"
for b in "${binds[@]}"; do
  p=$(cd "${b%:ro}" && pwd -P)
  if [[ $p == / || $C/ == "$p"/* || $p/ == "$C"/* ]]; then
    [[ $b == "$PWD" ]] || echo "oracle.sh: not binding $p (/, an ancestor of the chroot, or inside it)" >&2
    continue
  fi
  mkdir -p "$C$p"
  if ! mountpoint -q "$C$p"; then
    mount --bind "$p" "$C$p"
    if [[ $b == *:ro ]]; then mount -o remount,bind,ro "$C$p"; fi
  fi
  if [[ $b == "$PWD" ]]; then workdir=$p; fi
done
exec chroot "$C" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
  bash -c 'cd "$0" && exec "$@"' "$workdir" "$@"
EOF
cat > "$DIR/teardown.sh" <<'EOF'
#!/usr/bin/env bash
# Unmount every bind/proc mount under the chroot next to this script, deepest first. Run before deleting the folder.
C=$(cd "$(dirname "$0")" && pwd -P)/chroot
grep -o " $C[^ ]*" /proc/mounts | sort -r | while read -r m; do umount "$m" && echo "unmounted $m"; done
EOF
chmod +x "$DIR/oracle.sh" "$DIR/teardown.sh"

say "versions:"
(cd "$DIR" && bash "$DIR/oracle.sh" -- python3 -c '
import sys, torch, transformers, safetensors, huggingface_hub, numpy, PIL
print(" python", sys.version.split()[0], "| torch", torch.__version__, "| transformers", transformers.__version__,
      "| safetensors", safetensors.__version__, "| hub", huggingface_hub.__version__,
      "| numpy", numpy.__version__, "| pillow", PIL.__version__)
from transformers import LlavaForConditionalGeneration, LlavaNextForConditionalGeneration, Qwen2_5_VLForConditionalGeneration
print(" model classes import: ok")')
say "done: bash $DIR/oracle.sh -- python3 ...   (teardown: bash $DIR/teardown.sh)"
