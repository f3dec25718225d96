# scripts/dream_common.sh — sourced by dream_phases.sh, dream_groups.sh and dream_bits.sh after
# they set out, k, W, T: the protocol of docs/PHASES.md "Re-measured on tinystories-dream-4m".
# Sets model, corpus, bin, run (mpirun with RANKS ranks, 1 thread each); writes the disjoint
# windows of repetition k (calib and val lines k*W+1 .. (k+1)*W) to OUT/calib_k.ids and
# OUT/val_k.ids; makes OUT/stats_k.h5 (aq-calib, T steps, seed 1234+k) unless it is there
# (same k, W, T: same file).
# shellcheck shell=bash disable=SC2034,SC2154  # out k W T from the caller; the rest used by it
model=${MODEL:-../shared/models/tinystories-dream-4m} corpus=${CORPUS:-../shared/corpus}
bin=${BIN:-build}
run="mpirun --oversubscribe --bind-to none --allow-run-as-root -x OMP_NUM_THREADS=1 -n ${RANKS:-2}"
mkdir -p "$out"
sed -n "$((k * W + 1)),$(((k + 1) * W))p" "$corpus/calib.ids.txt" > "$out/calib_$k.ids"
sed -n "$((k * W + 1)),$(((k + 1) * W))p" "$corpus/val.ids.txt" > "$out/val_$k.ids"
if [ ! -s "$out/stats_$k.h5" ]; then
  $run "$bin"/aq-calib --model "$model" --tokens "$out/calib_$k.ids" --sequences "$W" \
    --length 128 --timesteps "$T" --seed $((1234 + k)) --out "$out/stats_$k.h5" > /dev/null
fi
