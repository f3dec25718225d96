#!/usr/bin/env bash
# calib_clean.sh BIN_DIR MODEL WORK — aq-calib --clean (autoregressive models, no token masked):
# T = 1 and the clean-input label; statistics identical at 1 and 2 ranks; different from the
# masked calibration of the same sequences; --clean with --timesteps 4 refused; and a
# quant.format job accepts the file as calib.path (with timegroups.count = 1: one step); and
# --clean --hessian: clean Hessians (T = 1, diag H = the clean sq_mean of every layer) that a
# GPTQ job (quant.gptq = true, calib.missing = skip for the embeddings) uses.
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
$run -n 2 "$bin/aq-calib" "${args[@]}" --clean --hessian --out "$work/clean_h.h5" > "$work/clean_h.log"
grep -q 'with Hessians, T = 1 (clean)' "$work/clean_h.log"
/usr/bin/python3 - "$work/clean_h.h5" <<'PY'
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
g = f["hessian"]
assert g.attrs["T"] == 1 and f.attrs["T"] == 1, "clean Hessians: T is not 1"
layers = [k for k in g if k != "time_weights"]
assert layers, "clean Hessians: no layers"
for k in layers:
    n = int(g[k].attrs["n"])
    d = g[k][:][np.concatenate([[0], np.cumsum(np.arange(n, 1, -1))])]
    s = f["stats"][k]["sq_mean"][0]
    assert np.all(np.isfinite(d)) and np.allclose(d, s, rtol=1e-4, atol=1e-8), \
        f"{k}: diag H is not the clean sq_mean (max diff {np.max(np.abs(d - s))})"
print(f"calib_clean: {len(layers)} clean Hessians, diag = clean sq_mean")
PY
rm -f "$work/gptq.h5"
$run -n 1 "$bin/aq-mpi" --config "$here/../../jobs/baseline.ini" --set model.path="$model" \
  --set output.path="$work/gptq.h5" --set run.threads=1 --set quant.format=q4_0 \
  --set quant.gptq=true --set calib.path="$work/clean_h.h5" --set timegroups.count=1 \
  --set calib.missing=skip > "$work/gptq.log"
grep -Eq 'gptq +[1-9][0-9]* tensors by GPTQ' "$work/gptq.log"
echo "calib_clean: ok (T = 1, identical at 1 and 2 ranks, differs from masked, job accepts it;" \
  "clean Hessians drive a GPTQ job)"
