#!/usr/bin/env bash
# sbatch_test.sh TEST CLUSTER_DIR BIN_DIR WORK_DIR
# Submits the real Slurm scripts to the local cluster (tests/slurm/local_cluster.sh) from the
# repository root and checks job state, logs and the HDF5 result.  TEST is one of
#   models      generate the small models (tiny; tiny with 48 layers for the interrupted runs)
#   dream       slurm/dream7b_int2.sh as a user submits it: COMPLETED, default log paths,
#               summary in the .out log, no error in .err, result checked by h5py/numpy
#   scaling     slurm/scaling_study.sh on a 2x2 grid: 4 jobs + collector, table and plot
#   reference   an uninterrupted run of the 48-layer model (compared against by the next two)
#   cancel      scancel mid-run (SIGTERM): CANCELLED, exit 3, .partial kept; resubmitted with
#               AQ_RESUME=1: COMPLETED, bit-identical to the reference
#   requeue     SIGUSR1 to the batch shell mid-run (what --signal=B:USR1@300 sends before the
#               time limit), mpirun launcher: the job requeues itself, resumes, COMPLETED
#               with Restarts=1, bit-identical to the reference
# Exit 77 (skip) with the reason when this host cannot run the cluster.
set -euo pipefail
test=$1 cluster=$2 bin=$3 work=$4
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "$0")/lib.sh"
slurm_require_cluster "$cluster"
mkdir -p "$work"
cd "$REPO" # the scripts are submitted from the repository root
PY=/usr/bin/python3
export HDF5_PLUGIN_PATH=$bin/plugins AQ_BIN=$bin
# Requests that fit the 1-node test cluster; everything else comes from the scripts.
SMALL=(--ntasks=2 --cpus-per-task=1 --mem=1G --time=10)

# Moves a job's logs out of the source tree once the test has read them.
keep_logs() { mv -f "$REPO"/slurm/logs/*-"$1".out "$REPO"/slurm/logs/*-"$1".err "$work/" 2>/dev/null || true; }

no_errors() {
  # (a captured string, not "| grep -q": its early exit could SIGPIPE the pipeline under pipefail)
  # shellcheck disable=SC2143
  if [ -n "$(grep -i "error" "$1" | grep -Ev "interrupted by (rank [0-9]+: )?signal" | grep -v "CANCELLED AT")" ]; then
    cat "$1" >&2
    fail "unexpected error in $1"
  fi
}

# submit_slow NAME OUT [sbatch options]: the 48-layer model, echo the job id.
submit_slow() {
  local name=$1 out=$2
  shift 2
  # 15 ms per tensor (aq-mpi test hook, exported by sbatch): interruptions land mid-run
  # whatever the kernel speed.
  AQ_TEST_TENSOR_DELAY_MS=15 AQ_MODEL=$work/tiny48 AQ_OUTPUT=$out sbatch --parsable --job-name="$name" "${SMALL[@]}" \
    --output="$work/%x-%j.out" --error="$work/%x-%j.err" "$@" slurm/dream7b_int2.sh
}

# wait_tensors LOG N: until at least N tensors are done.
wait_tensors() {
  local t0=$SECONDS
  until [ "$(tensors_done "$1" 2>/dev/null || echo 0)" -ge "$2" ] 2>/dev/null; do
    ((SECONDS - t0 < 120)) || fail "fewer than $2 tensors in $1 after 120 s"
    sleep 0.05
  done
}

check_interrupted() { # LOG_ERR OUT ID
  local total done_
  # whichever rank saw the signal first words it: "interrupted by signal N" (rank 0) or
  # "interrupted by rank R: signal N on rank R" (a worker, which no longer waits in its sends)
  grep -Eq "interrupted by (rank [0-9]+: )?signal" "$1" || fail "no 'interrupted by ... signal' in $1"
  test -f "$2.partial" || fail "$2.partial missing after the interruption"
  test ! -e "$2" || fail "$2 exists although the run was interrupted"
  done_=$(tensors_done "${1%.err}.out")
  total=$(sed -n 's/^\[ *[0-9]*\/\([0-9]*\)\].*/\1/p' "${1%.err}.out" | tail -n 1)
  [ "$done_" -lt "$total" ] || fail "job $3 finished all $total tensors before it was interrupted"
  echo "job $3 interrupted after $done_ of $total tensors"
}

case $test in
  models)
    "$bin/aq-synth" --preset tiny --out "$work/tiny" --seed 11
    "$bin/aq-synth" --preset tiny --layers 48 --out "$work/tiny48" --seed 12
    ;;

  dream)
    out=$work/dream_tiny.h5
    rm -f "$out" "$out.partial"
    id=$(AQ_MODEL=$work/tiny AQ_OUTPUT=$out sbatch --parsable "${SMALL[@]}" slurm/dream7b_int2.sh)
    echo "submitted slurm/dream7b_int2.sh from $PWD: job $id"
    wait_job "$id" COMPLETED 300
    [ "$(job_field "$id" ExitCode)" = 0:0 ] || fail "ExitCode $(job_field "$id" ExitCode)"
    log=slurm/logs/aq-dream7b-int2-$id
    if [ ! -f "$log.out" ] || [ ! -f "$log.err" ]; then
      fail "no $log.out/.err (the #SBATCH log paths)"
    fi
    cat "$log.out" "$log.err"
    grep -q "== aq-mpi summary ==" "$log.out" || fail "no summary in $log.out"
    grep -q "^wrote $out" "$log.out" || fail "no 'wrote $out' in $log.out"
    grep -q "2 ranks x 1 threads" "$log.out" || fail "ranks/threads not from SLURM_NTASKS/SLURM_CPUS_PER_TASK"
    grep -q "done: $out" "$log.out" || fail "no 'done:' line"
    no_errors "$log.err"
    grep -q "JobId=$id .*JobState=COMPLETED" "$cluster/jobcomp.txt" || fail "no COMPLETED record of job $id in jobcomp.txt"
    test ! -e "$out.partial" || fail "$out.partial left behind"
    $PY "$REPO/tests/integration/interop_check.py" "$out" "$work/tiny"
    $PY -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
