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
     || [ -e "$out" ] || [ -e "$out.partial" ] || grep -Eq 'Sanitizer|runtime error:' "$err"; then
    echo "FAIL $name: exit $code (want $want), $lines stderr lines, want /$pattern/:"; cat "$err"
    fail=$((fail + 1))
  else
    echo "ok   $name: $(grep '^aq-mpi: error:' "$err")"; pass=$((pass + 1))
  fi
}
# AQ_SINGLETON=1 (the ASan+UBSan build): aq-mpi runs without mpirun as an MPI singleton, so
# sanitizer reports are not mixed with mpirun's output; every case then runs on one rank.
if [ "${AQ_SINGLETON:-0}" = 1 ]; then
  run1() { "$bin/aq-mpi" "$@"; }
  run2() { "$bin/aq-mpi" "$@"; }
else
  run1() { mpirun --allow-run-as-root -n 1 "$bin/aq-mpi" "$@"; }
  run2() { mpirun --allow-run-as-root --oversubscribe -n 2 "$bin/aq-mpi" "$@"; }
fi
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
printf '[quant]\nbits = 5\n' > "$work/bad.ini"
expect config_value 2 "bad.ini:2: quant.bits" -- run1 --config "$work/bad.ini" --set model.path="$model"
printf '[quant]\nbits = 4\ncolour = red\n' > "$work/unknown.ini"
expect config_key 2 "unknown.ini:3: unknown key 'colour'" -- run1 --config "$work/unknown.ini" --set model.path="$model"
expect set_value 2 "--set quant.group_size=48" -- run1 --config "$cfg" --set model.path="$model" --set quant.group_size=48

# output directory that does not exist: fails before any compute
OUT="$work/no/such/dir/x.h5" expect output_dir 1 "$work/no/such/dir" -- run1 --config "$cfg" --set model.path="$model"

# ---- hostile safetensors (issue 7): a header given verbatim, then DATA_BYTES zero bytes ----
# mkst FILE HEADER_TEXT DATA_BYTES  (a literal \xff in the text becomes an invalid UTF-8 byte)
mkst() {
  /usr/bin/python3 -c '
import struct, sys
path, header, nbytes = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
header = header.replace(b"\\xff", b"\xff")
open(path, "wb").write(struct.pack("<Q", len(header)) + header + bytes(nbytes))' "$@"
}
st() { # NAME PATTERN HEADER DATA_BYTES
  local name=$1 pattern=$2
  mkst "$work/$name.safetensors" "$3" "$4"
  expect "$name" 1 "$pattern" -- run1 --config "$cfg" --set model.path="$work/$name.safetensors"
}
st2() { # as st, for valid-but-unsupported input (exit 2, like a feature this version lacks)
  local name=$1 pattern=$2
  mkst "$work/$name.safetensors" "$3" "$4"
  expect "$name" 2 "$pattern" -- run1 --config "$cfg" --set model.path="$work/$name.safetensors"
}
T='"dtype":"F32","shape":[2,2]'
st header_utf8 "header_utf8.safetensors.*byte 0xff" '{"a\xff":{'"$T"',"data_offsets":[0,16]}}' 16
st duplicate_name "duplicate_name.safetensors: duplicate tensor name.*'\"a\"'" '{"a":{'"$T"',"data_offsets":[0,16]},"a":{'"$T"',"data_offsets":[16,32]}}' 32
st offsets_out_of_bounds "offsets_out_of_bounds.safetensors.*'b'" '{"a":{'"$T"',"data_offsets":[0,16]},"b":{'"$T"',"data_offsets":[16,32]}}' 24
st offsets_overlap "offsets_overlap.safetensors.*'b'" '{"a":{'"$T"',"data_offsets":[0,16]},"b":{'"$T"',"data_offsets":[8,24]}}' 24
st offsets_gap "offsets_gap.safetensors.*'b'" '{"a":{'"$T"',"data_offsets":[0,16]},"b":{'"$T"',"data_offsets":[20,36]}}' 36
st size_mismatch "size_mismatch.safetensors.*'a'" '{"a":{'"$T"',"data_offsets":[0,12]}}' 12
st shape_overflow "shape_overflow.safetensors.*'a'" '{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}' 16
st2 dtype_unsupported "dtype_unsupported.safetensors: tensor 'a': dtype is not supported" '{"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}' 16
st negative_dim "negative_dim.safetensors.*'a'" '{"a":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}}' 16

# header length above the 100 MB limit (a sparse file longer than the claimed header)
printf '\x00\x00\x00\x08\x00\x00\x00\x00{}' > "$work/header_100mb.safetensors"
truncate -s 200M "$work/header_100mb.safetensors"
expect header_above_100mb 1 "header_100mb.safetensors" -- run1 --config "$cfg" --set model.path="$work/header_100mb.safetensors"

# Inf weight (as NaN above)
/usr/bin/python3 -c '
import json, struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
h = json.loads(data[8:8 + n])
off = 8 + n + h["model.layers.0.mlp.up_proj.weight"]["data_offsets"][0] + 4 * 129
data[off:off + 4] = struct.pack("<f", float("-inf"))
open(sys.argv[2], "wb").write(data)' "$model" "$work/inf.safetensors"
expect inf_weight 1 "model.layers.0.mlp.up_proj.weight.*\[1, 1\]" -- run2 --config "$cfg" --set model.path="$work/inf.safetensors"

