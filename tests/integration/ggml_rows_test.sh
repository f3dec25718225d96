#!/usr/bin/env bash
# ggml_rows_test.sh BIN_DIR MODEL FORMAT WORKDIR LLAMA_CPP_DIR [--mpi]
# A job with quant.format = FORMAT on MODEL: every quantized tensor is stored in FORMAT's
# ggml blocks, or in llama-quantize's fallback format (named in the file) when its rows do
# not fit FORMAT's block; an independent numpy decoder of the HDF5 blocks (and llama.cpp's
# gguf-py when LLAMA_CPP_DIR has it) equals `aq-inspect --export --dtype f32` bit for bit
# (ggml_rows_check.py).  --mpi: the same job on 3 ranks gives a bit-identical file.
# MODEL "synthetic": a safetensors file written here with rows of 256, 288 (a multiple of 32
# only) and 48 (no block fits) weights, for the whole fallback chain.
set -euo pipefail
bin=$1 model=$2 fmt=$3 work=$4 llama=$5 mpi=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
export HDF5_PLUGIN_PATH=${HDF5_PLUGIN_PATH:-$bin/plugins} # the zstd filter, for h5py
mkdir -p "$work"
if [ "$model" = synthetic ]; then
  model=$work/odd_rows.safetensors
  /usr/bin/python3 - "$model" <<'PY'
import json, struct, sys
import numpy as np
rng = np.random.default_rng(7)
shapes = {"model.layers.0.mlp.down_proj.weight": (16, 288),
          "model.layers.0.mlp.up_proj.weight": (8, 48),
          "model.layers.0.self_attn.q_proj.weight": (12, 256),
          "model.norm.weight": (256,)}
head, blobs, off = {}, [], 0
for k, s in shapes.items():
    b = (rng.standard_normal(s) * 0.05).astype("<f4").tobytes()
    head[k] = {"dtype": "F32", "shape": list(s), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(head).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
PY
fi
test -e "$model" || { echo "ggml_rows_test: $model not found: skipped"; exit 77; }
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
grep -m 1 'fit no ggml block' "$work/$fmt.n1.log" || true
echo "ggml_rows_test: ok ($fmt, $(basename "$model"))"
