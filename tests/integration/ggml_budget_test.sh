#!/usr/bin/env bash
# ggml_budget_test.sh BIN_DIR MODEL BASE BUDGET WORKDIR LLAMA_CPP_DIR
# Mixed ggml formats under a size budget (quant.budget_bits with quant.format = BASE,
# embeddings and output included): on 1 and 3 ranks the files are bit-identical
# (compare_results.py); the file spends at most BUDGET bits per quantized weight and uses more
# than one format (budget_check.py); every tensor is in a format of its candidate chain,
# recorded with budget_chosen = 1, and decodes bit for bit in numpy and gguf-py as
# `aq-inspect --export --dtype f32` does (ggml_rows_check.py mix:BASE); the GGUF export opens
# in gguf-py with every tensor equal to that f32 export (gguf_check.py).
set -euo pipefail
bin=$1 model=$2 base=$3 budget=$4 work=$5 llama=$6
here=$(cd "$(dirname "$0")" && pwd)
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$bin/plugins} # the zstd filter, for h5py
test -e "$model" || { echo "ggml_budget_test: $model not found: skipped"; exit 77; }
mkdir -p "$work"
set_args=(--set quant.format="$base" --set quant.budget_bits="$budget" --set quant.embeddings=true)
for n in 1 3; do
  bash "$here/run_job.sh" "$bin" $n "$model" "$work/mix.n$n.h5" "${set_args[@]}" > "$work/mix.n$n.log"
done
grep -E '^(budget|formats):? ' "$work/mix.n1.log"
grep -q "allocated over ggml formats from $base up by weighted relative error x weights" "$work/mix.n1.log"
/usr/bin/python3 "$here/compare_results.py" "$work/mix.n1.h5" "$work/mix.n3.h5"
/usr/bin/python3 "$here/budget_check.py" "$work/mix.n1.h5" "$budget"
"$bin/aq-inspect" --export "$work/mix.safetensors" --dtype f32 "$work/mix.n1.h5" >/dev/null
/usr/bin/python3 "$here/ggml_rows_check.py" "$work/mix.n1.h5" "$work/mix.safetensors" "mix:$base" \
  "$llama"
"$bin/aq-inspect" --verify "$work/mix.n1.h5"
if [ -d "$llama/gguf-py" ]; then
  rm -f "$work/mix.gguf"
  "$bin/aq-inspect" --export "$work/mix.gguf" --model "$model" "$work/mix.n1.h5" >/dev/null
  PYTHONPATH=$llama/gguf-py /usr/bin/python3 "$here/gguf_check.py" "$work/mix.gguf" \
    "$work/mix.safetensors" "$model"
else
  echo "ggml_budget_test: no gguf-py at $llama: GGUF export check skipped"
fi
echo "ggml_budget_test: ok ($base, budget $budget, $(basename "$model"))"
