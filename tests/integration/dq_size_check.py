#!/usr/bin/env python3
"""dq_size_check.py RESULT.h5 BUDGET: every double-quantized tensor whose row length is a
multiple of the 256-weight super-block stores at most BUDGET bits per weight, counted from its
datasets (codes, sub, super_scale, super_min); shorter or ragged rows pay for a partial
super-block and are only reported.  Prints the pooled figure too."""
import sys

import h5py
import numpy as np


def main():
    path, budget = sys.argv[1], float(sys.argv[2])
    total_bits, total_w, bad, n = 0.0, 0, [], 0
    with h5py.File(path, "r") as f:
        for name, g in f["tensors"].items():
            if g.attrs["kind"] != "quantized":
                continue
            if g.attrs["scale_dtype"] != "dq":
                bad.append(f"{name}: scale_dtype {g.attrs['scale_dtype']}, not dq")
                continue
            shape = [int(x) for x in g.attrs["shape"]]
            cols, w = int(np.prod(shape[1:])), int(np.prod(shape))
            bits = sum(8.0 * ds.size * ds.dtype.itemsize for ds in g.values())
            total_bits, total_w, n = total_bits + bits, total_w + w, n + 1
            bpw = bits / w
            aligned = cols % 256 == 0
            print(f"  {name:48s} cols {cols:6d} {bpw:.4f} bits/weight{'' if aligned else ' (partial super-block)'}")
            if aligned and bpw > budget + 1e-12:
                bad.append(f"{name}: {bpw:.4f} bits/weight > {budget}")
    print(f"dq_size: {n} dq tensors, pooled {total_bits / max(total_w, 1):.4f} bits/weight")
    for b in bad:
        print("FAIL", b)
    ok = n > 0 and not bad
    print(f"dq_size_check: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
