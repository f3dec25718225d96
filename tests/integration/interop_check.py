#!/usr/bin/python3
"""Independent check of an aq-mpi result file (format "aq-mpi/1") against its source model.

    HDF5_PLUGIN_PATH=<build>/plugins /usr/bin/python3 interop_check.py RESULT.h5 MODEL_PATH

MODEL_PATH is a .safetensors file or a directory (model.safetensors, or shards listed in
model.safetensors.index.json).  Nothing from aq-mpi is used: the safetensors headers are
parsed here, codes are unpacked and dequantized with numpy, and the errors are recomputed
in float64 and compared with the attributes the C code stored.  One line per tensor, then
"interop: N passed, M failed"; the exit status is non-zero when anything failed.
"""
import json
import math
import os
import struct
import sys

import h5py
import numpy as np

SQNR_TOL_DB = 0.01
REL_MSE_TOL = 1e-6
BLOCK_ELEMS = 1 << 24  # rows are processed in blocks of about this many weights
ST_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}


class CheckError(Exception):
    pass


# ---------------------------------------------------------------- safetensors (source)

class SourceTensor:
    def __init__(self, path, base, info):
        self.path = path
        self.dtype = info["dtype"]
        self.shape = [int(s) for s in info["shape"]]
        begin, end = info["data_offsets"]
        self.offset = base + int(begin)
        self.nbytes = int(end) - int(begin)

    def raw(self):
        """The tensor's elements as stored (uint16 for BF16), flat."""
        if self.dtype not in ST_DTYPES:
            raise CheckError(f"unsupported source dtype {self.dtype}")
        dt = ST_DTYPES[self.dtype]
        count = self.nbytes // dt.itemsize
        if count == 0:
            return np.zeros(0, dt)
        return np.memmap(self.path, dtype=dt, mode="r", offset=self.offset, shape=(count,))

    def rows_f32(self, r0, r1, cols):
        """Rows [r0, r1) of the 2-D view [shape[0], prod(rest)] widened to float32."""
        raw = self.raw()[r0 * cols:r1 * cols]
        if self.dtype == "BF16":
            wide = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            wide = raw.astype(np.float32)
        return wide.reshape(r1 - r0, cols)


def read_header(path):
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
    return header, 8 + n


