#!/usr/bin/env bash
# model_act.sh BIN_DIR MODEL WORK
# The /act path end to end: aq-calib statistics (T = 4) -> aq-mpi Phase 3 at W8A8 -> aq-eval
# fake-quantizes every linear input with that step's parameters.  8-bit activations must add
# error (KL above the same weights with float activations) but stay small, and a T that
# differs from the file's must be refused.
set -euo pipefail
bin=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
run="mpirun --oversubscribe --allow-run-as-root"
$run -n 2 "$bin/aq-calib" --model "$model" --out "$work/calib.h5" --timesteps 4 \
  --sequences 4 --length 48 > /dev/null
common=(--set model.path="$model" --set quant.bits=8 --set quant.group_size=32
        --set quant.scale_dtype=f32 --set run.threads=1)
$run -n 2 "$bin/aq-mpi" --config "$here/../../jobs/baseline.ini" "${common[@]}" \
  --set output.path="$work/w8.h5" > /dev/null
$run -n 2 "$bin/aq-mpi" --config "$here/../../jobs/phase3.ini" "${common[@]}" \
  --set calib.synthetic=false --set calib.path="$work/calib.h5" --set timegroups.count=2 \
  --set output.path="$work/w8a8.h5" > /dev/null
$run -n 2 "$bin/aq-eval" --model "$model" --result "$work/w8.h5" --result "$work/w8a8.h5" \
  --sequences 4 --length 48 --timesteps 4 --json "$work/act.json" > "$work/act.txt"
# (not "| grep -q": with pipefail, grep -q's early exit can kill the writer with SIGPIPE)
grep -q 'fake-quantized' "$work/act.txt"
/usr/bin/python3 - "$work/act.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
w8, w8a8 = r[0]["overall"]["kl"], r[1]["overall"]["kl"]
print(f"KL W8 {w8:.6f}, W8A8 (/act) {w8a8:.6f}")
ok = w8 < w8a8 < 0.5
print(f"model_act: {int(ok)} passed, {int(not ok)} failed")
sys.exit(0 if ok else 1)
PY
if $run -n 1 "$bin/aq-eval" --model "$model" --result "$work/w8a8.h5" --sequences 2 --length 16 \
     --timesteps 8 > "$work/bad_t.txt" 2>&1; then
  echo "FAIL: a T mismatch was accepted"; exit 1
fi
grep -q 'T = 4' "$work/bad_t.txt" && echo "ok   T mismatch refused: $(grep error "$work/bad_t.txt" | head -n 1)"
