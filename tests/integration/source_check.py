#!/usr/bin/env python3
"""source_check.py RESULT.h5 MODEL_DIR: /source lists every model file (shards, index,
config.json) with its SHA-256, recomputed here with hashlib (the job shares the hashing out over
its ranks, so a run on several ranks checks the merge)."""
import hashlib
import os
import sys

import h5py


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def main():
    path, model = sys.argv[1], sys.argv[2]
    with h5py.File(path, "r") as f:
        files = [text(x) for x in f["source/file"][...]]
        digests = [text(x) for x in f["source/sha256"][...]]
    want = sorted(n for n in os.listdir(model)
                  if n.endswith(".safetensors") or n in ("model.safetensors.index.json", "config.json"))
    bad = [] if sorted(files) == want else [f"files {sorted(files)} != {want}"]
    for name, d in zip(files, digests):
        with open(os.path.join(model, name), "rb") as fh:
            h = hashlib.sha256(fh.read()).hexdigest()
        if h != d:
            bad.append(f"{name}: {d!r} != {h}")
    for b in bad:
        print("FAIL", b)
    print(f"source_check: {len(files)} files, {len(bad)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
