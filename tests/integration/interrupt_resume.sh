#!/usr/bin/env bash
# interrupt_resume.sh BIN_DIR WORKDIR [--set k=v ...]   (extra settings for every run)
# SIGUSR1 (what Slurm sends before the time limit) mid-run must stop aq-mpi with exit 3 and a
# kept <out>.partial; --resume (on another rank count) must finish it bit-identical to an
# uninterrupted run; resuming with another configuration must be refused (exit 2).
# Environment: AQ_IR_RANKS (default 2) ranks for the full and the interrupted run,
# AQ_IR_LAYERS (default 16) layers of the generated model, AQ_IR_DELAY_MS (default 20) the
# test delay per tensor of the interrupted run (many ranks need more to be caught mid-run).
set -uo pipefail
bin=$1 work=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"; mkdir -p "$work"
"$bin/aq-synth" --preset tiny --layers "${AQ_IR_LAYERS:-16}" --out "$work/model" >/dev/null || exit 1
job=(--config "$root/jobs/phase3.ini" --set model.path="$work/model" --set quant.bits=2
     --set quant.group_size=16 --set calib.timesteps=16 "$@")
mpi() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -n "$n" "$bin/aq-mpi" "$@"; }
fail() { echo "FAIL $*"; exit 1; }

mpi "${AQ_IR_RANKS:-2}" "${job[@]}" --set output.path="$work/full.h5" >"$work/full.log" 2>&1 || fail "uninterrupted run"

# mpirun itself in the background (not a shell function), so the signal reaches mpirun,
# which forwards SIGUSR1 to every rank.
# 20 ms per tensor (test hook): the signal lands mid-run whatever the kernel speed.
AQ_TEST_TENSOR_DELAY_MS=${AQ_IR_DELAY_MS:-20} mpirun --allow-run-as-root --oversubscribe -n "${AQ_IR_RANKS:-2}" "$bin/aq-mpi" "${job[@]}" \
  --set output.path="$work/int.h5" >"$work/int.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do  # wait for progress, not for a fixed time
  grep -q '^\[  *2[0-9]/' "$work/int.log" 2>/dev/null && break
  sleep 0.05
done
kill -USR1 "$pid"
wait "$pid"; code=$?
[ "$code" -eq 3 ] || fail "interrupted run exited $code, want 3 (did it finish before the signal?)"
# whichever rank saw the signal first names it ("rank N: signal 10 on rank N" from a worker)
grep -Eq '^aq-mpi: error: interrupted by (rank [0-9]+: )?signal 10( on rank [0-9]+)? after .*partial kept' \
  "$work/int.log" || fail "message"
[ -f "$work/int.h5.partial" ] && [ ! -e "$work/int.h5" ] || fail "partial/final files"
echo "ok   interrupted: $(grep '^aq-mpi: error' "$work/int.log")"

mpi 1 "${job[@]}" --set output.path="$work/int.h5" --set quant.bits=4 --resume >"$work/bad.log" 2>&1
[ $? -eq 2 ] && grep -q 'written with another configuration' "$work/bad.log" || fail "config mismatch not refused"
echo "ok   mismatch: $(grep '^aq-mpi: error' "$work/bad.log")"

mpi 3 "${job[@]}" --set output.path="$work/int.h5" --resume >"$work/res.log" 2>&1 || fail "resume"
grep -q '^resuming .* tensors already complete' "$work/res.log" || fail "resume did not reuse the partial"
[ -f "$work/int.h5" ] && [ ! -e "$work/int.h5.partial" ] || fail "files after resume"
echo "ok   $(grep '^resuming' "$work/res.log")"
/usr/bin/python3 "$root/tests/integration/compare_results.py" "$work/full.h5" "$work/int.h5" || fail "resumed result differs"
echo "interrupt_resume: 4 passed, 0 failed"
