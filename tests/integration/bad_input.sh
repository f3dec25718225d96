#!/usr/bin/env bash
# bad_input.sh BIN_DIR MODEL_FILE WORKDIR
# Each bad input must give: non-zero exit, a one-line error naming the file and the problem,
# and nothing under the final output name (nor a stray .partial).
set -uo pipefail
bin=$1 model=$2 work=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"; mkdir -p "$work"
pass=0 fail=0

# expect NAME WANT_CODE PATTERN -- command...
expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  local out=${OUT:-$work/$name.h5} err="$work/$name.err" code
  rm -f "$out" "$out.partial"
  "$@" --set output.path="$out" >"$work/$name.out" 2>"$err"; code=$?
  # mpirun adds its own banner when a rank exits non-zero; ours is exactly one line.
  local lines; lines=$(grep -c '^aq-mpi: error:' "$err" || true)
  if [ "$code" -ne "$want" ] || ! grep '^aq-mpi: error:' "$err" | grep -q -- "$pattern" || [ "$lines" -ne 1 ] \
     || [ -e "$out" ] || [ -e "$out.partial" ]; then
    echo "FAIL $name: exit $code (want $want), $lines stderr lines, want /$pattern/:"; cat "$err"
    fail=$((fail + 1))
  else
    echo "ok   $name: $(grep '^aq-mpi: error:' "$err")"; pass=$((pass + 1))
  fi
}
run1() { mpirun --allow-run-as-root -n 1 "$bin/aq-mpi" "$@"; }
run2() { mpirun --allow-run-as-root --oversubscribe -n 2 "$bin/aq-mpi" "$@"; }
cfg="$root/jobs/baseline.ini"

# truncated safetensors: cut the data section
head -c 100000 "$model" > "$work/truncated.safetensors"
expect truncated 1 "truncated.safetensors" -- run2 --config "$cfg" --set model.path="$work/truncated.safetensors"

# malformed header: length field larger than the file
printf '\xff\xff\x00\x00\x00\x00\x00\x00{}' > "$work/badlen.safetensors"
expect header_length 1 "badlen.safetensors" -- run1 --config "$cfg" --set model.path="$work/badlen.safetensors"

# header not JSON
printf '\x08\x00\x00\x00\x00\x00\x00\x00{"a": [}' > "$work/badjson.safetensors"
expect header_json 1 "badjson.safetensors" -- run1 --config "$cfg" --set model.path="$work/badjson.safetensors"

# a missing shard named by the index
mkdir -p "$work/sharded"
cp "$model" "$work/sharded/model-00001-of-00002.safetensors"
/usr/bin/python3 - "$model" "$work/sharded/model.safetensors.index.json" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    names = [k for k in json.loads(f.read(n)) if k != "__metadata__"]
wm = {k: "model-00001-of-00002.safetensors" for k in names}
wm["extra.weight"] = "model-00002-of-00002.safetensors"
json.dump({"metadata": {}, "weight_map": wm}, open(sys.argv[2], "w"))
PY
expect missing_shard 1 "model-00002-of-00002.safetensors" -- run2 --config "$cfg" --set model.path="$work/sharded"

# missing model directory
expect missing_model 1 "$work/nowhere" -- run1 --config "$cfg" --set model.path="$work/nowhere"

# NaN weight: patch one float of a quantized tensor (first weight of layer 1 q_proj)
/usr/bin/python3 - "$model" "$work/nan.safetensors" <<'PY'
import json, struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
h = json.loads(data[8:8 + n])
off = 8 + n + h["model.layers.1.self_attn.q_proj.weight"]["data_offsets"][0] + 4 * 130
data[off:off + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(data)
PY
expect nan_weight 1 "model.layers.1.self_attn.q_proj.weight.*\[1, 2\]" -- run2 --config "$cfg" --set model.path="$work/nan.safetensors"

# bad config values, with file and line
printf '[quant]\nbits = 3\n' > "$work/bad.ini"
expect config_value 2 "bad.ini:2: quant.bits" -- run1 --config "$work/bad.ini" --set model.path="$model"
printf '[quant]\nbits = 4\ncolour = red\n' > "$work/unknown.ini"
expect config_key 2 "unknown.ini:3: unknown key 'colour'" -- run1 --config "$work/unknown.ini" --set model.path="$model"
expect set_value 2 "--set quant.group_size=48" -- run1 --config "$cfg" --set model.path="$model" --set quant.group_size=48

# output directory that does not exist: fails before any compute
OUT="$work/no/such/dir/x.h5" expect output_dir 1 "$work/no/such/dir" -- run1 --config "$cfg" --set model.path="$model"

echo "bad_input: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
