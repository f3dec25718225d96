#!/usr/bin/env python3
"""gguf-py (llama.cpp's own numpy decoder) reads the k-quant blocks aq-mpi writes.

Usage: kquant_decode_check.py DIR LLAMA_CPP_DIR
DIR holds <fmt>.bin (blocks) and <fmt>.f32 (our decoder's output) from kquant_write_blocks.
Every format's gguf.quants.dequantize output must equal ours bit for bit.  Exit 77 (CTest
skip) when the llama.cpp snapshot or numpy is absent.
"""
import os
import sys


def main():
    out_dir, llama = sys.argv[1], sys.argv[2]
    gguf_py = os.path.join(llama, "gguf-py")
    if not os.path.isdir(gguf_py):
        print(f"SKIP: {gguf_py} not found (no llama.cpp snapshot)")
        return 77
    sys.path.insert(0, gguf_py)
    try:
        import numpy as np
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize
    except ImportError as e:
        print(f"SKIP: cannot import gguf-py / numpy: {e}")
        return 77
    fmts = {"q2_k": (GGMLQuantizationType.Q2_K, 84), "q3_k": (GGMLQuantizationType.Q3_K, 110),
            "q4_k": (GGMLQuantizationType.Q4_K, 144), "q5_k": (GGMLQuantizationType.Q5_K, 176),
            "q6_k": (GGMLQuantizationType.Q6_K, 210)}
    bad = 0
    for name, (qt, bs) in fmts.items():
        raw = np.fromfile(os.path.join(out_dir, name + ".bin"), dtype=np.uint8)
        ours = np.fromfile(os.path.join(out_dir, name + ".f32"), dtype="<f4")
        nblk = raw.size // bs
        assert raw.size == nblk * bs and ours.size == nblk * 256, name
        theirs = dequantize(raw.reshape(nblk, bs), qt).reshape(-1).astype("<f4")
        diff = np.flatnonzero(theirs.view("<u4") != ours.view("<u4"))
        if diff.size:
            i = diff[0]
            print(f"FAIL {name}: {diff.size} of {ours.size} values differ; first at {i}: "
                  f"gguf-py {theirs[i]!r} ours {ours[i]!r}")
            bad += 1
        else:
            print(f"ok   {name}: {nblk} blocks, {ours.size} values bit-identical to gguf-py")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
