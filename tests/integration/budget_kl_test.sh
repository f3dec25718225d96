#!/usr/bin/env bash
# budget_kl_test.sh BIN_DIR MODEL WORKDIR: mixed precision with per-layer KL as the
# sensitivity.  Results at 2, 4 and 8 bits, aq-eval --layer-kl over all three, then
# quant.budget_bits = 3.0 with quant.budget_kl_path at 1 and 3 ranks: within budget, more than
# one width, bit-identical; a KL file lacking a width is refused naming tensor and width.
set -euo pipefail
bin=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
mkdir -p "$work"
for b in 2 4 8; do
  bash "$here/run_job.sh" "$bin" 2 "$model" "$work/w$b.h5" --set quant.bits=$b >/dev/null
done
mpirun --oversubscribe --allow-run-as-root -n 2 "$bin/aq-eval" --model "$model" \
  --result "$work/w2.h5" --result "$work/w4.h5" --result "$work/w8.h5" \
  --sequences 2 --length 32 --timesteps 4 --layer-kl "$work/kl.json" | tail -n 2
for n in 1 3; do
  bash "$here/run_job.sh" "$bin" $n "$model" "$work/b$n.h5" --set quant.budget_bits=3.0 \
    --set quant.budget_kl_path="$work/kl.json" | tee "$work/b$n.log" | grep '^budget'
  grep -q 'by per-layer KL' "$work/b$n.log"
done
$py "$here/budget_check.py" "$work/b3.h5" 3.0
$py "$here/compare_results.py" "$work/b1.h5" "$work/b3.h5"
# Without the 8-bit entries the allocation cannot start: refused before any output.
$py -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["layers"] = [e for e in d["layers"] if e["bits"] != 8]
json.dump(d, open(sys.argv[2], "w"))' "$work/kl.json" "$work/kl_no8.json"
rm -f "$work/bad.h5"
if bash "$here/run_job.sh" "$bin" 2 "$model" "$work/bad.h5" --set quant.budget_bits=3.0 \
     --set quant.budget_kl_path="$work/kl_no8.json" 2> "$work/bad.err"; then
  echo "FAIL: KL file without 8-bit entries accepted"; exit 1
fi
grep -q 'no KL for tensor .* at 8 bits' "$work/bad.err"
test ! -e "$work/bad.h5" && test ! -e "$work/bad.h5.partial"
echo "budget_kl_test: ok"
