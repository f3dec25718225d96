# Sourced by the Slurm tests.  Usage: source lib.sh CLUSTER_DIR
# Skips (exit 77, CTest SKIP_RETURN_CODE) with a visible reason when this host cannot run the
# local cluster; fails when the cluster should be up but is not.
# shellcheck shell=bash

SLURM_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the tests that source this file
REPO=$(cd "$SLURM_TESTS/../.." && pwd)
export PATH=$PATH:/usr/sbin:/sbin

slurm_require_cluster() {
  local dir=$1 why
  why=$("$SLURM_TESTS/local_cluster.sh" check "$dir") || {
    echo "$why"
    exit 77
  }
  export SLURM_CONF=$dir/slurm.conf
  scontrol ping >/dev/null 2>&1 || {
    echo "FAIL: the local cluster in $dir is not up (test slurm.cluster.up failed?)" >&2
    exit 1
  }
}

# Prints the job's state (COMPLETED, CANCELLED, RUNNING, ...) from slurmctld.
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# wait_job ID STATE TIMEOUT: waits until the job reaches a final state; fails unless it is STATE.
wait_job() {
  local id=$1 want=$2 timeout=$3 s t0=$SECONDS
  while :; do
    s=$(job_state "$id")
    case $s in
      COMPLETED | CANCELLED | FAILED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | DEADLINE) break ;;
    esac
    if ((SECONDS - t0 > timeout)); then
      echo "FAIL: job $id still $s after $timeout s" >&2
      scontrol show job "$id" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "job $id: $s after $((SECONDS - t0)) s (ExitCode $(job_field "$id" ExitCode), Restarts $(job_field "$id" Restarts))"
  [ "$s" = "$want" ] || {
    echo "FAIL: job $id ended $s, expected $want" >&2
    scontrol show job "$id" >&2
    return 1
  }
}

# wait_log FILE REGEX TIMEOUT: waits until a line of FILE matches.
wait_log() {
  local t0=$SECONDS
  until grep -Eq "$2" "$1" 2>/dev/null; do
    if ((SECONDS - t0 > $3)); then
      echo "FAIL: no line matching '$2' in $1 after $3 s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# Number of the last "[  k/N]" progress line in a job log.
tensors_done() { sed -n 's/^\[ *\([0-9]*\)\/[0-9]*\].*/\1/p' "$1" | tail -n 1; }

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
