#!/usr/bin/env bash
# local_cluster.sh up|down|status|check DIR
#
# A real single-node Slurm cluster on this host, from Debian's packages (slurm-wlm, munge), for
# the tests in this directory.  Everything lives under DIR (slurm.conf, state, spool, logs,
# pid list); nothing under /etc/slurm is touched.  Clients find the cluster with
#     export SLURM_CONF=DIR/slurm.conf
#
# Two-node mode (AQ_SLURM_NODES=2 at `up`; remembered in DIR for the other commands): two
# "hosts" made of network namespaces (tests/multihost/netns.sh, in DIR/netns), slurmctld and
# slurmd -N aqnode1 in the first, slurmd -N aqnode2 in the second, each with its own address
# (10.77.0.1, .2, reachable only between the two namespaces) and host name; munge's socket is
# a file, shared by both.  Clients in the machine's own namespace cannot reach slurmctld
# there: `up` writes DIR/bin/{sbatch,scontrol,...}, which run the real commands on aqnode1;
#     export SLURM_CONF=DIR/slurm.conf PATH=DIR/bin:$PATH
#
#   up      generate DIR/slurm.conf for this host (`slurmd -C`), start munged (unless one
#           already answers on /run/munge), slurmctld and slurmd in the foreground under
#           our control, and wait until the node is idle.  Records the pids it started in
#           DIR/pids.
#   down    cancel the cluster's jobs, wait for them to end, then stop exactly the pids in
#           DIR/pids (SIGTERM, SIGKILL after 15 s).  Other Slurm or munge processes on the
#           host are left alone.
#   status  sinfo/squeue of the cluster.
#   check   exit 0 if this host can run the cluster, else print why and exit 77 (CTest skip).
#
# Needs root (slurmd runs jobs as their user; SlurmdUser=root) and Debian bookworm's
# slurm-wlm + munge (apt-get install slurm-wlm munge).  Environment: AQ_SLURM_PORT (slurmctld
# port, default 6817; slurmd uses the next one), AQ_SLURM_CPUS (CPUs the node advertises,
# default the real count; more than the real count is accepted via config_overrides so the
# scaling test can use a 2x2 grid on 2 cores), AQ_SLURM_NODES (1 or 2, see above).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  sed -n '2,3p' "$0" >&2
  exit 2
fi

log() { echo "local_cluster: $*"; }
die() {
  echo "local_cluster: error: $*" >&2
  exit 1
}

check() {
  local missing=()
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the local Slurm cluster needs root (slurmd runs as root)"
    return 77
  fi
  for b in slurmctld slurmd munged mungekey sbatch scontrol squeue scancel sinfo; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "SKIP: Slurm/munge programs missing (${missing[*]}): apt-get install slurm-wlm munge"
    return 77
  fi
  if [ "$nodes" = 2 ]; then
    "$netns" check || return $?
  fi
  return 0
}

export PATH=$PATH:/usr/sbin:/sbin
conf=$dir/slurm.conf
pids=$dir/pids
netns=$(cd "$(dirname "$0")/../multihost" && pwd)/netns.sh
net=$dir/netns
# The mode chosen at `up` holds until `down`.
if [ -f "$dir/nodes" ]; then
  nodes=$(cat "$dir/nodes")
else
  nodes=${AQ_SLURM_NODES:-1}
fi
case $nodes in
  1 | 2) ;;
  *) die "AQ_SLURM_NODES=$nodes: 1 or 2" ;;
esac
[ "$nodes" = 1 ] || export PATH=$dir/bin:$PATH

# node_names: the cluster's node names, one a line.
node_names() {
  if [ "$nodes" = 2 ]; then
    printf 'aqnode1\naqnode2\n'
  else
    hostname -s
  fi
}

# Client commands for the machine's own namespace, run on aqnode1 (where slurmctld listens).
# Inside a node's namespace (a job, srun) they are the real commands.
write_client_wrappers() {
  local c real
  mkdir -p "$dir/bin"
  for c in sbatch scontrol squeue scancel sinfo srun salloc sacct sstat; do
    real=$(command -v "$c") || continue
    cat >"$dir/bin/$c" <<EOW
#!/bin/sh
# Written by tests/slurm/local_cluster.sh (two-node mode): $c on aqnode1.
. "$net/netns.env"
case "\$(ip netns identify 2>/dev/null)" in
  "\$NS1" | "\$NS2") exec "$real" "\$@" ;;
esac
exec "$netns" exec "$net" aqnode1 "$real" "\$@"
EOW
    chmod +x "$dir/bin/$c"
  done
}

