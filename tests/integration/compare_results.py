#!/usr/bin/env python3
"""compare_results.py A.h5 B.h5 [C.h5 ...]: every /tensors object of A is bit-identical in the
others (datasets byte for byte, every attribute), and the tensor sets are equal.  Used to check
that the result does not depend on the number of MPI ranks."""
import sys

import h5py
import numpy as np


def tensors(f):
    return {name: f["tensors"][name] for name in f["tensors"]}


def same_attrs(a, b):
    if sorted(a.attrs) != sorted(b.attrs):
        return False
    return all(np.array_equal(np.asarray(a.attrs[k]), np.asarray(b.attrs[k])) for k in a.attrs)


def compare(ref_path, other_path):
    failures = 0
    with h5py.File(ref_path, "r") as fa, h5py.File(other_path, "r") as fb:
        ta, tb = tensors(fa), tensors(fb)
        if sorted(ta) != sorted(tb):
            print(f"FAIL tensor sets differ: {sorted(set(ta) ^ set(tb))}")
            return 1
        for name, ga in ta.items():
            gb = tb[name]
            ok = same_attrs(ga, gb) and sorted(ga) == sorted(gb)
            for ds in ga:
                a, b = ga[ds][()], gb[ds][()]
                ok = ok and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                ok = ok and same_attrs(ga[ds], gb[ds])
            if not ok:
                print(f"FAIL {name}: differs between {ref_path} and {other_path}")
                failures += 1
    return failures


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    failures = sum(compare(sys.argv[1], p) for p in sys.argv[2:])
    n = len(sys.argv) - 2
    print(f"compare: {n - (1 if failures else 0)} passed, {1 if failures else 0} failed"
          if n == 1 else f"compare: {failures} tensor differences over {n} files")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
