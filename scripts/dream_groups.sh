#!/usr/bin/env bash
# dream_groups.sh OUT_DIR SEED_INDEX [WINDOWS] [T]
# docs/PHASES.md "Re-measured on tinystories-dream-4m", time groups: K = 1 vs K = 4 vs one
# group per step (K = T) at act_bits 8 and 6, W4 `mse` g64, no phases (phase1.ini with
# phase1.enabled=false: min/max ranges per optimized time group), statistics from aq-calib on
# corpus windows and aq-eval on validation windows, the same windows and seeds as
# dream_phases.sh with the same SEED_INDEX (its stats file is reused when present).
# PHASES (environment) base (default: the above) or p13 (jobs/phase3.ini, Phases 1+3, Phase 2
# off, min_steps 2 except min_steps 1 at K = T; files w4aA_p13_kK_k.h5,
# groups_k_p13.json); ACT_BITS (default "8 6") and TGROUPS (default
# "1 4 T") pick a subset; RANKS the number of MPI ranks (default 2); BIN the directory of the
# binaries (default build).
set -euo pipefail
out=$1 k=$2 W=${3:-32} T=${4:-8}
# shellcheck source=scripts/dream_common.sh
. "$(dirname "$0")/dream_common.sh"
case ${PHASES:-base} in
  base) cfg=(--config jobs/phase1.ini --set phase1.enabled=false) tag= ;;
  p13) cfg=(--config jobs/phase3.ini --set phase2.enabled=false) tag=_p13 ;;
  *) echo "dream_groups.sh: PHASES must be base or p13" >&2; exit 2 ;;
esac
results=()
for a in ${ACT_BITS:-8 6}; do
  for K in ${TGROUPS:-1 4 $T}; do
    ms=() # phase3.ini's min_steps = 2 cannot make one group per step: 1 there
    [ "$K" = "$T" ] && [ "$tag" = _p13 ] && ms=(--set timegroups.min_steps=1)
    $run "$bin"/aq-mpi "${cfg[@]}" "${ms[@]}" \
      --set model.path="$model" --set calib.synthetic=false --set calib.path="$out/stats_$k.h5" \
      --set quant.bits=4 --set timegroups.count="$K" --set timegroups.act_bits="$a" \
      --set run.threads=1 --set output.path="$out/w4a${a}${tag}_k${K}_$k.h5" > /dev/null
    results+=(--result "$out/w4a${a}${tag}_k${K}_$k.h5")
  done
done
$run "$bin"/aq-eval --model "$model" "${results[@]}" --tokens "$out/val_$k.ids" --sequences "$W" \
  --length 128 --timesteps "$T" --seed $((4321 + k)) --json "$out/groups_$k$tag.json" \
  > "$out/groups_$k$tag.txt"
echo "wrote $out/groups_$k$tag.json"
