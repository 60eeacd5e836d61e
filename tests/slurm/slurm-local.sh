#!/bin/bash
# A real one-node Slurm cluster on 127.0.0.1 for guard's tests and benchmarks:
# `slurm-local.sh start DIR [CTLD_PORT SLURMD_PORT]` prints the node name and leaves
# SLURM_CONF=DIR/slurm.conf to be exported; `slurm-local.sh stop DIR` stops what start started,
# by the pids it recorded. Needs Debian's slurmctld, slurmd, slurm-client and munge, which
# .ci/run installs with apt; without them it exits 3 and the tests skip, saying so.
# With HWTUNE_HEALTH_CHECK=PROGRAM in the environment, slurmd runs PROGRAM as its HealthCheckProgram.
set -euo pipefail
cmd=$1; d=$2
if [[ $cmd == stop ]]; then
  for f in slurmd slurmctld munged; do [[ -f $d/$f.pid ]] && kill "$(cat "$d/$f.pid")" 2>/dev/null || true; done
  # wait until they are gone, so that the next start can take the ports
  for f in slurmd slurmctld munged; do
    [[ -f $d/$f.pid ]] || continue
    for _ in $(seq 50); do kill -0 "$(cat "$d/$f.pid")" 2>/dev/null || break; sleep 0.1; done
  done
  exit 0
fi
ctld_port=${3:-16817}; slurmd_port=${4:-16818}
for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sinfo /usr/bin/scontrol; do
  [[ -x $b ]] || { echo "slurm-local: $b is not installed (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 3; }
done
mkdir -p "$d"/{state,spool,log,munge}; chmod 700 "$d/munge"
[[ -f /etc/munge/munge.key ]] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chmod 400 /etc/munge/munge.key; chown munge: /etc/munge/munge.key 2>/dev/null || true; }
chown munge: "$d/munge" 2>/dev/null || true
runuser -u munge -- /usr/sbin/munged --socket="$d/munge/munge.socket" --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/seed" 2>/dev/null \
  || /usr/sbin/munged -f --socket="$d/munge/munge.socket" --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/seed"
sleep 0.5; cp "$d/munge/munged.pid" "$d/munged.pid"
node=$(hostname -s); cpus=$(nproc); mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
cat > "$d/slurm.conf" <<CONF
ClusterName=hwtune-bar
SlurmctldHost=$node(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket
CryptoType=crypto/munge
SlurmUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=all Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
# HWTUNE_HEALTH_CHECK=PROGRAM: slurmd runs it as its HealthCheckProgram, every few seconds
if [[ -n ${HWTUNE_HEALTH_CHECK:-} ]]; then
  printf 'HealthCheckProgram=%s\nHealthCheckInterval=%s\nHealthCheckNodeState=ANY\n' \
    "$HWTUNE_HEALTH_CHECK" "${HWTUNE_HEALTH_CHECK_INTERVAL:-2}" >> "$d/slurm.conf"
fi
export SLURM_CONF=$d/slurm.conf
/usr/sbin/slurmctld -f "$d/slurm.conf"
/usr/sbin/slurmd -f "$d/slurm.conf" -N "$node"
for _ in $(seq 30); do s=$(sinfo -h -n "$node" -o %T 2>/dev/null || true); [[ $s == idle* ]] && break; sleep 1; done
echo "$node"
