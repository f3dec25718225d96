#!/usr/bin/env bash
# ggml_rows_test.sh BIN_DIR MODEL FORMAT WORKDIR LLAMA_CPP_DIR [--mpi]
# A job with quant.format = FORMAT on MODEL: every quantized tensor is stored in FORMAT's
# ggml blocks, or in llama-quantize's fallback format (named in the file) when its rows do
# not fit FORMAT's block; an independent numpy decoder of the HDF5 blocks (and llama.cpp's
# gguf-py when LLAMA_CPP_DIR has it) equals `aq-inspect --export --dtype f32` bit for bit
# (ggml_rows_check.py).  --mpi: the same job on 3 ranks gives a bit-identical file.
set -euo pipefail
bin=$1 model=$2 fmt=$3 work=$4 llama=$5 mpi=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
test -d "$model" || { echo "ggml_rows_test: $model not found: skipped"; exit 77; }
mkdir -p "$work"
bash "$here/run_job.sh" "$bin" 1 "$model" "$work/$fmt.n1.h5" --set quant.format="$fmt" \
  > "$work/$fmt.n1.log"
grep -E '^(formats|weights) ' "$work/$fmt.n1.log"
grep -m 1 'fallback from' "$work/$fmt.n1.log" || true
"$bin/aq-inspect" --export "$work/$fmt.safetensors" --dtype f32 "$work/$fmt.n1.h5" >/dev/null
/usr/bin/python3 "$here/ggml_rows_check.py" "$work/$fmt.n1.h5" "$work/$fmt.safetensors" "$fmt" \
  "$llama"
"$bin/aq-inspect" --verify "$work/$fmt.n1.h5"
if [ "$mpi" = --mpi ]; then
  bash "$here/run_job.sh" "$bin" 3 "$model" "$work/$fmt.n3.h5" --set quant.format="$fmt" \
    > "$work/$fmt.n3.log"
  /usr/bin/python3 "$here/compare_results.py" "$work/$fmt.n1.h5" "$work/$fmt.n3.h5"
fi
echo "ggml_rows_test: ok ($fmt, $(basename "$model"))"