# NaN in a 2-D passthrough tensor (lm_head, quant.embeddings = false): checked by the rank
# that filters it (issue 16), the error names the tensor and the flat index
/usr/bin/python3 -c '
import json, struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
h = json.loads(data[8:8 + n])
off = 8 + n + h["lm_head.weight"]["data_offsets"][0] + 4 * 643
data[off:off + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(data)' "$model" "$work/nan_head.safetensors"
expect nan_passthrough 1 "lm_head.weight.*non-finite value nan at flat index 643" -- run2 --config "$cfg" --set model.path="$work/nan_head.safetensors"

# index: one tensor stored in two shards; an index that is not JSON
mkdir -p "$work/twice" "$work/badindex"
mkst "$work/twice/model-00001-of-00002.safetensors" '{"a.weight":{'"$T"',"data_offsets":[0,16]}}' 16
mkst "$work/twice/model-00002-of-00002.safetensors" '{"a.weight":{'"$T"',"data_offsets":[0,16]},"b.weight":{'"$T"',"data_offsets":[16,32]}}' 32
echo '{"weight_map":{"a.weight":"model-00001-of-00002.safetensors","b.weight":"model-00002-of-00002.safetensors"}}' \
  > "$work/twice/model.safetensors.index.json"
expect index_two_shards 1 "model.safetensors.index.json: tensor 'a.weight' is stored in two shards" -- run1 --config "$cfg" --set model.path="$work/twice"
cp "$work/twice/model-00001-of-00002.safetensors" "$work/badindex/"
echo '{"weight_map": {"a.weight": ' > "$work/badindex/model.safetensors.index.json"
expect index_json 1 "badindex/model.safetensors.index.json: invalid JSON" -- run1 --config "$cfg" --set model.path="$work/badindex"

# config: wrong types, out-of-range values, unknown section
printf '[quant]\nbits = four\n' > "$work/type.ini"
expect config_type 2 "type.ini:2: quant.bits" -- run1 --config "$work/type.ini" --set model.path="$model"
printf '[run]\nthreads = -3\n' > "$work/range.ini"
expect config_range 2 "range.ini:2: run.threads" -- run1 --config "$work/range.ini" --set model.path="$model"
printf '[phase1]\nthreshold = 0.5x\n' > "$work/double.ini"
expect config_double 2 "double.ini:2: phase1.threshold" -- run1 --config "$work/double.ini" --set model.path="$model"
printf '[colours]\nred = 1\n' > "$work/section.ini"
expect config_section 2 "section.ini:" -- run1 --config "$work/section.ini" --set model.path="$model"

# calibration files that disagree with the model (phase1 job, statistics from a file)
calib() { # NAME MODE: statistics for every linear weight; MODE T or channels breaks one layer
  /usr/bin/python3 -c '
import json, struct, sys
import h5py, numpy as np
model, out, mode = sys.argv[1:4]
with open(model, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
T = 8
with h5py.File(out, "w") as f:
    f.attrs["T"] = np.int32(T); f.attrs["source"] = "bad_input.sh"
    f.attrs["timestep"] = "mask ratio bin centre"; f.attrs["synthetic"] = np.int32(0)
    for name, e in sorted(h.items()):
        if name == "__metadata__" or len(e["shape"]) != 2 or not name.endswith("proj.weight"):
            continue
        bad = "layers.1.mlp.down_proj" in name
        rows = T - 1 if (mode == "T" and bad) else T
        cols = e["shape"][1] + (1 if (mode == "channels" and bad) else 0)
        g = f.create_group("stats/" + name)
        for k, v in (("min", -1.0), ("max", 1.0), ("mean", 0.0), ("std", 0.5), ("count", 100.0)):
            g[k] = np.full(rows, v, np.float64)
        g["sq_mean"] = np.full((rows, cols), 0.25, np.float32)
        g["absmax"] = np.full((rows, cols), 1.0, np.float32)' "$model" "$work/$1.h5" "$2"
}
p1=(--config "$root/jobs/phase1.ini" --set model.path="$model" --set calib.synthetic=false)
calib calib_t T
expect calib_timesteps 1 "calib_t.h5: layer model.layers.1.mlp.down_proj.weight: .*7 rows, the file's T is 8" \
  -- run2 "${p1[@]}" --set calib.path="$work/calib_t.h5"
calib calib_chan channels
expect calib_channels 1 "calib_chan.h5: layer model.layers.1.mlp.down_proj.weight: sq_mean has 385 channels, the model's weight has 384" \
  -- run2 "${p1[@]}" --set calib.path="$work/calib_chan.h5"
expect calib_missing 1 "nocalib.h5" -- run1 "${p1[@]}" --set calib.path="$work/nocalib.h5"

# full disk: a 256 KiB tmpfs when mounting works (root), else a file-size limit (ulimit -f)
full="$work/full"; mkdir -p "$full"
if mount -t tmpfs -o size=256k tmpfs "$full" 2>/dev/null; then
  OUT="$full/x.h5" expect disk_full 1 "x.h5.partial: No space left on device" -- run1 --config "$cfg" --set model.path="$model"
  umount "$full"
else
  before=$fail
  (trap '' XFSZ; ulimit -f 256
   OUT="$full/x.h5" expect disk_full 1 "x.h5.partial: No space left on device" -- run1 --config "$cfg" --set model.path="$model"
   [ "$fail" -eq "$before" ]) || fail=$((fail + 1))
fi

echo "bad_input: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
