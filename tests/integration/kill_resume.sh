#!/usr/bin/env bash
# kill_resume.sh BIN_DIR NRANKS WORKDIR
# A rank killed with SIGKILL part-way (the last rank; the only one at -n 1) must abort the
# job with a non-zero exit and a message naming the rank (aq-mpi's or mpirun's), leave
# <out>.partial and no final file; --resume must then finish it bit-identical to an
# uninterrupted run (tests/integration/compare_results.py).
# Environment: AQ_KR_LAYERS (default 16) layers of the generated model, AQ_KR_DELAY_MS
# (default 20) test delay per tensor, AQ_KR_SET extra "k=v" settings (space-separated).
set -uo pipefail
bin=$1 n=$2 work=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"; mkdir -p "$work"
fail() { echo "FAIL kill_resume n=$n: $*"; exit 1; }
"$bin/aq-synth" --preset tiny --layers "${AQ_KR_LAYERS:-16}" --out "$work/model" >/dev/null || fail "aq-synth"
job=(--config "$root/jobs/phase3.ini" --set model.path="$work/model" --set quant.bits=2
     --set quant.group_size=16 --set calib.timesteps=16 --set run.threads=1)
for kv in ${AQ_KR_SET:-}; do job+=(--set "$kv"); done
mpi() { mpirun --allow-run-as-root --oversubscribe -n "$n" "$bin/aq-mpi" "$@"; }
out="$work/kill.h5"

mpi "${job[@]}" --set output.path="$work/full.h5" >"$work/full.log" 2>&1 || fail "uninterrupted run"

# 20 ms per tensor (test hook): the kill lands mid-run whatever the kernel speed.
AQ_TEST_TENSOR_DELAY_MS=${AQ_KR_DELAY_MS:-20} mpirun --allow-run-as-root --oversubscribe -n "$n" "$bin/aq-mpi" "${job[@]}" \
  --set output.path="$out" >"$work/kill.log" 2>&1 &
mpirun_pid=$!
for _ in $(seq 1 600); do # wait for progress (rank 0 prints one line per tensor written)
  grep -q '^\[  *2[0-9]/' "$work/kill.log" 2>/dev/null && break
  sleep 0.05
done
# The rank processes (not mpirun, whose command line starts with "mpirun"); pick the last
# rank by its OMPI_COMM_WORLD_RANK.
want=$((n - 1)) victim=
for pid in $(pgrep -f "^$bin/aq-mpi .*output.path=$out"); do
  r=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
  [ "$r" = "$want" ] && victim=$pid
done
[ -n "$victim" ] || { kill "$mpirun_pid"; wait "$mpirun_pid"; fail "no rank $want process found (finished too early?)"; }
kill -KILL "$victim"
wait "$mpirun_pid"; code=$?
cat "$work/kill.log" >&2
[ "$code" -ne 0 ] || fail "killed run exited 0"
# aq-mpi's own error line when it has one, else mpirun's "process rank N ... signal 9".
pat="^aq-mpi: error: .*rank $want|process rank $want .*(signal 9|Killed)"
msg=$(grep -E "$pat" "$work/kill.log" | head -1)
[ -n "$msg" ] || fail "no message naming rank $want"
[ -f "$out.partial" ] || fail "no $out.partial left"
[ ! -e "$out" ] || fail "$out exists after a killed run"
echo "ok   killed rank $want (pid $victim): exit $code: $msg"

mpi "${job[@]}" --set output.path="$out" --resume >"$work/resume.log" 2>&1 || { cat "$work/resume.log"; fail "resume"; }
grep '^resuming' "$work/resume.log" || fail "resume did not reuse the partial"
[ -f "$out" ] && [ ! -e "$out.partial" ] || fail "files after resume"
/usr/bin/python3 "$root/tests/integration/compare_results.py" "$work/full.h5" "$out" || fail "resumed result differs"
"$bin/aq-inspect" --verify "$out" || fail "aq-inspect --verify of the resumed file"
echo "kill_resume n=$n: ok"
