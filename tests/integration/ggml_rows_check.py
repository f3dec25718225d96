#!/usr/bin/env python3
"""ggml_rows_check.py RESULT.h5 EXPORT.safetensors FORMAT|mix:FORMAT [LLAMA_CPP_DIR]

The tensors a job stored in ggml's block formats (quant.format, docs/FORMAT.md "ggml block
rows"), decoded here by an independent numpy decoder written from ggml's block layouts
(ggml-common.h, dequantize_row_* of ggml-quants.c: facts, not code), must equal bit for bit
the float32 tensors `aq-inspect --export EXPORT.safetensors --dtype f32 RESULT.h5` wrote (our
C decoders through the format table).  With LLAMA_CPP_DIR (its gguf-py imports with numpy
only), llama.cpp's own gguf.quants.dequantize must agree too.

It also checks the row-length fallback of llama-quantize: a tensor whose rows are a multiple
of FORMAT's block is stored in FORMAT; any other in the fallback format (q2_k/q3_k -> q4_0,
q4_k -> q5_0, q5_k -> q5_1, q6_k -> q8_0) with the attribute fallback_from_format = FORMAT;
a 2-D ".weight" passthrough tensor whose rows are not a multiple of 32 carries
fallback_from_format = FORMAT (no block fits), any other passthrough tensor does not.

The decoders below are the reference of docs/FORMAT.md: each returns float32 [rows, cols]
from the uint8 blocks array [rows, cols / E * B], every operation one float32 operation in
ggml's order (numpy float32 arithmetic is IEEE, no fused multiply-add).
mix:FORMAT (quant.budget_bits with quant.format = FORMAT): a tensor may be in any format of
its candidate chain from FORMAT (or its fallback), with the attribute budget_chosen = 1, and
the result must use at least two formats.
Exit 0 all equal, 1 a mismatch or a wrong format, 2 bad usage.
"""
import json
import os
import sys

import h5py
import numpy as np

F32 = np.float32


def f16(b, off):
    """fp16 field at byte `off` of every block (b: [n, B] uint8) as float32 [n, 1]."""
    return b[:, off:off + 2].copy().view("<f2").astype(F32)


def nibbles_32(qs):
    """Q4_0/Q4_1/Q5_*: qs [n, 16] -> codes [n, 32]: low nibbles first, then high nibbles."""
    return np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.int32)


def qh_bits_32(qh):
    """Q5_*: the little-endian uint32 qh [n, 4] -> bit j for j = 0..31, [n, 32]."""
    v = qh.copy().view("<u4").astype(np.uint64)  # [n, 1]
    return ((v >> np.arange(32, dtype=np.uint64)) & 1).astype(np.int32)


def dec_q8_0(b):
    d = f16(b, 0)
    return b[:, 2:34].view(np.int8).astype(F32) * d


def dec_q4_0(b):
    d = f16(b, 0)
    return (nibbles_32(b[:, 2:18]) - 8).astype(F32) * d


def dec_q4_1(b):
    d, m = f16(b, 0), f16(b, 2)
    return nibbles_32(b[:, 4:20]).astype(F32) * d + m


def dec_q5_0(b):
    d = f16(b, 0)
    q = nibbles_32(b[:, 6:22]) | (qh_bits_32(b[:, 2:6]) << 4)
    return (q - 16).astype(F32) * d


def dec_q5_1(b):
    d, m = f16(b, 0), f16(b, 2)
    q = nibbles_32(b[:, 8:24]) | (qh_bits_32(b[:, 4:8]) << 4)
    return q.astype(F32) * d + m


def e_hjl():
    """k-quants: element e = 128 h + 32 j + l of a super-block -> (h, j, l), each [256]."""
    e = np.arange(256)
    return e // 128, (e // 32) % 4, e % 32


def dec_q2_k(b):
    sc, qs = b[:, 0:16].astype(np.int32), b[:, 16:80].astype(np.int32)
    d, dmin = f16(b, 80), f16(b, 82)
    h, j, l = e_hjl()
    q = (qs[:, 32 * h + l] >> (2 * j)) & 3
    g = np.arange(256) // 16
    dl = d * (sc[:, g] & 15).astype(F32)
    ml = dmin * (sc[:, g] >> 4).astype(F32)
    return dl * q.astype(F32) - ml


