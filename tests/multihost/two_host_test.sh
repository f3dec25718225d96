#!/usr/bin/env bash
# two_host_test.sh job|slurm BIN_DIR WORK_DIR
# Two hosts on one machine: two network namespaces joined by a veth pair
# (tests/multihost/netns.sh; hosts aqnode1 and aqnode2, TCP between them, shared file system,
# node-local /tmp).  WORK_DIR must not be under /tmp.
#
#   job    Open MPI's mpirun on aqnode1 launches 2 ranks on each host (its rsh agent,
#          rsh_agent.sh, "logs into" aqnode2 by entering its namespace; TCP only) with
#          jobs/int2_compact.ini and jobs/phase3.ini on a real TinyStories model with 4 layers
#          (so that every rank quantizes a layer; the 656k model has 2).  Each result must be
#          bit-identical (compare_results.py) to a one-host, one-rank run.  Also checked: ranks
#          0,1 ran on aqnode1 and 2,3 on aqnode2, every rank quantized something (/run/bytes),
#          and the veth pair carried the traffic.  Then GPTQ with down_proj's row blocks sharing
#          one factorization that crosses the hosts (docs/SCALING.md 5f), bit-identical.
#   slurm  the local Slurm cluster in two-node mode (tests/slurm/local_cluster.sh,
#          AQ_SLURM_NODES=2: slurmctld + slurmd on aqnode1, slurmd on aqnode2) runs
#          slurm/dream7b_int2.sh with --nodes=2 --ntasks=4: once through srun (PMIx), once
#          through mpirun, interrupted by SIGUSR1 mid-run (what --signal=B:USR1@300 sends) so
#          that the job requeues itself and resumes.  Both results must be bit-identical to
#          a --nodes=1 run of the same script; both jobs must have run a step on aqnode2.
# Exit 77 (skip) with the reason when namespaces (or, for slurm, the cluster) cannot be made.
set -euo pipefail
test=${1:?usage: two_host_test.sh job|slurm BIN_DIR WORK_DIR} bin=$2 work=$3
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
export PATH=$PATH:/usr/sbin:/sbin
export HDF5_PLUGIN_PATH=$bin/plugins
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A signal (CTest's timeout, ^C) ends the script through exit, so the EXIT trap cleans up.
trap 'exit 143' TERM
trap 'exit 130' INT

why=$("$HERE/netns.sh" check "$work" "$bin" "$REPO") || {
  echo "$why"
  exit 77
}
mkdir -p "$work"
work=$(cd "$work" && pwd -P)

# ranks_busy FILE N: the result was written by N ranks and every one quantized something.
ranks_busy() {
  $PY -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
n = int(sys.argv[2])
assert int(f.attrs['ranks']) == n, dict(f.attrs)
b = [int(x) for x in f['run/bytes'][()]]
assert len(b) == n and min(b) > 0, f'bytes quantized per rank {b}: a rank did nothing'
print(f'{sys.argv[1]}: {n} ranks, bytes quantized per rank', b)" "$1" "$2"
}

two_host_job() {
  local model=${AQ_TEST_MODEL:-$REPO/../shared/models/tinystories-qwen2-4m}
  local net=$work/netns job ref out placement args t0 t1 t2 tx0 rx0 tx1 rx1 sent recv
  [ -d "$model" ] || {
    echo "SKIP: model $model not found"
    exit 77
  }
  # The namespaces go away whatever happens below.
  # shellcheck disable=SC2064 # expanded now: $net is local to this function
  trap "$(printf '%q ' "$HERE/netns.sh" down "$net")" EXIT
  "$HERE/netns.sh" up "$net"
  # shellcheck source=/dev/null
  source "$net/netns.env"

  # Open MPI across the two hosts: its rsh launcher with our agent (no tree spawn: mpirun
  # starts every remote daemon itself), TCP only (shared memory cannot cross hosts), on the
  # veth.  mpirun passes AQ_NETNS_DIR on to the agent.
  export AQ_NETNS_DIR=$net AQ_RSH_AGENT_LOG=$work/rsh_agent.log
  # shellcheck disable=SC2054 # "tcp,self" is one value
  local two_hosts=(env OMPI_MCA_plm_rsh_agent="$HERE/rsh_agent.sh" OMPI_MCA_plm_rsh_no_tree_spawn=1
    OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include="$IF" OMPI_MCA_oob_tcp_if_include="$IF")
  : >"$AQ_RSH_AGENT_LOG"

  # veth counters of aqnode2's end: bytes it sent and received.
  counters() {
    ip netns exec "$NS2" cat "/sys/class/net/$IF/statistics/tx_bytes" "/sys/class/net/$IF/statistics/rx_bytes" |
      paste -sd ' '
  }

  for job in int2_compact phase3; do
    ref=$work/${job}_1host.h5 out=$work/${job}_2hosts.h5 placement=$work/${job}_placement.txt
    rm -f "$ref" "$ref.partial" "$out" "$out.partial" "$placement"
    args=(--config "$REPO/jobs/$job.ini" --set model.path="$model" --set run.threads=1)

    t0=$SECONDS
    # One host, one rank, in the machine's own namespace.
    mpirun -n 1 "$bin/aq-mpi" "${args[@]}" --set output.path="$ref" >"$work/${job}_1host.log" 2>&1 ||
      { cat "$work/${job}_1host.log" >&2; fail "one-host run of $job failed"; }
    t1=$SECONDS

    read -r tx0 rx0 <<<"$(counters)"
    # Two hosts x two ranks: mpirun runs on aqnode1, like a user logged into the first node.
    # Every rank records where it runs before it becomes aq-mpi.
    # shellcheck disable=SC2016 # expanded by the rank's shell
    "$HERE/netns.sh" exec "$net" "$HOST1" "${two_hosts[@]}" mpirun --hostfile "$net/hostfile" -n 4 --map-by slot \
      /bin/sh -c 'echo "$OMPI_COMM_WORLD_RANK $(hostname)" >>"$0"; exec "$@"' "$placement" \
      "$bin/aq-mpi" "${args[@]}" --set output.path="$out" >"$work/${job}_2hosts.log" 2>&1 ||
      { cat "$work/${job}_2hosts.log" >&2; fail "two-host run of $job failed"; }
    t2=$SECONDS
    read -r tx1 rx1 <<<"$(counters)"

    test -f "$out" || fail "no $out"
    test ! -e "$out.partial" || fail "$out.partial left behind"
    [ "$(sort -n "$placement" | paste -sd ' ')" = "0 $HOST1 1 $HOST1 2 $HOST2 3 $HOST2" ] ||
      fail "ranks not placed 2 per host: $(sort -n "$placement" | paste -sd ' ')"
    grep -q "rsh_agent $HOST2: .*orted" "$AQ_RSH_AGENT_LOG" ||
      fail "mpirun did not start its daemon on $HOST2 through rsh_agent.sh"
    sent=$((tx1 - tx0)) recv=$((rx1 - rx0))
    echo "$job: ranks 0,1 on $HOST1, 2,3 on $HOST2; $HOST2's veth end sent $sent bytes, received $recv bytes"
    if [ "$sent" -le 0 ] || [ "$recv" -le 0 ]; then fail "no traffic over the veth pair"; fi
    ranks_busy "$out" 4
    $PY "$REPO/tests/integration/compare_results.py" "$ref" "$out"
    echo "$job: 1 host x 1 rank $((t1 - t0)) s, 2 hosts x 2 ranks $((t2 - t1)) s: bit-identical"
  done
  two_host_gptq "$net" two_hosts
}

# GPTQ with down_proj's row blocks sharing one factorization (docs/SCALING.md 5f): the
# factorization crosses hosts over TCP; 4 KiB chunks (test hook) so that the small model's
# down_proj can be cut; bit-identical to one host, one rank.
two_host_gptq() {
  local net=$1 model=${AQ_TEST_MODEL:-$REPO/../shared/models/tinystories-qwen2-4m}
  local -n hosts_env=$2
  local g=$work/gptq args cross
  mkdir -p "$g"
  export AQ_TEST_CHUNK_BYTES=4096
  mpirun -n 1 "$bin/aq-calib" --model "$model" --sequences 4 --length 32 --timesteps 8 --hessian \
    --out "$g/h.h5" >"$g/calib.log" 2>&1 || { cat "$g/calib.log" >&2; fail "aq-calib --hessian"; }
  args=(--config "$REPO/jobs/baseline.ini" --set model.path="$model" --set run.threads=1
    --set quant.bits=4 --set quant.group_size=64 --set quant.embeddings=true
    --set calib.missing=skip --set quant.gptq=true --set calib.path="$g/h.h5")
  "$bin/aq-mpi" "${args[@]}" --dry-run --ranks 4 >"$g/dry.log"
  # a receiving block on one host whose factorization comes from the other (ranks 0,1 | 2,3)
  cross=$(sed -n 's/.*-> rank \([0-9]*\)  (GPTQ factorization from rank \([0-9]*\)).*/\1 \2/p' \
    "$g/dry.log" | awk 'int($1 / 2) != int($2 / 2)' | wc -l)
  [ "$cross" -ge 1 ] || { cat "$g/dry.log" >&2; fail "no shared factorization crosses the hosts"; }
  mpirun -n 1 -x AQ_TEST_CHUNK_BYTES "$bin/aq-mpi" "${args[@]}" --set output.path="$g/1host.h5" \
    >"$g/1host.log" 2>&1 || { cat "$g/1host.log" >&2; fail "one-host GPTQ run failed"; }
  "$HERE/netns.sh" exec "$net" "$HOST1" "${hosts_env[@]}" mpirun --hostfile "$net/hostfile" -n 4 \
    --map-by slot -x AQ_TEST_CHUNK_BYTES "$bin/aq-mpi" "${args[@]}" --set output.path="$g/2hosts.h5" \
    --set run.trace="$g/tr" >"$g/2hosts.log" 2>&1 ||
    { cat "$g/2hosts.log" >&2; fail "two-host GPTQ run failed"; }
  [ "$(cat "$g"/tr.*.tsv | awk -F'\t' '$2 == "factor_received"' | wc -l)" -ge "$cross" ] ||
    fail "fewer factorizations received than the plan sends across"
  $PY "$REPO/tests/integration/compare_results.py" "$g/1host.h5" "$g/2hosts.h5"
  echo "gptq: $cross shared factorization(s) sent across the hosts over TCP: bit-identical"
}

two_host_slurm() {
  local cluster=$work/cluster id id2 ref two req log n
  # 2 CPUs per node whatever this machine has (config_overrides): 2 ranks x 1 thread each.
  local lc=(env AQ_SLURM_NODES=2 AQ_SLURM_CPUS="${AQ_SLURM_CPUS:-2}" "$REPO/tests/slurm/local_cluster.sh")
  why=$("${lc[@]}" check "$cluster") || {
    echo "$why"
    exit 77
  }
  # shellcheck source=tests/slurm/lib.sh
  source "$REPO/tests/slurm/lib.sh"
  # shellcheck disable=SC2064 # expanded now: lc and cluster are local to this function
  trap "$(printf '%q ' "${lc[@]}" down "$cluster")" EXIT
  "${lc[@]}" up "$cluster"
  export SLURM_CONF=$cluster/slurm.conf PATH=$cluster/bin:$PATH AQ_BIN=$bin
  cd "$REPO" # the script is submitted from the repository root, as users do
  rm -f "$work"/aq-*.out "$work"/aq-*.err # logs of earlier runs
  sinfo -N

  # 12 layers (147 tensors), 60 ms per tensor (aq-mpi test hook): the interruption lands
  # mid-run whatever the kernel speed.  Kept between runs (the comparisons are within a run).
  local model=$work/tiny12
  [ -f "$model/config.json" ] || "$bin/aq-synth" --preset tiny --layers 12 --out "$model" --seed 12 >/dev/null
  submit() { # NAME OUT [sbatch options]: echo the job id
    local name=$1 out=$2
    shift 2
    rm -f "$out" "$out.partial"
    AQ_TEST_TENSOR_DELAY_MS=60 AQ_MODEL=$model AQ_OUTPUT=$out sbatch --parsable --job-name="$name" \
      --cpus-per-task=1 --mem=1G --time=10 --output="$work/%x-%j.out" --error="$work/%x-%j.err" \
      "$@" slurm/dream7b_int2.sh
  }
  # on_node2 ID: the job ran a step on aqnode2 (its slurmd launched tasks of it).
  on_node2() {
    grep -q "launch task StepId=$1\." "$cluster/log/slurmd-aqnode2.log" ||
      fail "job $1 launched no task on aqnode2 (log/slurmd-aqnode2.log)"
  }
  local nodes2=(--nodes=2 --ntasks=4 --ntasks-per-node=2)

  # One node: the reference.
  ref=$work/one_node.h5
  id=$(submit aq-one "$ref" --nodes=1 --ntasks=2)
  wait_job "$id" COMPLETED 300
  grep -q "on aqnode1: 2 ranks x 1 threads" "$work/aq-one-$id.out" || fail "job $id: not on aqnode1 alone"

  # Two nodes through srun (the script's default launcher when srun offers PMIx).
  two=$work/two_nodes.h5
  id=$(submit aq-two "$two" "${nodes2[@]}")
  wait_job "$id" COMPLETED 300
  log=$work/aq-two-$id
  grep -v '^\[ *[0-9]*/' "$log.out"
  grep -q "on aqnode\[1-2\]: 4 ranks x 1 threads, launcher srun" "$log.out" || fail "job $id: not 4 ranks over aqnode[1-2] with srun"
  on_node2 "$id"
  ranks_busy "$two" 4
  $PY "$REPO/tests/integration/compare_results.py" "$ref" "$two"

  # Two nodes through mpirun, SIGUSR1 to the batch shell mid-run: requeue, resume.
  req=$work/two_nodes_requeue.h5
  id2=$(AQ_LAUNCHER=mpirun submit aq-req "$req" "${nodes2[@]}")
  log=$work/aq-req-$id2
  wait_tensors() {
    local t0=$SECONDS
    until [ "$(tensors_done "$1" 2>/dev/null || echo 0)" -ge "$2" ] 2>/dev/null; do
      ((SECONDS - t0 < 120)) || fail "fewer than $2 tensors in $1 after 120 s"
      sleep 0.05
    done
  }
  wait_tensors "$log.out" 20
  scancel --batch --signal=USR1 "$id2"
  wait_log "$log.out" "requeueing job $id2" 120
  wait_job "$id2" COMPLETED 300
  grep -v '^\[ *[0-9]*/' "$log.out"
  [ "$(job_field "$id2" Restarts)" = 1 ] || fail "Restarts=$(job_field "$id2" Restarts), expected 1"
  grep -q "on aqnode\[1-2\]: 4 ranks x 1 threads, launcher mpirun, restart 0" "$log.out" ||
    fail "job $id2: not 4 ranks over aqnode[1-2] with mpirun"
  # ("interrupted by signal 10", or "interrupted by rank R: signal 10 on rank R" when another
  # rank saw the signal first)
  grep -Eq "interrupted by (rank [0-9]+: )?signal 10" "$log.err" || fail "aq-mpi was not interrupted by SIGUSR1"
  grep -q "restart 1, resuming" "$log.out" || fail "the requeued run did not resume"
  n=$(sed -n 's/.*resuming .*: \([0-9]*\) of [0-9]* tensors already complete.*/\1/p' "$log.out" | head -n 1)
  [ "${n:-0}" -gt 0 ] || fail "the requeued run kept no completed tensor"
  echo "job $id2: interrupted, requeued, resumed with $n tensors already complete"
  test ! -e "$req.partial" || fail "$req.partial left behind"
  on_node2 "$id2"
  ranks_busy "$req" 4
  $PY "$REPO/tests/integration/compare_results.py" "$ref" "$req"
}

case $test in
  job) two_host_job ;;
  slurm) two_host_slurm ;;
  *) fail "unknown test '$test' (job|slurm)" ;;
esac
echo "two_host_test $test: ok"
