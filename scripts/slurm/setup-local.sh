#!/usr/bin/env bash
# Installs and starts a single-node Slurm (Debian's slurm-wlm + munge) on this machine for the Slurm integration
# test (PioFvlm.Tests, category Slurm). Idempotent: packages already installed are not reinstalled, a running
# controller/daemon is left alone. Needs root (CI runs as root). Exits non-zero with the reason when the scheduler
# does not come up; the test then fails with that reason (it never passes without a scheduler).
# Run without systemd (containers): the daemons are started directly.
set -euo pipefail
log() { echo "slurm-setup: $*"; }
fail() { echo "slurm-setup: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "must run as root (apt-get install and daemon start)"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  log "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update"
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null || fail "apt-get install slurm-wlm munge"
fi

host="$(hostname -s)"
cpus=4   # four array tasks run at once on any machine; config_overrides lets the node claim more CPUs than it has
conf_dir=/etc/slurm
mkdir -p "$conf_dir" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge /var/log/munge
chown -R slurm:slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm 2>/dev/null || true
chown -R munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge 2>/dev/null || true

# munge: a key, then the daemon
if [ ! -s /etc/munge/munge.key ]; then
  log "creating the munge key"
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
if ! munge -n >/dev/null 2>&1; then
  log "starting munged"
  su -s /bin/sh munge -c "/usr/sbin/munged --force" || /usr/sbin/munged --force || fail "munged did not start"
  sleep 1
fi
munge -n | unmunge >/dev/null 2>&1 || fail "munge round trip failed (munge -n | unmunge)"

conf="$conf_dir/slurm.conf"
wanted=$(cat <<CONF
# written by PioFvlm scripts/slurm/setup-local.sh: a one-node cluster for the integration test
ClusterName=piofvlm
SlurmctldHost=$host
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
# a killed or requeued task goes quickly: SIGKILL 5 s after SIGTERM, and a requeued job may start again after
# cred_expire seconds (default 120)
KillWait=5
AuthInfo=cred_expire=10
MinJobAge=600
MaxArraySize=1001
SchedulerParameters=defer_batch
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
)
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$wanted" ]; then
  log "writing $conf"
  echo "$wanted" > "$conf"
  # a changed config needs fresh daemons: stop ours and wait until they are gone
  for pidfile in /run/slurmctld.pid /run/slurmd.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  done
fi
# no cgroup.conf: slurmd autodetects cgroup v1/v2 (22.05 has no "disabled" plugin); task/none and
# proctrack/linuxproc keep the jobs out of cgroups

if ! scontrol ping 2>/dev/null | grep -q UP; then
  log "starting slurmctld"
  /usr/sbin/slurmctld || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
fi
if ! { [ -f /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; }; then
  log "starting slurmd"
  /usr/sbin/slurmd || fail "slurmd did not start (see /var/log/slurm/slurmd.log)"
fi

# wait for the node to be idle (at most 60 s)
for _ in $(seq 60); do
  state=$(sinfo -h -n "$host" -o '%t' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mix|alloc) log "node $host is $state; Slurm is ready"; exit 0 ;;
    drain*|down*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 1
done
sinfo -N -l >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 2>/dev/null || true
fail "node $host did not become idle within 60 s (state '${state:-none}')"
