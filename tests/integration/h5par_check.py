#!/usr/bin/env python3
"""h5par_check.py FILE N: FILE holds N datasets of 256 x 512 bytes, each chunked with
Fletcher32 and filter 32015 (zstd), and every one reads back through both filters."""
import sys

import h5py


def main():
    path, want = sys.argv[1], int(sys.argv[2])
    ok = 0
    with h5py.File(path, "r") as f:
        for name in f:
            d = f[name]
            if d.fletcher32 and "32015" in d._filters and d[...].shape == (256, 512):
                ok += 1
    if ok != want:
        print(f"FAIL {path}: {ok} of {want} datasets read back with zstd + Fletcher32")
        return 1
    print(f"h5par: {ok} datasets read back with zstd + Fletcher32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