def safetensors_files(model_path):
    if os.path.isfile(model_path):
        return [model_path]
    index = os.path.join(model_path, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as fh:
            weight_map = json.load(fh)["weight_map"]
        return [os.path.join(model_path, f) for f in sorted(set(weight_map.values()))]
    return [os.path.join(model_path, "model.safetensors")]


def load_model(model_path):
    """({name: SourceTensor}, {alias: target}) over all files."""
    tensors, meta = {}, {}
    for path in safetensors_files(model_path):
        header, base = read_header(path)
        meta.update(header.pop("__metadata__", None) or {})
        for name, info in header.items():
            tensors[name] = SourceTensor(path, base, info)
    # An alias is a metadata entry naming a stored tensor under a name that is not stored.
    aliases = {k: v for k, v in meta.items()
               if isinstance(v, str) and v in tensors and k not in tensors}
    return tensors, aliases


# ---------------------------------------------------------------- result file

def unpack_codes(packed, bits, cols):
    """lsb-first-row-aligned: code i of a row at bit i*bits of the row's bytes (any width)."""
    packed = np.asarray(packed, dtype=np.uint8)
    b = np.unpackbits(packed, axis=1, bitorder="little")
    if np.any(b[:, cols * bits:]):
        raise CheckError("padding bits after the last code of a row are not zero")
    b = b[:, :cols * bits].reshape(packed.shape[0], cols, bits).astype(np.uint16)
    weights = (1 << np.arange(bits, dtype=np.uint16)).astype(np.uint16)
    return (b * weights).sum(axis=2).astype(np.uint8)


def dequantize(q, scale, mn, group_size, cols):
    """w^ = min + q * scale in float32, scale/min repeated along the columns."""
    s = np.repeat(scale.astype(np.float32), group_size, axis=1)[:, :cols]
    m = np.repeat(mn.astype(np.float32), group_size, axis=1)[:, :cols]
    return m + q.astype(np.float32) * s


def attr_str(obj, name):
    v = obj.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def expect(cond, msg):
    if not cond:
        raise CheckError(msg)


def common_attrs(g, src):
    expect(int(g.attrs.get("complete", 0)) == 1, "attribute complete != 1")
    shape = [int(x) for x in np.asarray(g.attrs["shape"]).reshape(-1)]
    expect(shape == src.shape, f"shape {shape} != source {src.shape}")
    expect(attr_str(g, "orig_dtype") == src.dtype,
           f"orig_dtype {attr_str(g, 'orig_dtype')} != source {src.dtype}")


def two_d(shape):
    rows = shape[0] if shape else 1
    cols = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    return rows, cols


class PlainParams:
    """scale/min float16|float32 [rows, groups] (docs/DESIGN.md §6.2)."""

    def __init__(self, g, rows, gs, groups):
        self.scale, self.mn, self.gs = g["scale"], g["min"], gs
        expect(self.scale.shape == (rows, groups) and self.mn.shape == (rows, groups),
               f"scale/min shape {self.scale.shape}/{self.mn.shape}, want {(rows, groups)}")
        want = {"f16": np.float16, "f32": np.float32}[attr_str(g, "scale_dtype")]
        expect(self.scale.dtype == want and self.mn.dtype == want, f"scale dtype {self.scale.dtype}")

    def group_params(self, r0, r1):
        return self.scale[r0:r1].astype(np.float32), self.mn[r0:r1].astype(np.float32)


class DqParams:
    """Double-quantized: scale_g = super_scale[g*G//256] * sc_g, min_g = super_min[..] * mc_g,
    (sc_g, mc_g) packed in `sub` at dq_bits each, order sc_0 mc_0 sc_1 mc_1 (docs/FORMAT.md)."""

    def __init__(self, g, rows, cols, gs, groups):
        self.sb, self.gs, self.groups = int(g.attrs["dq_bits"]), gs, groups
        expect(int(g.attrs["super_size"]) == 256, "super_size != 256")
        expect(4 <= self.sb <= 8 and 256 % gs == 0, f"dq layout dq_bits {self.sb} group {gs}")
        supers = -(-cols // 256)
        self.sub, self.d, self.dm = g["sub"], g["super_scale"], g["super_min"]
        expect(self.sub.shape == (rows, -(-2 * groups * self.sb // 8)), f"sub shape {self.sub.shape}")
        expect(self.d.shape == (rows, supers) and self.dm.shape == (rows, supers),
               f"super_scale/super_min shape {self.d.shape}/{self.dm.shape}")
        expect(self.d.dtype == np.float16 and self.dm.dtype == np.float16, "super dtype not f16")

    def group_params(self, r0, r1):
        u = unpack_codes(self.sub[r0:r1], self.sb, 2 * self.groups)
        owner = (np.arange(self.groups) * self.gs) // 256
        d = self.d[r0:r1].astype(np.float32)[:, owner]
        dm = self.dm[r0:r1].astype(np.float32)[:, owner]
        return d * u[:, 0::2].astype(np.float32), dm * u[:, 1::2].astype(np.float32)


def check_quantized(g, src):
    bits, gs = int(g.attrs["bits"]), int(g.attrs["group_size"])
    dq = attr_str(g, "scale_dtype") == "dq"
    expect(bits in ((2, 3, 4, 8) if dq else (2, 4, 8)), f"bits {bits} not allowed")
    expect(attr_str(g, "packing") == "lsb-first-row-aligned", "unknown packing")
    rows, cols = two_d(src.shape)
    groups = -(-cols // gs)
    codes = g["codes"]
    expect(codes.dtype == np.uint8, f"codes dtype {codes.dtype}")
    expect(codes.shape == (rows, -(-cols * bits // 8)), f"codes shape {codes.shape}")
    params = DqParams(g, rows, cols, gs, groups) if dq else PlainParams(g, rows, gs, groups)
    err = ref = 0.0
    step = max(1, BLOCK_ELEMS // max(cols, 1))
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        q = unpack_codes(codes[r0:r1], bits, cols)
        expect(int(q.max(initial=0)) < (1 << bits), "code >= 2^bits")
        scale, mn = params.group_params(r0, r1)
        w_hat = dequantize(q, scale, mn, gs, cols).astype(np.float64)
        w = src.rows_f32(r0, r1, cols).astype(np.float64)
        err += float(np.sum((w - w_hat) ** 2))
        ref += float(np.sum(w * w))
    rel = err / ref if ref > 0 else (0.0 if err == 0 else math.inf)
    sqnr = -10.0 * math.log10(rel) if rel > 0 else math.inf
    f_rel, f_sqnr = float(g.attrs["rel_mse"]), float(g.attrs["sqnr_db"])
    if math.isinf(sqnr) or math.isinf(f_sqnr):
        expect(sqnr == f_sqnr, f"sqnr_db {f_sqnr} != recomputed {sqnr}")
    else:
        expect(abs(sqnr - f_sqnr) <= SQNR_TOL_DB, f"sqnr_db {f_sqnr:.4f} != recomputed {sqnr:.4f}")
    expect(abs(rel - f_rel) <= REL_MSE_TOL * max(abs(rel), abs(f_rel)),
           f"rel_mse {f_rel:.9g} != recomputed {rel:.9g}")
    return f"quantized {bits}-bit g{gs} {attr_str(g, 'method')}{' dq' if dq else ''} sqnr {sqnr:.2f} dB (file {f_sqnr:.2f})"


def check_passthrough(g, src):
    data = g["data"]
    want_shape = tuple(src.shape) if src.shape else (1,)
    expect(data.shape == want_shape, f"data shape {data.shape} != {want_shape}")
    want_dt = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}[src.dtype]
    expect(data.dtype == want_dt, f"data dtype {data.dtype} for {src.dtype}")
    if src.dtype == "BF16":
        expect(attr_str(data, "dtype") == "bf16", "BF16 data lacks dtype=\"bf16\"")
    got = data[()].astype(data.dtype.newbyteorder("<")).tobytes() if data.size else b""
    expect(got == np.asarray(src.raw()).tobytes(), "bytes differ from the source")
    return f"passthrough {src.dtype} {list(src.shape)} bytes identical"


def check_tensor(f, name, src):
    g = f["tensors"][name]
    common_attrs(g, src)
    kind = attr_str(g, "kind")
    if kind == "quantized":
        return check_quantized(g, src)
    if kind == "passthrough":
        return check_passthrough(g, src)
    raise CheckError(f"unknown kind {kind!r}")


def check_alias(f, name, target):
    tg = f["tensors"]
    expect(target in tg, f"alias target {target} missing")
    expect(tg[name].id == tg[target].id, f"not the same object as {target}")
    return f"alias of {target}"


def classify(f, tensors, aliases):
    """Every name under /tensors as stored, alias (of a target) or unknown."""
    tg = f["tensors"]
    by_id = {}
    for name in tg:
        if name in tensors:
            by_id.setdefault(tg[name].id, name)
    jobs = []
    for name in sorted(tg):
        if name in tensors:
            jobs.append((name, "tensor", tensors[name]))
        elif name in aliases:
            jobs.append((name, "alias", aliases[name]))
        elif tg[name].id in by_id:
            jobs.append((name, "alias", by_id[tg[name].id]))
        else:
            jobs.append((name, "unknown", None))
    return jobs


def shape_of(ds):
    return tuple(int(x) for x in ds.shape)


def check_act(f):
    """(name, ok, msg) for /timegroups and each /act/<name>: shapes against K and T."""
    out = []
    K = T = None
    if "timegroups" in f:
        try:
            tg = f["timegroups"]
            K, T = int(tg.attrs["K"]), int(tg.attrs["T"])
            expect(shape_of(tg["boundaries"]) == (K + 1,), "boundaries shape != (K+1,)")
            expect(shape_of(tg["time_weight"]) == (T,), "time_weight shape != (T,)")
            expect(shape_of(tg["alphabar"]) == (T,), "alphabar shape != (T,)")
            b = tg["boundaries"][...]
            expect(b[0] == 0 and b[-1] == T and bool(np.all(np.diff(b) > 0)),
                   f"boundaries {b.tolist()} do not rise from 0 to T={T}")
            out.append(("/timegroups", True, f"K={K} T={T}"))
        except (CheckError, KeyError, OSError, ValueError) as e:
            out.append(("/timegroups", False, str(e)))
    for name in sorted(f["act"]) if "act" in f else []:
        try:
            g = f["act"][name]
            expect(K is not None, "/act without /timegroups")
            for d in ("lo", "hi", "scale", "zero"):
                expect(shape_of(g[d]) == (K,), f"{d} shape {shape_of(g[d])} != ({K},)")
            for d in ("schedule_scale", "schedule_zero"):
                expect(shape_of(g[d]) == (T,), f"{d} shape {shape_of(g[d])} != ({T},)")
            src = attr_str(g, "stats_source")
            expect(src in ("calibration", "synthetic"), f"stats_source {src!r}")
            out.append((f"/act/{name}", True, f"K={K} T={T} {src}"))
        except (CheckError, KeyError, OSError, ValueError) as e:
            out.append((f"/act/{name}", False, str(e)))
    return out


def run(result, model):
    if not os.environ.get("HDF5_PLUGIN_PATH"):
        print("note: HDF5_PLUGIN_PATH is not set; zstd (filter 32015) datasets will not read",
              file=sys.stderr)
    tensors, aliases = load_model(model)
    passed = failed = 0

    def report(ok, name, msg):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {msg}")

    with h5py.File(result, "r") as f:
        fmt = attr_str(f, "format") if "format" in f.attrs else None
        report(fmt == "aq-mpi/1", "/", f"format {fmt!r}")
        present = set(f["tensors"]) if "tensors" in f else set()
        for name in sorted(set(tensors) | set(aliases)):
            if name not in present:
                report(False, name, "missing from /tensors")
        for name, what, arg in classify(f, tensors, aliases) if present else []:
            try:
                if what == "tensor":
                    report(True, name, check_tensor(f, name, arg))
                elif what == "alias":
                    report(True, name, check_alias(f, name, arg))
                else:
                    report(False, name, "not a tensor of the source model")
            except (CheckError, KeyError, OSError, ValueError) as e:
                hint = ""
                if "filter" in str(e).lower() or "plugin" in str(e).lower():
                    hint = " (is HDF5_PLUGIN_PATH set to the aq-mpi plugin dir?)"
                report(False, name, f"{e}{hint}")
        for name, ok, msg in check_act(f):
            report(ok, name, msg)
    print(f"interop: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    return run(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
