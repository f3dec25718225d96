#!/usr/bin/env bash
# model_kl.sh BIN_DIR MODEL WORK
# aq-eval on the real model: 8-bit weights (f32 scales, groups of 32: a tiny error) give a KL
# near zero, and the KL grows monotonically from 8 to 4 to 2 bits (overall and at every t).
set -euo pipefail
bin=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
run="mpirun --oversubscribe --allow-run-as-root"
for b in 8 4 2; do
  $run -n 2 "$bin/aq-mpi" --config "$here/../../jobs/baseline.ini" --set model.path="$model" \
    --set output.path="$work/w$b.h5" --set quant.bits=$b --set quant.group_size=32 \
    --set quant.scale_dtype=f32 --set run.threads=1 > /dev/null
done
$run -n 2 "$bin/aq-eval" --model "$model" --result "$work/w8.h5" --result "$work/w4.h5" \
  --result "$work/w2.h5" --sequences 4 --length 48 --timesteps 4 --json "$work/kl.json"
/usr/bin/python3 "$here/model_check.py" kl "$work/kl.json"