def dec_q3_k(b):
    hm, qs = b[:, 0:32].astype(np.int32), b[:, 32:96].astype(np.int32)
    s12, d = b[:, 96:108].astype(np.int32), f16(b, 108)
    g = np.arange(16)
    lo4 = np.where(g < 8, s12[:, g % 8] & 15, s12[:, g % 8] >> 4)
    hi2 = (s12[:, 8 + g % 4] >> (2 * (g // 4))) & 3
    s = (lo4 | (hi2 << 4)) - 32  # [n, 16] signed 6-bit scales
    h, j, l = e_hjl()
    low = (qs[:, 32 * h + l] >> (2 * j)) & 3
    high = (hm[:, l] >> (4 * h + j)) & 1
    q = low - np.where(high == 1, 0, 4)
    dl = d * s[:, np.arange(256) // 16].astype(F32)
    return dl * q.astype(F32)


def scale_min_k4(s12):
    """Q4_K/Q5_K: the 8 (sc, m) 6-bit pairs of scales[12], each [n, 8]."""
    sc = np.empty((s12.shape[0], 8), np.int32)
    m = np.empty_like(sc)
    for g in range(8):
        if g < 4:
            sc[:, g], m[:, g] = s12[:, g] & 63, s12[:, g + 4] & 63
        else:
            sc[:, g] = (s12[:, g + 4] & 15) | ((s12[:, g - 4] >> 6) << 4)
            m[:, g] = (s12[:, g + 4] >> 4) | ((s12[:, g] >> 6) << 4)
    return sc, m


def dec_q45_k(b, five):
    d, dmin = f16(b, 0), f16(b, 2)
    sc, m = scale_min_k4(b[:, 4:16].astype(np.int32))
    qs = b[:, 48:176].astype(np.int32) if five else b[:, 16:144].astype(np.int32)
    e = np.arange(256)
    c, k, l = e // 64, (e // 32) % 2, e % 32
    q = (qs[:, 32 * c + l] >> (4 * k)) & 15
    if five:
        qh = b[:, 16:48].astype(np.int32)
        q = q + 16 * ((qh[:, l] >> (2 * c + k)) & 1)
    g = e // 32
    return (d * sc[:, g].astype(F32)) * q.astype(F32) - dmin * m[:, g].astype(F32)


def dec_q6_k(b):
    ql, qh = b[:, 0:128].astype(np.int32), b[:, 128:192].astype(np.int32)
    s, d = b[:, 192:208].view(np.int8).astype(F32), f16(b, 208)
    e = np.arange(256)
    h, k, l = e // 128, (e // 32) % 4, e % 32
    q = ((ql[:, 64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15) | (
        ((qh[:, 32 * h + l] >> (2 * k)) & 3) << 4)
    return (d * s[:, e // 16]) * (q - 32).astype(F32)


# name: (weights per block, bytes per block, decoder, gguf type name)
FORMATS = {
    "q8_0": (32, 34, dec_q8_0, "Q8_0"),
    "q4_0": (32, 18, dec_q4_0, "Q4_0"),
    "q4_1": (32, 20, dec_q4_1, "Q4_1"),
    "q5_0": (32, 22, dec_q5_0, "Q5_0"),
    "q5_1": (32, 24, dec_q5_1, "Q5_1"),
    "q2_k": (256, 84, dec_q2_k, "Q2_K"),
    "q3_k": (256, 110, dec_q3_k, "Q3_K"),
    "q4_k": (256, 144, lambda b: dec_q45_k(b, False), "Q4_K"),
    "q5_k": (256, 176, lambda b: dec_q45_k(b, True), "Q5_K"),
    "q6_k": (256, 210, dec_q6_k, "Q6_K"),
}
FALLBACK = {"q2_k": "q4_0", "q3_k": "q4_0", "q4_k": "q5_0", "q5_k": "q5_1", "q6_k": "q8_0"}


def decode(name, blocks, rows, cols):
    E, B, dec, _ = FORMATS[name]
    assert blocks.shape == (rows, cols // E * B), (blocks.shape, rows, cols, name)
    return dec(blocks.reshape(-1, B)).reshape(rows, cols)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (k, v["dtype"])
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"])
    return out


# quant.budget_bits with quant.format (mix:FORMAT): the candidates, narrowest first
# (aq_qformat_budget_candidates, include/aq/qformat.h)
KCHAIN = ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_0"]
LCHAIN = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0"]


def main():
    mix = sys.argv[3].startswith("mix:") if len(sys.argv) > 3 else False
    if len(sys.argv) not in (4, 5) or sys.argv[3].removeprefix("mix:") not in FORMATS:
        print(__doc__)
        return 2
    res, st, want = sys.argv[1:4]
    want = want.removeprefix("mix:")
    per_format = {}
    gguf_deq = None
    if len(sys.argv) == 5 and os.path.isdir(os.path.join(sys.argv[4], "gguf-py")):
        sys.path.insert(0, os.path.join(sys.argv[4], "gguf-py"))
        try:
            import gguf
            from gguf.quants import dequantize

            def gguf_deq(name, blocks):
                return dequantize(blocks, gguf.GGMLQuantizationType[FORMATS[name][3]])
        except ImportError as e:
            print(f"ggml_rows_check: gguf-py not usable ({e}): own decoder only")
    exp = read_safetensors(st)
    bad = n = n_fb = n_pass_fb = 0
    with h5py.File(res, "r") as f:
        for name, g in f["tensors"].items():
            kind = g.attrs.get("kind")
            kind = kind.decode() if isinstance(kind, bytes) else kind
            if kind == "passthrough":
                fb = g.attrs.get("fallback_from_format")
                fb = fb.decode() if isinstance(fb, bytes) else fb
                shape = [int(x) for x in g.attrs["shape"]]
                odd = len(shape) == 2 and name.endswith(".weight") and shape[1] % 32 != 0 \
                    and "embed" not in name and not name.startswith("lm_head")
                if fb != (want if odd else None):
                    print(f"FAIL {name}: passthrough {shape}, fallback_from_format {fb}")
                    bad += 1
                n_pass_fb += fb is not None
                continue
            if kind != "quantized":
                continue
            fmt = g.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            rows, cols = (int(x) for x in g.attrs["shape"])
            E_want = FORMATS[want][0]
            expect = want if cols % E_want == 0 else FALLBACK.get(want)
            fb = g.attrs.get("fallback_from_format")
            fb = fb.decode() if isinstance(fb, bytes) else fb
            if mix:  # quant.budget_bits: any format of the chain from expect, recorded
                chain = KCHAIN if expect in KCHAIN else LCHAIN
                ok = expect in chain and fmt in chain[chain.index(expect):] \
                    and int(g.attrs.get("budget_chosen", 0)) == 1
                expect = fmt if ok else f"one of {chain} from {expect}, budget_chosen = 1"
            if fmt != expect or (fb != (None if cols % E_want == 0 else want)):
                print(f"FAIL {name}: cols {cols}: format {fmt} (from {fb}), expected {expect}")
                bad += 1
                continue
            if name not in exp:  # a tied alias: the export writes the group once
                continue
            blocks = g["blocks"][()]
            y = decode(fmt, blocks, rows, cols)
            ref = exp[name].reshape(rows, cols)
            if y.tobytes() != ref.tobytes():
                i = int(np.flatnonzero(y.view(np.uint32) != ref.view(np.uint32))[0])
                print(f"FAIL {name} ({fmt}): numpy {y.flat[i]!r} != aq-inspect {ref.flat[i]!r} "
                      f"at flat {i}")
                bad += 1
                continue
            if gguf_deq is not None:
                z = np.asarray(gguf_deq(fmt, blocks), dtype=F32).reshape(rows, cols)
                if z.tobytes() != y.tobytes():
                    print(f"FAIL {name} ({fmt}): gguf-py differs from the numpy decoder")
                    bad += 1
                    continue
            n += 1
            n_fb += fb is not None
            per_format[fmt] = per_format.get(fmt, 0) + 1
    if n == 0 and bad == 0:
        print("FAIL: no tensor in a ggml block format")
        return 1
    print(f"ggml_rows_check: {n} tensors decoded bit-identically ({n_fb} by fallback from "
          f"{want}{', gguf-py agrees' if gguf_deq else ''}), {n_pass_fb} left unquantized "
          f"(rows fit no block), {bad} failures")
    if mix:
        print("ggml_rows_check: formats " + ", ".join(f"{k} {v}" for k, v in sorted(per_format.items())))
        if len(per_format) < 2:
            print("FAIL: a budget mix in one format only")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