# Waits until "$@" succeeds, at most $1 seconds.
wait_for() {
  local t=$1
  shift
  local i
  for ((i = 0; i < t * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}

alive() { kill -0 "$1" 2>/dev/null; }

start_munge() {
  # A munged that already answers on the default socket (system service, or an earlier run)
  # is used as is and not stopped by `down`.
  if [ -S /run/munge/munge.socket.2 ] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "munge: using the running munged (/run/munge/munge.socket.2)"
    return
  fi
  local user=root
  id munge >/dev/null 2>&1 && user=munge
  mkdir -p /run/munge /var/lib/munge /var/log/munge /etc/munge
  chown "$user:" /run/munge /var/lib/munge /var/log/munge /etc/munge
  chmod 0755 /run/munge
  chmod 0700 /var/lib/munge /var/log/munge /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    log "munge: creating /etc/munge/munge.key"
    mungekey --create --keyfile=/etc/munge/munge.key
  fi
  chown "$user:" /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  # -F: foreground, and setpriv execs, so $! is munged itself and `down` can stop exactly it.
  if [ "$user" = root ]; then
    setsid munged -F >"$dir/log/munged.out" 2>&1 </dev/null &
  else
    setsid setpriv --reuid=munge --regid=munge --init-groups munged -F >"$dir/log/munged.out" 2>&1 </dev/null &
  fi
  local pid=$!
  echo "munged $pid" >>"$pids"
  wait_for 20 bash -c 'munge -n | unmunge' || {
    cat "$dir/log/munged.out" >&2
    die "munged did not come up"
  }
  log "munge: started munged (pid $pid)"
}

write_conf() {
  local host node_line cpus port ctld nodelist partition_nodes spool=$dir/spool slurmd_files=slurmd
  host=$(hostname -s)
  port=${AQ_SLURM_PORT:-6817}
  # First line of `slurmd -C`: "NodeName=<host> CPUs=.. Boards=.. SocketsPerBoard=.. ...".
  node_line=$(slurmd -C | head -n 1)
  [[ $node_line == NodeName=* ]] || die "unexpected 'slurmd -C' output: $node_line"
  if [ -n "${AQ_SLURM_CPUS:-}" ]; then
    cpus=$AQ_SLURM_CPUS
    node_line="NodeName=$host CPUs=$cpus RealMemory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")"
  fi
  if [ "$nodes" = 2 ]; then
    # shellcheck source=/dev/null
    source "$net/netns.env"
    ctld="$HOST1($ADDR1)"
    # The same hardware line for both nodes, each with its own address; per-node (%n) slurmd
    # spool, pid and log files.
    nodelist="${node_line/NodeName=$host /NodeName=$HOST1 NodeAddr=$ADDR1 } State=UNKNOWN
${node_line/NodeName=$host /NodeName=$HOST2 NodeAddr=$ADDR2 } State=UNKNOWN"
    partition_nodes="$HOST1,$HOST2"
    spool=$dir/spool/%n
    slurmd_files=slurmd-%n
    host="$HOST1 and $HOST2 (network namespaces $NS1, $NS2)"
  else
    ctld=$host
    nodelist="$node_line State=UNKNOWN"
    partition_nodes=$host
  fi
  cat >"$conf" <<EOF
# Generated by tests/slurm/local_cluster.sh for a $nodes-node test cluster on $host.
ClusterName=aqtest
SlurmctldHost=$ctld
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job may start again only after the job credential expired (default 120 s).
AuthInfo=cred_expire=${AQ_SLURM_CRED_EXPIRE:-5}
CryptoType=crypto/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/$slurmd_files.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/$slurmd_files.log
SlurmctldDebug=info
MailProg=/bin/true
SlurmdDebug=info
# No cgroups in a container: track processes by parent pid, no task binding by Slurm.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
SchedulerType=sched/backfill
# Short scheduling passes, so a requeued job starts soon after its credential expired.
SchedulerParameters=sched_interval=2,bf_interval=2
MpiDefault=none
# No slurmdbd: sacct does not work; job state comes from scontrol (MinJobAge keeps finished
# jobs in slurmctld's memory for an hour) and one line per finished job goes to jobcomp.txt.
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MinJobAge=3600
# Job ids differ between runs of the cluster, so job logs named by id never collide.
FirstJobId=$(($(date +%s) % 60000000 + 1))
KillWait=30
InactiveLimit=0
SlurmdTimeout=300
$nodelist
PartitionName=debug Nodes=$partition_nodes Default=YES MaxTime=INFINITE State=UP
EOF
}

nodes_idle() {
  local n s
  for n in $(node_names); do
    s=$(sinfo -h -N -n "$n" -o %T 2>/dev/null)
    [ "$s" = idle ] || return 1
  done
}

# start NAME NODE ARGS...: starts daemon NAME on NODE in the foreground of a new session and
# records its pid.  In two-node mode netns.sh, ip netns exec, unshare and sh all exec, so
# the pid is the daemon's own.
start() {
  local name=$1 node=$2 on=()
  shift 2
  [ "$nodes" = 1 ] || on=("$netns" exec "$net" "$node")
  setsid "${on[@]}" "$name" "$@" >"$dir/log/$name${on:+-$node}.out" 2>&1 </dev/null &
  echo "$name $!" >>"$pids"
}

up() {
  check || exit $?
  if [ -f "$pids" ]; then
    log "up: stopping the cluster an earlier run left in $dir"
    down
  fi
  local port=${AQ_SLURM_PORT:-6817} n first
  # (two-node mode: the namespaces are new, nothing listens there)
  if [ "$nodes" = 1 ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use (another slurmctld?): set AQ_SLURM_PORT"
  fi
  rm -rf "$dir/state" "$dir/spool" "$dir/log" "${dir:?}/bin" "$pids"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  : >"$pids"
  echo "$nodes" >"$dir/nodes"
  if [ "$nodes" = 2 ]; then
    "$netns" up "$net"
    write_client_wrappers
    mkdir -p "$dir/spool/aqnode1" "$dir/spool/aqnode2"
  fi
  write_conf
  export SLURM_CONF=$conf
  start_munge
  first=$(node_names | head -n 1)
  # -D: foreground (our pid is the daemon's); -c: cold start, no state from earlier runs.
  start slurmctld "$first" -D -c -i -f "$conf"
  wait_for 30 scontrol ping || {
    tail -n 20 "$dir/log/slurmctld.log" "$dir"/log/slurmctld*.out >&2 || true
    down_all
    die "slurmctld did not answer 'scontrol ping' within 30 s"
  }
  for n in $(node_names); do
    start slurmd "$n" -D -N "$n" -f "$conf"
  done
  wait_for 60 nodes_idle || {
    sinfo -N -l >&2 || true
    tail -n 20 "$dir"/log/slurmd*.log "$dir"/log/slurmd*.out >&2 || true
    down_all
    die "node(s) $(node_names | paste -sd ' ') not idle within 60 s"
  }
  log "up: node(s) $(node_names | paste -sd ' ') idle; pids: $(tr '\n' ' ' <"$pids")"
  if [ "$nodes" = 2 ]; then
    log "use: export SLURM_CONF=$conf PATH=$dir/bin:\$PATH"
  else
    log "use: export SLURM_CONF=$conf"
  fi
}

# Stops the recorded pids in reverse start order: slurmd, slurmctld, munged.
down_pids() {
  [ -f "$pids" ] || return 0
  local name pid i
  tac "$pids" | while read -r name pid; do
    # Only a live process with the recorded name (a pid may have been reused since).
    if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 60; i++)); do
        alive "$pid" || break
        sleep 0.25
      done
      if alive "$pid"; then
        log "$name (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      log "stopped $name (pid $pid)"
    fi
  done
  rm -f "$pids"
}

