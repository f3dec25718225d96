#!/usr/bin/env python3
"""Decode our ggml legacy blocks with llama.cpp's gguf-py and compare bit for bit.

usage: ggml_decode_check.py BLOCKS_EXE OUTDIR LLAMA_CPP_DIR

Runs BLOCKS_EXE OUTDIR (tests/integration/ggml_legacy_blocks.c), then for every format of
OUTDIR/manifest.txt decodes NAME.blocks with gguf.quants.dequantize(data, GGMLQuantizationType)
and requires the float32 bit patterns to equal NAME.f32 (our aq_ggml_dequantize_row_*).
Exit 0 all equal, 1 a mismatch (first differing element printed), 77 when LLAMA_CPP_DIR/gguf-py
or numpy is absent (reason printed).
"""
import os
import subprocess
import sys


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    exe, out, llama = sys.argv[1:]
    gguf_py = os.path.join(llama, "gguf-py")
    if not os.path.isdir(gguf_py):
        print(f"ggml_decode_check: {gguf_py} not found: skipped")
        return 77
    sys.path.insert(0, gguf_py)
    try:
        import numpy as np
        import gguf
        from gguf.quants import dequantize
    except ImportError as e:
        print(f"ggml_decode_check: cannot import gguf-py/numpy ({e}): skipped")
        return 77
    os.makedirs(out, exist_ok=True)
    subprocess.run([exe, out], check=True)
    failed = 0
    with open(os.path.join(out, "manifest.txt")) as man:
        for line in man:
            name, qtype, rows, cols = line.split()
            rows, cols = int(rows), int(cols)
            qt = gguf.GGMLQuantizationType(int(qtype))
            if qt.name.lower() != name:
                print(f"{name}: ggml type {qtype} is {qt.name} in gguf-py")
                failed += 1
                continue
            data = np.fromfile(os.path.join(out, name + ".blocks"), dtype=np.uint8)
            block_size, type_size = gguf.GGML_QUANT_SIZES[qt]
            row_bytes = cols // block_size * type_size
            if data.size != rows * row_bytes:
                print(f"{name}: {data.size} bytes, gguf-py expects {rows * row_bytes}")
                failed += 1
                continue
            theirs = np.asarray(dequantize(data.reshape(rows, row_bytes), qt), dtype=np.float32)
            ours = np.fromfile(os.path.join(out, name + ".f32"), dtype="<f4").reshape(rows, cols)
            if theirs.shape != ours.shape:
                print(f"{name}: gguf-py shape {theirs.shape}, ours {ours.shape}")
                failed += 1
                continue
            diff = np.argwhere(theirs.view(np.uint32) != ours.view(np.uint32))
            if diff.size:
                r, c = diff[0]
                print(f"{name}: {len(diff)} of {ours.size} values differ; first [{r},{c}]: "
                      f"gguf-py {theirs[r, c]!r} ours {ours[r, c]!r}")
                failed += 1
            else:
                print(f"{name}: {ours.size} values ({rows} rows) bit-identical to gguf-py")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
