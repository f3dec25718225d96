#!/usr/bin/env python3
"""budget_check.py RESULT.h5 BUDGET: a mixed-precision result spends at most BUDGET bits per
quantized weight (every dataset of the tensor, counted from the datasets themselves) and uses more
than one width."""
import sys

import h5py
import numpy as np


def main():
    path, budget = sys.argv[1], float(sys.argv[2])
    bits_used, weights, widths = 0.0, 0, set()
    with h5py.File(path, "r") as f:
        for g in f["tensors"].values():
            if g.attrs["kind"] != "quantized":
                continue
            widths.add(int(g.attrs["bits"]))
            weights += int(np.prod(g.attrs["shape"]))
            for ds in g.values():  # codes, scale, min (dq: sub, super_scale, super_min)
                bits_used += 8.0 * ds.size * ds.dtype.itemsize
    bpw = bits_used / weights
    ok = bpw <= budget + 1e-9 and len(widths) > 1
    print(f"budget: {bpw:.4f} bits/weight (budget {budget}), widths {sorted(widths)}")
    print(f"budget_check: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