# down_all: the daemons and, in two-node mode, the namespaces (after a failed `up`).
down_all() {
  down_pids
  [ "$nodes" = 1 ] || "$netns" down "$net"
}

no_jobs() { [ -z "$(squeue -h -o %i)" ]; }

down() {
  [ -f "$pids" ] || {
    log "down: nothing recorded in $pids"
    return 0
  }
  export SLURM_CONF=$conf
  if scontrol ping >/dev/null 2>&1; then
    local jobs
    jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      log "down: cancelling jobs $jobs"
      # shellcheck disable=SC2086 # a list of job ids
      scancel $jobs || true
      wait_for 60 no_jobs || log "down: jobs still listed after 60 s"
    fi
  fi
  down_pids
  # Job steps (slurmstepd) are not ours to kill; report any that outlived the cluster.
  local left
  left=$(pgrep -x slurmstepd 2>/dev/null | tr '\n' ' ' || true)
  [ -z "$left" ] || log "down: note: slurmstepd processes still present: $left"
  if [ "$nodes" = 2 ]; then
    "$netns" down "$net"
    rm -rf "${dir:?}/bin"
  fi
  rm -f "$dir/nodes"
  log "down: done"
}

case $cmd in
  up) up ;;
  down) down ;;
  status)
    export SLURM_CONF=$conf
    sinfo
    squeue
    ;;
  check) check ;;
  *)
    echo "local_cluster: unknown command '$cmd' (up|down|status|check)" >&2
    exit 2
    ;;
esac
