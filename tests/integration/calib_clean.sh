#!/usr/bin/env bash
# calib_clean.sh BIN_DIR MODEL WORK — aq-calib --clean (autoregressive models, no token masked):
# T = 1 and the clean-input label; statistics identical at 1 and 2 ranks; different from the
# masked calibration of the same sequences; --clean with --timesteps 4 refused; and a
# quant.format job accepts the file as calib.path (with timegroups.count = 1: one step).
set -euo pipefail
bin=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
run="mpirun --oversubscribe --allow-run-as-root"
args=(--model "$model" --sequences 2 --length 32)
for n in 1 2; do
  $run -n $n "$bin/aq-calib" "${args[@]}" --clean --out "$work/clean_n$n.h5" > "$work/clean_n$n.log"
  grep -q 'T = 1 (clean)' "$work/clean_n$n.log"
done
$run -n 1 "$bin/aq-calib" "${args[@]}" --timesteps 1 --out "$work/masked.h5" > /dev/null
/usr/bin/python3 "$here/model_check.py" calib "$work/clean_n1.h5" "$work/clean_n2.h5"
/usr/bin/python3 "$here/model_check.py" clean "$work/clean_n1.h5" "$work/masked.h5"
if "$bin/aq-calib" "${args[@]}" --clean --timesteps 4 --out "$work/bad.h5" 2> "$work/bad.err"; then
  echo "calib_clean: --clean --timesteps 4 accepted" >&2; exit 1
fi
grep -q 'timesteps 4 is not 1' "$work/bad.err"
test ! -e "$work/bad.h5"
rm -f "$work/q8.h5"
$run -n 1 "$bin/aq-mpi" --config "$here/../../jobs/baseline.ini" --set model.path="$model" \
  --set output.path="$work/q8.h5" --set run.threads=1 --set quant.format=q8_0 \
  --set calib.path="$work/clean_n1.h5" --set timegroups.count=1 > "$work/q8.log"
test -f "$work/q8.h5"
echo "calib_clean: ok (T = 1, identical at 1 and 2 ranks, differs from masked, job accepts it)"
