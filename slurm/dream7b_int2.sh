#!/usr/bin/env bash
# Quantize Dream 7B to INT2 with aq-mpi (jobs/dream7b_int2.ini).  Submit from the repository
# root (the log paths below are relative to it):
#     sbatch slurm/dream7b_int2.sh
# Paths come from the environment (sbatch exports it to the job):
#     AQ_MODEL=/data/Dream-v0-Base-7B AQ_OUTPUT=/scratch/$USER/dream7b_int2.h5 sbatch slurm/dream7b_int2.sh
#
#   AQ_MODEL        model directory (safetensors + config.json)     default models/dream-7b
#   AQ_OUTPUT       result file (HDF5)                              default out/dream7b_int2.h5
#   AQ_CONFIG       job configuration                               default jobs/dream7b_int2.ini
#   AQ_BIN          directory of the built programs (aq-mpi)        default build
#   AQ_ARGS         extra aq-mpi arguments, e.g. "--set quant.group_size=64"
#   AQ_LAUNCHER     srun | mpirun | auto (srun when `srun --mpi=list` offers pmix)
#   AQ_SRUN_MPI     srun's --mpi plugin                             default pmix
#   AQ_BIND         cores | none: pin ranks and threads             default cores
#   AQ_RESUME       1: continue <AQ_OUTPUT>.partial (a cancelled or failed run); a requeued
#                   run resumes by itself
#   AQ_MAX_REQUEUES how often the job requeues itself at the time limit   default 3 (0: never)
#
# Time limit and requeue: Slurm sends SIGUSR1 to this script 300 s before --time (--signal
# below; Slurm may send it up to a minute earlier).  The script forwards it to the launcher,
# which forwards it to every rank; aq-mpi finishes the tensor in flight, keeps
# <AQ_OUTPUT>.partial consistent and exits with status 3.  The script then requeues the job
# (same job id, log appended); the next run passes --resume and skips the completed tensors.
# The result is bit-identical to an uninterrupted run.  scancel (SIGTERM) also stops aq-mpi
# cleanly with status 3 but does not requeue: resubmit with AQ_RESUME=1 to continue.
#
# Site notes, change these for your cluster:
#   * Add the --partition / --account / --qos lines your site requires.
#   * --ntasks x --cpus-per-task = MPI ranks x OpenMP threads.  The 28 transformer blocks divide
#     well over 2, 4, 7, 14 or 28 ranks.  Results are identical for any choice.
#   * --mem: rank 0 holds the result stream and each rank about twice its largest tensor; 64G
#     on one node is ample for 7B.  Use --mem-per-cpu instead if your site prefers it.
#   * --time: a 7B INT2 mse run takes well under an hour on 32 cores; the requeue loop covers
#     shorter limits.  The signal lead time (300 s) must exceed the slowest single tensor.
#   * Several nodes: raise --nodes; mpirun/srun place the ranks.
#   * Launcher: srun needs Open MPI built with PMIx (Debian/Ubuntu's is; `srun --mpi=list`);
#     otherwise set AQ_LAUNCHER=mpirun.
#   * Logs go to slurm/logs/<job name>-<job id>.out/.err (the directory is in the repository;
#     elsewhere create it before sbatch, Slurm does not).
#SBATCH --job-name=aq-dream7b-int2
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=02:00:00
#SBATCH --output=slurm/logs/%x-%j.out
#SBATCH --error=slurm/logs/%x-%j.err
#SBATCH --open-mode=append
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
set -euo pipefail

REPO=${SLURM_SUBMIT_DIR:-$PWD}
cd "$REPO"
AQ_BIN=${AQ_BIN:-$REPO/build}
AQ_CONFIG=${AQ_CONFIG:-$REPO/jobs/dream7b_int2.ini}
AQ_MODEL=${AQ_MODEL:-$REPO/models/dream-7b}
AQ_OUTPUT=${AQ_OUTPUT:-$REPO/out/dream7b_int2.h5}
AQ_ARGS=${AQ_ARGS:-}
AQ_LAUNCHER=${AQ_LAUNCHER:-auto}
AQ_SRUN_MPI=${AQ_SRUN_MPI:-pmix}
AQ_BIND=${AQ_BIND:-cores}
AQ_RESUME=${AQ_RESUME:-0}
AQ_MAX_REQUEUES=${AQ_MAX_REQUEUES:-3}

ranks=${SLURM_NTASKS:-1}
threads=${SLURM_CPUS_PER_TASK:-1}
restarts=${SLURM_RESTART_COUNT:-0}
say() { echo "[$(date '+%F %T')] $*"; }
fail() {
  echo "dream7b_int2.sh: error: $*" >&2
  exit 1
}

