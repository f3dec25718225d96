#!/usr/bin/env python3
"""compare_results.py A.h5 B.h5 [C.h5 ...]: every object under /tensors and /act, and /timegroups,
of A is bit-identical in the others (datasets byte for byte, every attribute), and the sets of
names are equal.  Used to check that the result does not depend on the number of MPI ranks."""
import sys

import h5py
import numpy as np


def members(f, group):
    if group not in f:
        return {}
    return {name: f[group][name] for name in f[group]}


def same_attrs(a, b):
    if sorted(a.attrs) != sorted(b.attrs):
        return False
    return all(same_value(np.asarray(a.attrs[k]), np.asarray(b.attrs[k])) for k in a.attrs)


def same_value(x, y):
    """Equal, bit for bit where numeric (so a NaN attribute equals the same NaN)."""
    if x.dtype.kind in "fiuc" and y.dtype.kind in "fiuc":
        return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
    return np.array_equal(x, y)


def same_group(ga, gb):
    ok = same_attrs(ga, gb) and sorted(ga) == sorted(gb)
    for ds in ga:
        a, b = ga[ds][()], gb[ds][()]
        ok = ok and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        ok = ok and same_attrs(ga[ds], gb[ds])
    return ok


def compare(ref_path, other_path):
    failures = 0
    with h5py.File(ref_path, "r") as fa, h5py.File(other_path, "r") as fb:
        for group in ("tensors", "act"):
            ta, tb = members(fa, group), members(fb, group)
            if sorted(ta) != sorted(tb):
                print(f"FAIL /{group} name sets differ: {sorted(set(ta) ^ set(tb))}")
                return 1
            for name, ga in ta.items():
                if not same_group(ga, tb[name]):
                    print(f"FAIL /{group}/{name}: differs between {ref_path} and {other_path}")
                    failures += 1
        if ("timegroups" in fa) != ("timegroups" in fb) or (
                "timegroups" in fa and not same_group(fa["timegroups"], fb["timegroups"])):
            print(f"FAIL /timegroups differs between {ref_path} and {other_path}")
            failures += 1
    return failures


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    failures = sum(compare(sys.argv[1], p) for p in sys.argv[2:])
    n = len(sys.argv) - 2  # files compared against the first
    print(f"compare: {n - (1 if failures else 0)} passed, {1 if failures else 0} failed"
          if n == 1 else
          f"compare: {failures} tensor differences over {n + 1} files ({n} against {sys.argv[1]})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
