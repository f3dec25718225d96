#!/usr/bin/env python3
"""fallback_check.py RESULT.h5 THRESHOLD_2BIT: with quant.bits = 2 and quant.fallback = true,
every tensor still at 2 bits has weighted_rel_err <= threshold, every tensor that fell back
records fallback_from_bits = 2 with fallback_from_err > threshold and sits at 4 or 8 bits, and
at least one of each kind exists (the threshold is chosen to split the model)."""
import sys

import h5py


def main():
    path, thr = sys.argv[1], float(sys.argv[2])
    kept = fell = bad = 0
    with h5py.File(path, "r") as f:
        for name, g in f["tensors"].items():
            if g.attrs["kind"] != "quantized":
                continue
            bits, err = int(g.attrs["bits"]), float(g.attrs["weighted_rel_err"])
            if "fallback_from_bits" in g.attrs:
                ok = (int(g.attrs["fallback_from_bits"]) == 2 and bits in (4, 8)
                      and float(g.attrs["fallback_from_err"]) > thr)
                fell += ok
            else:
                ok = bits == 2 and err <= thr
                kept += ok
            if not ok:
                bad += 1
                print(f"FAIL {name}: bits {bits}, weighted_rel_err {err}, attrs {dict(g.attrs)}")
    print(f"fallback: {kept} kept at 2 bits, {fell} fell back")
    failed = bad + (kept == 0) + (fell == 0)
    print(f"fallback_check: {0 if failed else 1} passed, {1 if failed else 0} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