[ -x "$AQ_BIN/aq-mpi" ] || fail "no aq-mpi in AQ_BIN=$AQ_BIN (build first: scripts/build.sh)"
[ -f "$AQ_CONFIG" ] || fail "AQ_CONFIG=$AQ_CONFIG: no such file"
[ -d "$AQ_MODEL" ] || fail "AQ_MODEL=$AQ_MODEL: no such directory"
mkdir -p "$(dirname "$AQ_OUTPUT")"

export OMP_NUM_THREADS=$threads
if [ "$AQ_BIND" = cores ]; then
  export OMP_PROC_BIND=close OMP_PLACES=cores
fi

if [ "$AQ_LAUNCHER" = auto ]; then
  AQ_LAUNCHER=mpirun
  if [ -n "${SLURM_JOB_ID:-}" ] && srun --mpi=list 2>&1 | grep -qw "$AQ_SRUN_MPI"; then
    AQ_LAUNCHER=srun
  fi
fi
case $AQ_LAUNCHER in
  srun)
    # Since Slurm 22.05 srun does not inherit --cpus-per-task from sbatch: pass it.
    LAUNCH=(srun --mpi="$AQ_SRUN_MPI" --ntasks="$ranks" --cpus-per-task="$threads" --kill-on-bad-exit=0)
    [ "$AQ_BIND" = cores ] && LAUNCH+=(--cpu-bind=cores)
    ;;
  mpirun)
    LAUNCH=(mpirun -n "$ranks")
    if [ "$AQ_BIND" = cores ]; then
      LAUNCH+=(--map-by "slot:PE=$threads" --bind-to core)
    else
      LAUNCH+=(--bind-to none)
    fi
    ;;
  *) fail "AQ_LAUNCHER=$AQ_LAUNCHER: use srun, mpirun or auto" ;;
esac

RESUME=()
if [ "$AQ_RESUME" = 1 ] || [ "$restarts" -gt 0 ]; then
  RESUME=(--resume)
fi
# shellcheck disable=SC2206 # AQ_ARGS is a list of arguments, split on blanks on purpose
EXTRA=($AQ_ARGS)

say "aq-mpi job ${SLURM_JOB_ID:-(not under Slurm)} on ${SLURM_JOB_NODELIST:-$(hostname)}: $ranks ranks x $threads threads, launcher $AQ_LAUNCHER, restart $restarts${RESUME:+, resuming}"
say "model $AQ_MODEL -> $AQ_OUTPUT (config $AQ_CONFIG)"

# The launcher runs in the background so that the traps run as soon as a signal arrives.
got_signal=
launcher_pid=
# shellcheck disable=SC2317 # invoked by the traps below
forward() {
  got_signal=$1
  say "received SIG$1: forwarding to the ranks (they stop after the tensor in flight)"
  [ -z "$launcher_pid" ] || kill -s "$1" "$launcher_pid" 2>/dev/null || true
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM

start=$(date +%s)
"${LAUNCH[@]}" "$AQ_BIN/aq-mpi" --config "$AQ_CONFIG" \
  --set model.path="$AQ_MODEL" --set output.path="$AQ_OUTPUT" --set run.threads="$threads" \
  "${RESUME[@]}" "${EXTRA[@]}" &
launcher_pid=$!
set +e
wait "$launcher_pid"
status=$?
# wait returns >128 when a trapped signal interrupts it; the launcher is still running then.
while [ "$status" -gt 128 ] && kill -0 "$launcher_pid" 2>/dev/null; do
  wait "$launcher_pid"
  status=$?
done
set -e
say "aq-mpi finished with status $status after $(($(date +%s) - start)) s"

case $status in
  0) say "done: $AQ_OUTPUT" ;;
  3)
    say "interrupted: $AQ_OUTPUT.partial holds the completed tensors"
    if [ "$got_signal" = USR1 ] && [ -n "${SLURM_JOB_ID:-}" ] && [ "$restarts" -lt "$AQ_MAX_REQUEUES" ]; then
      say "time limit: requeueing job $SLURM_JOB_ID (restart $((restarts + 1)) of at most $AQ_MAX_REQUEUES); it resumes"
      scontrol requeue "$SLURM_JOB_ID"
    else
      say "to continue: AQ_RESUME=1 sbatch slurm/dream7b_int2.sh (same AQ_* settings)"
    fi
    ;;
  2) echo "dream7b_int2.sh: aq-mpi refused the configuration (status 2), see the .err log" >&2 ;;
  *)
    if [ -n "$got_signal" ] && [ -f "$AQ_OUTPUT.partial" ]; then
      # mpirun answers SIGTERM by killing the ranks: the tensor in flight is lost, the
      # completed ones (flushed after every tensor) are kept.
      say "stopped by SIG$got_signal (status $status); to continue: AQ_RESUME=1 sbatch slurm/dream7b_int2.sh"
    else
      echo "dream7b_int2.sh: aq-mpi failed (status $status), see the .err log" >&2
    fi
    ;;
esac
exit "$status"
