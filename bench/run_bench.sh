#!/usr/bin/env bash
# aq-mpi benchmark run: kernels, quality, scaling (strong and weak), memory/end to end.
# Writes JSON under OUT (default bench/results), then the PNG plots (gnuplot) and the
# markdown report (bench/make_report.py).  Everything runs under `nice`: the machine is
# shared, so every rate is computed from CPU time and the load is recorded.
#
#   bench/run_bench.sh [--build DIR] [--out DIR] [--quick] [--parts kernels,quality,scaling,memory]
#
# --quick  smaller models and --scale 0.25 for quality (a smoke run, not the reference).
# Scaling study on more cores/nodes: set RANKS="1 2 4 8" THREADS="1 2 4" (each product must
# fit the allocation) and MPIRUN="srun" or "mpirun -n"; the script runs every pair.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build
OUT=bench/results
QUICK=0
PARTS=kernels,quality,scaling,memory
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --parts) PARTS=$2; shift 2 ;;
    *) echo "run_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
BENCH=$BUILD/aq-bench
SYNTH=$BUILD/aq-synth
[ -x "$BENCH" ] || { echo "run_bench.sh: $BENCH not built" >&2; exit 2; }
mkdir -p "$OUT"
RANKS=${RANKS:-"1 2"}
THREADS=${THREADS:-"1 2"}
MAXPROCS=${MAXPROCS:-$(nproc)}
MODELS=${MODELS:-/tmp/aq-bench-models}
if [ -z "${MPIRUN:-}" ]; then
  MPIRUN="mpirun --oversubscribe --bind-to none"
  [ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
  MPIRUN="$MPIRUN -n"
fi
has() { [[ ",$PARTS," == *",$1,"* ]]; }
note_load() { echo "{\"part\": \"$1\", \"when\": \"$(date -u +%FT%TZ)\", \"uptime\": \"$(uptime | sed 's/.*load/load/')\"}" >> "$OUT/load.jsonl"; }

[ "$PARTS" = kernels,quality,scaling,memory ] && : > "$OUT/load.jsonl"
lscpu | grep -E "Model name|^CPU\(s\)|Flags" | sed 's/Flags:.*/(flags omitted)/' > "$OUT/machine.txt" || true

if has kernels; then
  note_load kernels
  nice "$BENCH" kernels --threads 1 --min-seconds 0.3 --json "$OUT/kernels.json" | tee "$OUT/kernels.txt"
fi

if has quality; then
  note_load quality
  SC=1; [ $QUICK -eq 1 ] && SC=0.25
  nice "$BENCH" quality --threads 1 --scale $SC --json "$OUT/quality.json" 2>/dev/null | tee "$OUT/quality.txt"
fi

if has scaling; then
  MW=512; [ $QUICK -eq 1 ] && MW=64
  : > "$OUT/scaling.jsonl"
  for mode in strong weak; do
    for r in $RANKS; do
      for t in $THREADS; do
        [ $((r * t)) -le "$MAXPROCS" ] || continue
        [ $mode = weak ] && [ "$t" != 1 ] && continue
        note_load "scaling-$mode-$r-$t"
        W=""; [ $mode = weak ] && W=--weak
        OMP_NUM_THREADS=$t nice $MPIRUN "$r" "$BENCH" scaling --threads "$t" --mweights $MW $W \
          --repeat 5 --json "$OUT/scaling.jsonl" 2>/dev/null | grep "aq-bench scaling"
      done
    done
  done
fi

if has memory; then
  # Synthetic Qwen2-layout models of growing size (same largest tensor: the embedding).
  LAYERS=${LAYERS:-"2 8 16"}; [ $QUICK -eq 1 ] && LAYERS="1 2"
  mkdir -p "$MODELS"
  : > "$OUT/memory.jsonl"
  for l in $LAYERS; do
    d=$MODELS/medium-$l
    [ -f "$d/model.safetensors.index.json" ] || [ -f "$d/model-00001-of-00001.safetensors" ] ||
      nice "$SYNTH" --preset medium --layers "$l" --out "$d" > /dev/null
    for r in $RANKS; do
      [ "$r" -le "$MAXPROCS" ] || continue
      note_load "memory-$l-$r"
      # bf16 (page cache) -> packed 4-bit HDF5, rtn, every weight quantized, zstd level 1
      OMP_NUM_THREADS=1 nice $MPIRUN "$r" "$BENCH" memory --model "$d" --repeat 3 \
        --set quant.bits=4 --set quant.method=rtn --set quant.embeddings=true \
        --set output.compression_level=1 --set run.threads=1 --json "$OUT/memory.jsonl" 2>/dev/null |
        grep -E "aq-bench memory|rank"
    done
  done
fi

if command -v gnuplot > /dev/null; then
  python3 bench/make_report.py --results "$OUT" --plots
else
  echo "run_bench.sh: gnuplot not found (apt-get install gnuplot-nox): report without plots" >&2
  python3 bench/make_report.py --results "$OUT"
fi
echo "run_bench.sh: results in $OUT (report: $OUT/REPORT.md)"
