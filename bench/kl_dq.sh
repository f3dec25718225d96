#!/usr/bin/env bash
# kl_dq.sh BIN_DIR MODEL WORK — issue 8 on the real model: aq-eval KL of 2-bit layouts at
# (nearly) equal size, weight-only and with calibration importance, plus mixed precision.
# Prints bits/weight (from the files' datasets) and the KL table; JSON in WORK/kl*.json.
set -euo pipefail
bin=$1 model=$2 work=$3
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$bin/plugins}
run="mpirun --oversubscribe -n 2"
job() { # job NAME [--set ...]
  local name=$1; shift
  $run "$bin/aq-mpi" --config "$root/jobs/baseline.ini" --set model.path="$model" \
    --set output.path="$work/$name.h5" --set run.threads=1 "$@" > "$work/$name.log"
  printf '%-14s %s\n' "$name" "$(grep -o 'quantized at [0-9.]* bits/weight' "$work/$name.log")"
}
[ -f "$work/calib.h5" ] || $run "$bin/aq-calib" --model "$model" --out "$work/calib.h5" \
  --timesteps 16 --sequences 16 --length 64 > /dev/null
dq="--set quant.scale_dtype=dq --set quant.group_size=16 --set quant.bits=2"
cal="--set calib.path=$work/calib.h5"
job w2_g64 --set quant.bits=2 --set quant.group_size=64
job w2_g32 --set quant.bits=2 --set quant.group_size=32
job dq2 $dq
bpw=$(grep -o 'quantized at [0-9.]* bits/weight' "$work/dq2.log" | cut -d' ' -f3)
job mixed_at_dq2 --set quant.budget_bits="$bpw" --set quant.group_size=64
job mixed_dq_3.0 $dq --set quant.budget_bits=3.0
job mixed_3.0 --set quant.budget_bits=3.0 --set quant.group_size=64
# KL-driven fallback: per-layer KL of the 2-bit g64 result, layers above 0.1 nats -> 4 bits;
# then the error-driven budget at exactly the size that produced.
job w4_g64 --set quant.bits=4 --set quant.group_size=64
job w8_g64 --set quant.bits=8 --set quant.group_size=64
$run "$bin/aq-eval" --model "$model" --result "$work/w2_g64.h5" --result "$work/w4_g64.h5" \
  --result "$work/w8_g64.h5" --sequences 16 --length 64 --timesteps 16 \
  --layer-kl "$work/layer_kl.json" > "$work/layer_kl.log"
job kl_fallback --set quant.bits=2 --set quant.group_size=64 --set quant.fallback=true \
  --set quant.fallback_2bit=1e6 --set quant.fallback_kl_path="$work/layer_kl.json" --set quant.fallback_kl=0.1
bpw=$(grep -o 'quantized at [0-9.]* bits/weight' "$work/kl_fallback.log" | cut -d' ' -f3)
job mixed_at_klfb --set quant.budget_bits="$bpw" --set quant.group_size=64
job kl_budget_at_klfb --set quant.budget_bits="$bpw" --set quant.group_size=64 \
  --set quant.budget_kl_path="$work/layer_kl.json"
job kl_budget_3.0 --set quant.budget_bits=3.0 --set quant.group_size=64 \
  --set quant.budget_kl_path="$work/layer_kl.json"
job w2_g64_cal --set quant.bits=2 --set quant.group_size=64 $cal
job dq2_cal $dq $cal
eval_args="--sequences 16 --length 64 --timesteps 16"
results=()
for n in w2_g64 w2_g32 dq2 mixed_at_dq2 mixed_dq_3.0 mixed_3.0 kl_budget_3.0 kl_fallback mixed_at_klfb \
  kl_budget_at_klfb w2_g64_cal dq2_cal; do
  results+=(--result "$work/$n.h5")
done
$run "$bin/aq-eval" --model "$model" "${results[@]}" $eval_args --weights-only --json "$work/kl.json"