assert (f.attrs['ranks'], f.attrs['threads']) == (2, 1), dict(f.attrs)
assert 'bits = 2' in f.attrs['config'] and 'group_size = 32' in f.attrs['config'], 'not jobs/dream7b_int2.ini'
print('result: 2 ranks x 1 thread, INT2 g32 from jobs/dream7b_int2.ini')" "$out"
    keep_logs "$id"
    ;;

  scaling)
    dir=$work/scaling
    rm -rf "$dir"
    AQ_MODEL=$work/tiny slurm/scaling_study.sh --ranks "1 2" --threads "1 2" --dir "$dir" --wait \
      -- --mem=1G --time=10 | tee "$work/scaling.txt"
    while read -r r _ id _; do
      [ "$r" = ranks ] && continue
      wait_job "$id" COMPLETED 60
    done <"$dir/jobs.tsv"
    $PY - "$dir" <<'EOF'
import json, os, sys
d = sys.argv[1]
s = json.load(open(os.path.join(d, "scaling.json")))
grid = sorted((r["ranks"], r["threads"]) for r in s["runs"])
assert grid == [(1, 1), (1, 2), (2, 1), (2, 2)], grid
assert s["baseline"] == "1x1" and not s["missing"], s
for r in s["runs"]:
    assert r["wall_s"] > 0 and r["cores"] == r["ranks"] * r["threads"], r
    base = next(b for b in s["runs"] if (b["ranks"], b["threads"]) == (1, 1))
    assert abs(r["speedup"] - base["wall_s"] / r["wall_s"]) < 1e-9, r
    assert abs(r["efficiency"] - r["speedup"] / r["cores"]) < 1e-9, r
rows = open(os.path.join(d, "scaling.tsv")).read().splitlines()
assert len(rows) == 5 and rows[0].startswith("ranks\tthreads\tcores\twall_s"), rows
print("scaling: 4 runs, table and JSON consistent")
EOF
    if $PY -c "import matplotlib" 2>/dev/null; then
      test -s "$dir/scaling.png" || fail "matplotlib present but no scaling.png"
    else
      echo "note: python3-matplotlib not installed, plot not checked"
    fi
    ;;

  reference)
    out=$work/ref.h5
    rm -f "$out" "$out.partial"
    id=$(submit_slow aq-ref "$out")
    wait_job "$id" COMPLETED 300
    test -f "$out" || fail "no $out"
    echo "reference run: $(grep 'wall time' "$work/aq-ref-$id.out")"
    ;;

  cancel)
    out=$work/cancel.h5
    rm -f "$out" "$out.partial"
    id=$(submit_slow aq-cancel "$out")
    wait_tensors "$work/aq-cancel-$id.out" 20
    scancel "$id"
    wait_job "$id" CANCELLED 120
    [ "$(job_field "$id" ExitCode)" = 3:0 ] || fail "ExitCode $(job_field "$id" ExitCode), expected 3:0 (aq-mpi interrupted)"
    cat "$work/aq-cancel-$id.err"
    check_interrupted "$work/aq-cancel-$id.err" "$out" "$id"
    grep -q "to continue: AQ_RESUME=1" "$work/aq-cancel-$id.out" || fail "no resume hint in the log"
    id2=$(AQ_RESUME=1 submit_slow aq-cancel "$out")
    wait_job "$id2" COMPLETED 300
    grep "resuming" "$work/aq-cancel-$id2.out" || fail "the resubmitted job did not resume"
    grep -Eq "resuming .*: [1-9][0-9]* of [0-9]+ tensors already complete" "$work/aq-cancel-$id2.out" ||
      fail "the resumed job kept no completed tensor"
    test ! -e "$out.partial" || fail "$out.partial left behind"
    $PY "$REPO/tests/integration/compare_results.py" "$work/ref.h5" "$out"
    ;;

  requeue)
    out=$work/requeue.h5
    rm -f "$out" "$out.partial"
    id=$(AQ_LAUNCHER=mpirun submit_slow aq-requeue "$out")
    log=$work/aq-requeue-$id
    wait_tensors "$log.out" 20
    scancel --batch --signal=USR1 "$id"
    wait_log "$log.out" "requeueing job $id" 120
    wait_job "$id" COMPLETED 300
    grep -v '^\[ *[0-9]*/' "$log.out"
    [ "$(job_field "$id" Restarts)" = 1 ] || fail "Restarts=$(job_field "$id" Restarts), expected 1"
    grep -q "received SIGUSR1" "$log.out" || fail "the batch script did not see SIGUSR1"
    grep -Eq "interrupted by (rank [0-9]+: )?signal 10" "$log.err" || fail "aq-mpi was not interrupted by SIGUSR1"
    grep -q "restart 1, resuming" "$log.out" || fail "the requeued run did not resume"
    grep -Eq "resuming .*: [1-9][0-9]* of [0-9]+ tensors already complete" "$log.out" ||
      fail "the requeued run kept no completed tensor"
    test ! -e "$out.partial" || fail "$out.partial left behind"
    $PY "$REPO/tests/integration/compare_results.py" "$work/ref.h5" "$out"
    ;;

  *) fail "unknown test '$test'" ;;
esac
echo "sbatch_test $test: ok"
