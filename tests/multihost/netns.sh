#!/usr/bin/env bash
# netns.sh check [PATH...] | up DIR | down DIR | exec DIR HOST COMMAND...
#
# Two "hosts" on this machine for the multi-host tests: two Linux network namespaces joined by
# a veth pair, each with its own loopback, its own address in a private test subnet that
# exists ONLY inside the two namespaces (10.77.0.1/24 and 10.77.0.2/24, no route anywhere
# else: traffic cannot leave the pair), and its own host name (a UTS namespace per command,
# see exec).  The file system, users and processes are shared, as on a cluster with a shared
# file system, except /tmp: each host has its own (DIR/tmp/HOST), as on a cluster, where
# Open MPI's and Slurm's PMIx session files in /tmp are node-local (they collide when two
# hosts share one /tmp).  Hence DIR itself must not be under /tmp.
#
#   check   exit 0 if namespaces can be made here, else print why and exit 77 (CTest skip);
#           also 77 when a PATH the hosts must share (work dir, binaries) is under /tmp.
#   up      create the namespaces and the veth pair; write DIR/netns.env (names, addresses)
#           and DIR/hostfile (Open MPI: "aqnode1 slots=2", "aqnode2 slots=2").  Each
#           namespace resolves both host names (/etc/netns/<ns>/hosts, bound over /etc/hosts
#           by exec and by `ip netns exec`; removed by down).
#   down    delete exactly the namespaces and files recorded in DIR/netns.env.
#   exec    run COMMAND in HOST's namespace (HOST = aqnode1 | aqnode2 | 1 | 2), with the host
#           name set to HOST, DIR's host names in /etc/hosts and HOST's own /tmp (private UTS
#           and mount namespaces); environment, working directory and the rest kept.
#
# Environment: AQ_NETNS_SUBNET (first three octets, default 10.77.0), AQ_NETNS_SLOTS (slots
# per host in DIR/hostfile, default 2).  Namespace names carry a hash of DIR, so runs with
# different DIRs do not collide.  Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin
HOSTS=(aqnode1 aqnode2)

die() {
  echo "netns: error: $*" >&2
  exit 1
}

