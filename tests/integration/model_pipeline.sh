#!/usr/bin/env bash
# model_pipeline.sh BIN_DIR MODEL WORK
# Pipeline parallelism must not change the numbers: the full-precision logits of aq-eval at
# 1, 2 and 3 ranks (3 ranks on a 2-block model: one rank only forwards activations) must be
# bit-identical (tolerance 0: every rank runs the same float operations on the same data, and
# MPI moves the activations bit for bit), the metrics JSON identical, and aq-calib statistics
# identical (checked by model_check.py calib).
set -euo pipefail
bin=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
run="mpirun --oversubscribe --allow-run-as-root"
for n in 1 2 3; do
  $run -n $n "$bin/aq-mpi" --config "$here/../../jobs/baseline.ini" --set model.path="$model" \
    --set output.path="$work/w4_n$n.h5" --set quant.bits=4 --set run.threads=1 > /dev/null
  $run -n $n "$bin/aq-eval" --model "$model" --result "$work/w4_n$n.h5" --sequences 2 --length 24 \
    --timesteps 3 --json "$work/eval_n$n.json" --dump-logits "$work/logits_n$n.bin" > /dev/null
  $run -n $n "$bin/aq-calib" --model "$model" --out "$work/calib_n$n.h5" --timesteps 3 \
    --sequences 2 --length 24
done
for n in 2 3; do
  cmp "$work/logits_n1.bin" "$work/logits_n$n.bin" || { echo "logits differ at $n ranks" >&2; exit 1; }
  /usr/bin/python3 "$here/model_check.py" same-json "$work/eval_n1.json" "$work/eval_n$n.json"
done
/usr/bin/python3 "$here/model_check.py" calib "$work/calib_n1.h5" "$work/calib_n2.h5" "$work/calib_n3.h5"
echo "model_pipeline: ok (logits, metrics and statistics identical at 1, 2, 3 ranks)"
