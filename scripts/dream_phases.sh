#!/usr/bin/env bash
# dream_phases.sh OUT_DIR SEED_INDEX [WINDOWS] [T]
# docs/PHASES.md "Re-measured on tinystories-dream-4m": base (phase1.ini with Phase 1 off:
# min/max time groups), Phase 1+2 (phase2.ini), Phase 1+2+3 (phase3.ini), Phase 1+3
# (phase3.ini with phase2.enabled=false: Phase 3's groups used as a hard switch, no smoothing)
# at W4A8 and W2A8, with statistics from aq-calib on corpus windows and aq-eval on validation
# windows.  VARIANTS (environment) picks a subset, default "base p12 p123 p13"; a variant with
# the suffix _g (base_g, p13_g, ...) runs with timegroups.error_model=gaussian instead of the
# default mixture (docs/PHASES.md "Measured (aq-eval, real model)"); RANKS the
# number of MPI ranks (default 2); BIN the directory of the binaries (default build); TAG a suffix
# of the eval file names (eval_k$TAG.json), so runs of other variants keep the first ones.
# SEED_INDEX k picks disjoint windows (calib lines and val lines k*W+1 .. (k+1)*W) and the
# masking seeds 1234+k (aq-calib) and 4321+k (aq-eval), so runs with different k are
# independent repetitions.
set -euo pipefail
out=$1 k=$2 W=${3:-32} T=${4:-8}
# shellcheck source=scripts/dream_common.sh
. "$(dirname "$0")/dream_common.sh"
results=()
for b in 4 2; do
  for v in ${VARIANTS:-base p12 p123 p13}; do
    em=()
    case $v in *_g) em=(--set timegroups.error_model=gaussian) ;; esac
    case ${v%_g} in
      base) cfg=jobs/phase1.ini extra=(--set phase1.enabled=false) ;;
      p12) cfg=jobs/phase2.ini extra=() ;;
      p123) cfg=jobs/phase3.ini extra=(--set phase2.enabled=true) ;;
      p13) cfg=jobs/phase3.ini extra=(--set phase2.enabled=false) ;;
    esac
    $run "$bin"/aq-mpi --config "$cfg" "${extra[@]}" "${em[@]}" --set model.path="$model" \
      --set calib.synthetic=false --set calib.path="$out/stats_$k.h5" --set quant.bits=$b \
      --set run.threads=1 --set output.path="$out/w${b}a8_${v}_$k.h5" > /dev/null
    results+=(--result "$out/w${b}a8_${v}_$k.h5")
  done
done
$run "$bin"/aq-eval --model "$model" "${results[@]}" --tokens "$out/val_$k.ids" --sequences "$W" \
  --length 128 --timesteps "$T" --seed $((4321 + k)) --json "$out/eval_$k${TAG:-}.json" \
  > "$out/eval_$k${TAG:-}.txt"
echo "wrote $out/eval_$k${TAG:-}.json"
