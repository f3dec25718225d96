#!/usr/bin/env bash
# two_host_test.sh job BIN_DIR WORK_DIR
# Two hosts x two ranks: the real job launched by Open MPI's mpirun into two network
# namespaces (tests/multihost/netns.sh; mpirun on aqnode1, its rsh agent rsh_agent.sh
# "logs into" aqnode2 by entering that namespace; ranks talk TCP over the veth pair), for
# jobs/int2_compact.ini and jobs/phase3.ini on a real TinyStories model with 4 layers (so
# that every rank quantizes a layer; the 656k model has 2).  Each result must be
# bit-identical (compare_results.py) to a one-host, one-rank run.  Also checked: ranks 0,1
# ran on aqnode1 and 2,3 on aqnode2, every rank quantized something (/run/bytes), and the
# veth pair carried the traffic.
# Exit 77 (skip) with the reason when namespaces cannot be made here.
set -euo pipefail
test=${1:?usage: two_host_test.sh job BIN_DIR WORK_DIR} bin=$2 work=$3
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
MODEL=${AQ_TEST_MODEL:-$REPO/../shared/models/tinystories-qwen2-4m}
export PATH=$PATH:/usr/sbin:/sbin
export HDF5_PLUGIN_PATH=$bin/plugins

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

why=$("$HERE/netns.sh" check) || {
  echo "$why"
  exit 77
}
[ -d "$MODEL" ] || {
  echo "SKIP: model $MODEL not found"
  exit 77
}
[ "$test" = job ] || fail "unknown test '$test'"
mkdir -p "$work"
work=$(cd "$work" && pwd)
net=$work/netns
# The namespaces go away whatever happens below.
trap '"$HERE/netns.sh" down "$net"' EXIT
"$HERE/netns.sh" up "$net"
# shellcheck source=/dev/null
source "$net/netns.env"

# Open MPI across the two hosts: its rsh launcher with our agent (no tree spawn: mpirun starts
# every remote daemon itself), TCP only (shared memory cannot cross hosts), on the veth.
export AQ_NETNS_DIR=$net AQ_RSH_AGENT_LOG=$work/rsh_agent.log
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck disable=SC2054 # "tcp,self" is one value
TWO_HOSTS=(env OMPI_MCA_plm_rsh_agent="$HERE/rsh_agent.sh" OMPI_MCA_plm_rsh_no_tree_spawn=1
  OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include="$IF" OMPI_MCA_oob_tcp_if_include="$IF")
: >"$AQ_RSH_AGENT_LOG"

# veth counters of aqnode2's end: bytes it sent and received.
counters() { ip netns exec "$NS2" cat "/sys/class/net/$IF/statistics/tx_bytes" "/sys/class/net/$IF/statistics/rx_bytes" | paste -sd ' '; }

for job in int2_compact phase3; do
  ref=$work/${job}_1host.h5 out=$work/${job}_2hosts.h5 placement=$work/${job}_placement.txt
  rm -f "$ref" "$ref.partial" "$out" "$out.partial" "$placement"
  args=(--config "$REPO/jobs/$job.ini" --set model.path="$MODEL" --set run.threads=1)

  t0=$SECONDS
  # One host, one rank, in the machine's own namespace.
  mpirun -n 1 "$bin/aq-mpi" "${args[@]}" --set output.path="$ref" >"$work/${job}_1host.log" 2>&1 ||
    { cat "$work/${job}_1host.log" >&2; fail "one-host run of $job failed"; }
  t1=$SECONDS

  read -r tx0 rx0 <<<"$(counters)"
  # Two hosts x two ranks: mpirun runs on aqnode1, like a user logged into the first node.
  # Every rank records where it runs before it becomes aq-mpi.
  # shellcheck disable=SC2016 # expanded by the rank's shell
  "$HERE/netns.sh" exec "$net" "$HOST1" "${TWO_HOSTS[@]}" mpirun --hostfile "$net/hostfile" -n 4 --map-by slot \
    /bin/sh -c 'echo "$OMPI_COMM_WORLD_RANK $(hostname)" >>"$0"; exec "$@"' "$placement" \
    "$bin/aq-mpi" "${args[@]}" --set output.path="$out" >"$work/${job}_2hosts.log" 2>&1 ||
    { cat "$work/${job}_2hosts.log" >&2; fail "two-host run of $job failed"; }
  t2=$SECONDS
  read -r tx1 rx1 <<<"$(counters)"
  grep -E "wall|summary" "$work/${job}_2hosts.log" | head -n 3 || true

  test -f "$out" || fail "no $out"
  test ! -e "$out.partial" || fail "$out.partial left behind"
  [ "$(sort -n "$placement" | paste -sd ' ')" = "0 $HOST1 1 $HOST1 2 $HOST2 3 $HOST2" ] ||
    fail "ranks not placed 2 per host: $(sort -n "$placement" | paste -sd ' ')"
  grep -q "rsh_agent $HOST2: .*orted" "$AQ_RSH_AGENT_LOG" || fail "mpirun did not start its daemon on $HOST2 through rsh_agent.sh"
  sent=$((tx1 - tx0)) recv=$((rx1 - rx0))
  echo "$job: $HOST2's veth end sent $sent bytes, received $recv bytes during the two-host run"
  if [ "$sent" -le 0 ] || [ "$recv" -le 0 ]; then fail "no traffic over the veth pair"; fi
  $PY -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
assert int(f.attrs['ranks']) == 4, dict(f.attrs)
b = [int(x) for x in f['run/bytes'][()]]
assert len(b) == 4 and min(b) > 0, f'bytes quantized per rank {b}: a rank did nothing'
print('result: 4 ranks, bytes quantized per rank', b)" "$out"
  $PY "$REPO/tests/integration/compare_results.py" "$ref" "$out"
  echo "$job: 1 host x 1 rank $((t1 - t0)) s, 2 hosts x 2 ranks $((t2 - t1)) s: bit-identical"
done
echo "two_host_test $test: ok"
