#!/usr/bin/env bash
# dream_bits.sh OUT_DIR SEED_INDEX [WINDOWS] [T]
# docs/BITS.md "Measured on the real model", tinystories-dream-4m column: the 2-bit layouts,
# mixed precision, KL fallback and calibration importance of bench/kl_dq.sh, with the windows
# and seeds of dream_phases.sh (same SEED_INDEX: its stats file is reused when present).
# aq-calib on WINDOWS corpus calibration windows x 128 tokens (lines k*W+1 .. (k+1)*W of
# calib.ids.txt, seed 1234+k); the per-layer KL (aq-eval --layer-kl, for quant.fallback_kl_path
# and quant.budget_kl_path) on the first LKW (default 8) of those calibration windows, seed
# 1234+k, so the widths are chosen on calibration data only; aq-eval --weights-only on WINDOWS
# validation windows x 128 (lines k*W+1 .. (k+1)*W of val.ids.txt, seed 4321+k).  Runs with
# different k share no window.  VARIANTS (environment) picks a subset of the results, default
# all of them (see the case below); the layer KL is measured only when a variant needs it.
# LKL_ONLY=1 stops after the layer KL; FB_KL the fallback threshold in nats (default 0.1).
# RANKS the number of MPI ranks (default 2); BIN the directory of the binaries (default build).
# Prints each job's bits/weight; the KL table is OUT_DIR/bits_k$TAG.txt / bits_k$TAG.json (TAG
# from the environment, default empty).
set -euo pipefail
out=$1 k=$2 W=${3:-32} T=${4:-8}
lkw=${LKW:-8}
all="w2_g64 dq2 mixed_at_dq2 w2_g32 mixed_3.0 kl_budget_3.0 mixed_dq_3.0 kl_fallback"
all+=" mixed_at_klfb kl_budget_at_klfb w2_g64_cal dq2_cal"
variants=${VARIANTS:-$all}
# shellcheck source=scripts/dream_common.sh
. "$(dirname "$0")/dream_common.sh"
bpw() { grep -o 'quantized at [0-9.]* bits/weight' "$out/$1_$k.log" | cut -d' ' -f3; }
job() { # job NAME [--set ...]: weight-only result NAME_k.h5 from baseline.ini (mse, f16 scales)
  local name=$1
  shift
  $run "$bin"/aq-mpi --config jobs/baseline.ini --set model.path="$model" --set run.threads=1 \
    --set output.path="$out/${name}_$k.h5" "$@" > "$out/${name}_$k.log"
  printf '%-18s %s bits/weight\n' "$name" "$(bpw "$name")"
}
dq=(--set quant.scale_dtype=dq --set quant.group_size=16 --set quant.bits=2)
cal=(--set calib.path="$out/stats_$k.h5")
lkl=(--set quant.budget_kl_path="$out/layer_kl_$k.json")
need() { case " $variants " in *" $1 "*) return 0 ;; esac; return 1; }
# layer KL: the 2/4/8-bit g64 results (every width the budget can choose), calibration windows
# (reused when OUT_DIR/layer_kl_k.json exists: same k, same windows)
if { need kl_budget_3.0 || need kl_fallback || need mixed_at_klfb || need kl_budget_at_klfb; } &&
  [ ! -s "$out/layer_kl_$k.json" ]; then
  for b in 2 4 8; do job w${b}_g64 --set quant.bits=$b --set quant.group_size=64; done
  head -n "$lkw" "$out/calib_$k.ids" > "$out/calib_lkl_$k.ids"
  $run "$bin"/aq-eval --model "$model" --result "$out/w2_g64_$k.h5" --result "$out/w4_g64_$k.h5" \
    --result "$out/w8_g64_$k.h5" --tokens "$out/calib_lkl_$k.ids" --sequences "$lkw" \
    --length 128 --timesteps "$T" --seed $((1234 + k)) --weights-only \
    --layer-kl "$out/layer_kl_$k.json" > "$out/layer_kl_$k.txt"
  if [ -n "${LKL_ONLY:-}" ]; then echo "wrote $out/layer_kl_$k.json"; exit 0; fi
fi
results=()
for v in $variants; do
  case $v in
    w2_g64) job w2_g64 --set quant.bits=2 --set quant.group_size=64 ;;
    w2_g32) job w2_g32 --set quant.bits=2 --set quant.group_size=32 ;;
    dq2) $run "$bin"/aq-mpi --config jobs/int2_compact.ini --set model.path="$model" \
      --set run.threads=1 --set output.path="$out/dq2_$k.h5" > "$out/dq2_$k.log"
      printf '%-18s %s bits/weight\n' dq2 "$(bpw dq2)" ;;
    mixed_at_dq2) job mixed_at_dq2 --set quant.budget_bits="$(bpw dq2)" \
      --set quant.group_size=64 ;;
    mixed_3.0) job mixed_3.0 --set quant.budget_bits=3.0 --set quant.group_size=64 ;;
    kl_budget_3.0) job kl_budget_3.0 --set quant.budget_bits=3.0 --set quant.group_size=64 \
      "${lkl[@]}" ;;
    mixed_dq_3.0) job mixed_dq_3.0 "${dq[@]}" --set quant.budget_bits=3.0 ;;
    kl_fallback) job kl_fallback --set quant.bits=2 --set quant.group_size=64 \
      --set quant.fallback=true --set quant.fallback_2bit=1e6 \
      --set quant.fallback_kl_path="$out/layer_kl_$k.json" \
      --set quant.fallback_kl="${FB_KL:-0.1}" ;;
    mixed_at_klfb) job mixed_at_klfb --set quant.budget_bits="$(bpw kl_fallback)" \
      --set quant.group_size=64 ;;
    kl_budget_at_klfb) job kl_budget_at_klfb --set quant.budget_bits="$(bpw kl_fallback)" \
      --set quant.group_size=64 "${lkl[@]}" ;;
    w2_g64_cal) job w2_g64_cal --set quant.bits=2 --set quant.group_size=64 "${cal[@]}" ;;
    dq2_cal) job dq2_cal "${dq[@]}" "${cal[@]}" ;;
    *) echo "dream_bits.sh: unknown variant $v" >&2; exit 2 ;;
  esac
  results+=(--result "$out/${v}_$k.h5")
done
$run "$bin"/aq-eval --model "$model" "${results[@]}" --tokens "$out/val_$k.ids" --sequences "$W" \
  --length 128 --timesteps "$T" --seed $((4321 + k)) --weights-only \
  --json "$out/bits_$k${TAG:-}.json" \
  > "$out/bits_$k${TAG:-}.txt"
echo "wrote $out/bits_$k${TAG:-}.json"
