#!/usr/bin/env bash
# inspect_check.sh BIN_DIR MODEL_DIR WORKDIR
# aq-inspect: the summary lists every tensor; --verify passes on a fresh result and fails
# (non-zero, naming the object) on a single flipped byte in a codes chunk, a passthrough
# chunk, the superblock, a tensor's object header and the config string; a sweep of flips
# over the whole file is detected at >= 95% (the rest is unused space); --export writes
# safetensors (bf16, f32, one tensor) equal to an independent numpy dequantization.
set -uo pipefail
bin=$1 model=$2 work=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"; mkdir -p "$work"
fail() { echo "FAIL inspect: $*"; exit 1; }
out="$work/r.h5"
bash "$root/tests/integration/run_job.sh" "$bin" 2 "$model" "$out" --set quant.bits=4 >/dev/null || fail "job"
"$bin/aq-inspect" "$out" >"$work/summary.txt" || fail "summary"
grep -q '^totals ' "$work/summary.txt" && grep -q 'SQNR' "$work/summary.txt" || fail "summary content"
"$bin/aq-inspect" --verify "$out" || fail "--verify of a fresh file"
echo "ok   summary and --verify of a fresh file"

/usr/bin/python3 - "$out" "$bin/aq-inspect" "$work" <<'PY' || fail "flipped bytes"
import os, subprocess, sys
import h5py
path, exe, work = sys.argv[1:4]
raw = open(path, "rb").read()

def verify(pos, label):
    data = bytearray(raw)
    data[pos] ^= 0x10
    bad = os.path.join(work, "flipped.h5")
    open(bad, "wb").write(data)
    r = subprocess.run([exe, "--verify", bad], capture_output=True, text=True)
    return r.returncode != 0, (r.stdout.strip().splitlines() or [""])[0]

with h5py.File(path, "r") as f:
    q = f["tensors/model.layers.0.mlp.up_proj.weight"]
    codes = q["codes"].id.get_chunk_info(0)
    data = f["tensors/model.norm.weight/data"].id.get_chunk_info(0)
    header = h5py.h5o.get_info(q.id).addr
targets = [(codes.byte_offset + codes.size // 2, "codes chunk"),
           (data.byte_offset + data.size // 2, "passthrough chunk"),
           (20, "superblock"), (header + 12, "tensor object header"),
           (raw.index(b"[quant]") + 2, "config string (global heap)")]
failed = 0
for pos, label in targets:
    ok, msg = verify(pos, label)
    print(("ok  " if ok else "FAIL") + f" flip at {pos} ({label}): {msg}")
    failed += not ok
n, missed = 100, 0
for k in range(n):
    missed += not verify((k * len(raw)) // n + 3, "sweep")[0]
print(f"sweep: {n - missed}/{n} flips detected")
sys.exit(1 if failed or missed > n // 20 else 0)
PY

for dt in bf16 f32; do
  "$bin/aq-inspect" --export "$work/x_$dt.safetensors" --dtype $dt "$out" >/dev/null || fail "export $dt"
done
"$bin/aq-inspect" --export "$work/one.safetensors" --tensor model.layers.1.mlp.down_proj.weight "$out" >/dev/null || fail "export one"
/usr/bin/python3 - "$out" "$work" "$model" <<'PY' || fail "exported values"
import json, struct, sys
import h5py, numpy as np
path, work, model = sys.argv[1:4]

def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); meta = h.pop("__metadata__", {})
    out = {}
    for k, e in h.items():
        s, t = e["data_offsets"]
        dt = {"F32": np.float32, "BF16": np.uint16}[e["dtype"]]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + t], dt).reshape(e["shape"])
    return out, meta

def dequantize(g):   # docs/FORMAT.md
    if g.attrs["kind"] == "passthrough":
        d = g["data"][...]
        return (d.astype(np.uint32) << 16).view(np.float32) if d.dtype == np.uint16 else d.astype(np.float32)
    bits, gs = int(g.attrs["bits"]), int(g.attrs["group_size"])
    shape = [int(s) for s in g.attrs["shape"]]
    rows, cols = shape[0], int(np.prod(shape[1:]))
    p = g["codes"][...]
    per = 8 // bits
    sh = (np.arange(per) * bits).astype(np.uint8)
    qv = ((p[:, :, None] >> sh) & ((1 << bits) - 1)).reshape(rows, -1)[:, :cols]
    sc = np.repeat(g["scale"][...].astype(np.float32), gs, axis=1)[:, :cols]
    mn = np.repeat(g["min"][...].astype(np.float32), gs, axis=1)[:, :cols]
    return (mn + qv.astype(np.float32) * sc).reshape(shape)

f32, meta32 = load(f"{work}/x_f32.safetensors")
bf, _ = load(f"{work}/x_bf16.safetensors")
one, _ = load(f"{work}/one.safetensors")
src, srcmeta = load(f"{model}/model.safetensors")
assert sorted(f32) == sorted(src), (sorted(set(f32) ^ set(src)))
assert meta32 == {k: v for k, v in srcmeta.items() if k not in src and v in src}, (meta32, srcmeta)
assert list(one) == ["model.layers.1.mlp.down_proj.weight"]
with h5py.File(path, "r") as f:
    for k in f32:
        ref = dequantize(f["tensors"][k])
        assert f32[k].shape == ref.shape and np.array_equal(f32[k], ref), k
        w = (bf[k].astype(np.uint32) << 16).view(np.float32)
        assert np.allclose(w, ref, rtol=2 ** -7, atol=0), k
    assert np.array_equal(one["model.layers.1.mlp.down_proj.weight"].view(np.uint16), bf["model.layers.1.mlp.down_proj.weight"])
print(f"ok   export: {len(f32)} tensors, aliases {meta32}, f32 exact, bf16 within rounding")
PY
echo "inspect_check: ok"
