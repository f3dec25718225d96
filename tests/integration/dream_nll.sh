#!/usr/bin/env bash
# dream_nll.sh BIN_DIR MODEL CORPUS WORK
# aq-eval uses tinystories-dream-4m as Dream is used (bidirectional attention, positions
# 1..L-1 masked with exactly round(u (L-1)) masks, BOS kept, the prediction for position i read
# from logits row i-1, mask token 2048): the full-precision masked-token NLL and accuracy at
# u = 0.1, 0.5, 0.9 on the first 128 validation windows must match the table of the model's
# SOURCE.txt (measured on the held-out test split, 512 windows) within a tolerance set by the
# sample size (dream_check.py).  Exit 77 when the model or the corpus is absent.
set -euo pipefail
bin=$1 model=$2 corpus=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
for f in "$model/model.safetensors" "$corpus/val.ids.txt"; do
  [[ -r $f ]] || { echo "SKIP: $f is missing"; exit 77; }
done
mkdir -p "$work"
mpirun --oversubscribe --allow-run-as-root -n 2 "$bin/aq-eval" --model "$model" \
  --tokens "$corpus/val.ids.txt" --sequences 128 --length 128 --timesteps 5 \
  --json "$work/nll.json" > "$work/nll.txt"
cat "$work/nll.txt"
/usr/bin/python3 "$here/dream_check.py" nll "$work/nll.json"