check() {
  local p
  for p in "$@"; do # every host has its own /tmp: what lies there is not shared
    case $(readlink -m "$p")/ in
      /tmp/*)
        echo "SKIP: $p is under /tmp, which every test host replaces by its own; run the tests from a checkout and build outside /tmp"
        return 77
        ;;
    esac
  done
  if [ "$EUID" -ne 0 ]; then
    echo "SKIP: network namespaces need root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"
    return 77
  fi
  local b
  for b in ip nsenter unshare hostname mount; do
    command -v "$b" >/dev/null 2>&1 || {
      echo "SKIP: '$b' not found (apt-get install iproute2 util-linux hostname)"
      return 77
    }
  done
  # The only reliable test: make one (and a veth in it) and delete it again.
  local probe=aqprobe$$ err
  if ! err=$(ip netns add "$probe" 2>&1); then
    echo "SKIP: cannot create a network namespace ('ip netns add': $err)"
    return 77
  fi
  if ! err=$(ip -n "$probe" link add aqp0 type veth peer name aqp1 2>&1); then
    ip netns del "$probe" 2>/dev/null || true
    echo "SKIP: cannot create a veth pair in a network namespace ($err)"
    return 77
  fi
  if ! err=$(nsenter --net="/run/netns/$probe" unshare --uts --mount hostname aqprobe 2>&1); then
    ip netns del "$probe" 2>/dev/null || true
    echo "SKIP: cannot enter a network + UTS namespace ($err)"
    return 77
  fi
  ip netns del "$probe"
  return 0
}

# Loads DIR/netns.env (written by up).
load() {
  [ -f "$1/netns.env" ] || die "$1/netns.env missing (run: netns.sh up $1)"
  # shellcheck source=/dev/null
  source "$1/netns.env"
}

# reachable NS ADDR: a TCP connection from NS to ADDR port 9 (discard; nothing listens) is
# refused at once, or accepted: either way ADDR answered.
reachable() {
  local out
  out=$(ip netns exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1) && return 0
  [[ $out == *refused* ]]
}

up() {
  local dir=$1 net=${AQ_NETNS_SUBNET:-10.77.0} slots=${AQ_NETNS_SLOTS:-2} tag i
  check || exit $?
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  case $dir/ in
    /tmp/*) die "DIR $dir is under /tmp, which every host replaces by its own: use another directory" ;;
  esac
  [ ! -f "$dir/netns.env" ] || down "$dir"
  tag=$(printf '%s' "$dir" | sha1sum | cut -c1-8)
  local ns=("aq$tag-1" "aq$tag-2") addr=("$net.1" "$net.2")
  cat >"$dir/netns.env" <<EOT
# Written by tests/multihost/netns.sh up; read by netns.sh down/exec and the tests.
DIR=$dir
NS1=${ns[0]}
NS2=${ns[1]}
HOST1=${HOSTS[0]}
HOST2=${HOSTS[1]}
ADDR1=${addr[0]}
ADDR2=${addr[1]}
SUBNET=$net.0/24
IF=aq0
EOT
  for i in 0 1; do
    mkdir -p "$dir/tmp/${HOSTS[i]}"
    chmod 1777 "$dir/tmp/${HOSTS[i]}"
    ip netns add "${ns[i]}"
    ip -n "${ns[i]}" link set lo up
    mkdir -p "/etc/netns/${ns[i]}"
    printf '127.0.0.1 localhost\n%s %s\n%s %s\n' "${addr[0]}" "${HOSTS[0]}" "${addr[1]}" "${HOSTS[1]}" \
      >"/etc/netns/${ns[i]}/hosts"
  done
  # Both ends are created directly inside the namespaces: nothing appears in the host's own
  # network namespace, not even for a moment.
  ip link add aq0 netns "${ns[0]}" type veth peer name aq0 netns "${ns[1]}"
  for i in 0 1; do
    ip -n "${ns[i]}" addr add "${addr[i]}/24" dev aq0
    ip -n "${ns[i]}" link set aq0 up
  done
  : >"$dir/hostfile"
  for i in 0 1; do echo "${HOSTS[i]} slots=$slots" >>"$dir/hostfile"; done
  # The link needs a moment to come up.  Reachable = a TCP connect to a closed port of the
  # other end is refused (an RST came back) rather than timing out (no ping needed).
  for i in $(seq 50); do
    reachable "${ns[0]}" "${addr[1]}" && reachable "${ns[1]}" "${addr[0]}" && break
    [ "$i" -lt 50 ] || die "${addr[0]} and ${addr[1]} cannot reach each other over the veth pair"
    sleep 0.1
  done
  echo "netns: up: ${HOSTS[0]} = ns ${ns[0]} (${addr[0]}), ${HOSTS[1]} = ns ${ns[1]} (${addr[1]}); hostfile $dir/hostfile"
}

down() {
  local dir=$1 ns
  [ -f "$dir/netns.env" ] || {
    echo "netns: down: nothing recorded in $dir/netns.env"
    return 0
  }
  load "$dir"
  for ns in "$NS1" "$NS2"; do
    # Processes still inside keep a namespace alive after its name is deleted: report them.
    local left
    left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
    [ -z "${left// /}" ] || echo "netns: down: note: processes still in $ns: $left"
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/${ns:?}"
  done
  rm -f "$dir/netns.env" "$dir/hostfile"
  # Each host's /tmp (Open MPI and PMIx session files of finished runs).
  rm -rf "${dir:?}/tmp"
  echo "netns: down: deleted $NS1 $NS2"
}

# ns_of HOST: the namespace of a host name (or 1/2, or its address).  Variables from load.
# shellcheck disable=SC2153
ns_of() {
  case $1 in
    "$HOST1" | 1 | "$ADDR1") echo "$NS1" ;;
    "$HOST2" | 2 | "$ADDR2") echo "$NS2" ;;
    *) die "unknown host '$1' (hosts: $HOST1 $HOST2)" ;;
  esac
}

host_of() {
  case $1 in
    "$HOST1" | 1 | "$ADDR1") echo "$HOST1" ;;
    *) echo "$HOST2" ;;
  esac
}

exec_in() {
  local dir=$1 host=$2 ns name
  shift 2
  load "$dir"
  ns=$(ns_of "$host")
  name=$(host_of "$host")
  # Not `ip netns exec`: it mounts a new /sys, without /sys/fs/cgroup, which slurmd needs.
  # nsenter enters the network namespace only; unshare gives the command its own host name
  # and a private mount namespace for the /etc/hosts and /tmp bindings.  All of them exec
  # (no fork), so the command keeps the pid of this script.
  # shellcheck disable=SC2016 # $0, $1, $2 and $@ belong to the inner shell
  exec nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation private -- /bin/sh -c \
    'mount --bind "$1" /etc/hosts && mount --bind "$2" /tmp && hostname "$0" && shift 2 && exec "$@"' \
    "$name" "/etc/netns/$ns/hosts" "$DIR/tmp/$name" "$@"
}

cmd=${1:-}
case $cmd in
  check) shift; check "$@" ;;
  up) up "${2:?usage: netns.sh up DIR}" ;;
  down) down "${2:?usage: netns.sh down DIR}" ;;
  exec)
    [ $# -ge 4 ] || die "usage: netns.sh exec DIR HOST COMMAND..."
    shift
    exec_in "$@"
    ;;
  *)
    sed -n '2p' "$0" >&2
    exit 2
    ;;
esac
