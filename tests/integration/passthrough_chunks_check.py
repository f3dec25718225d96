#!/usr/bin/env python3
"""passthrough_chunks_check.py FILE.h5 [MIN]: every 2-D passthrough dataset of FILE (chunks
filtered on the rank that owned the tensor, stored by rank 0 with H5Dwrite_chunk, issue 16)
holds, chunk for chunk, the bytes libhdf5 itself writes for the same values with the same
dataset creation properties (chunk shape, zstd 32015 at the file's level, then Fletcher32):
h5py writes each dataset again into a scratch file and every stored chunk is compared with
read_direct_chunk.  Fails when fewer than MIN (default 1) 2-D passthrough datasets exist.
Needs HDF5_PLUGIN_PATH pointing at the zstd plugin."""
import os
import sys
import tempfile

import h5py
import numpy as np


def pipeline(ds):
    """(filter id, cd_values) in order; the optional/mandatory flag is not stored in chunks."""
    dcpl = ds.id.get_create_plist()
    return [(f[0], tuple(f[2])) for f in (dcpl.get_filter(i) for i in range(dcpl.get_nfilters()))]


def check(ds, scratch, name):
    pipe = pipeline(ds)
    codes = [p[0] for p in pipe]
    if codes != [32015, h5py.h5z.FILTER_FLETCHER32]:
        return f"{name}: filter pipeline {pipe}, want zstd then Fletcher32"
    level = pipe[0][1][0]
    ref = scratch.create_dataset(name.replace("/", "_"), data=ds[...], chunks=ds.chunks,
                                 compression=32015, compression_opts=(level,), fletcher32=True)
    if pipeline(ref) != pipe:
        return f"{name}: h5py made pipeline {pipeline(ref)}, file has {pipe}"
    n = ds.id.get_num_chunks()
    if n != ref.id.get_num_chunks():
        return f"{name}: {n} chunks, libhdf5 writes {ref.id.get_num_chunks()}"
    for k in range(n):
        info = ds.id.get_chunk_info(k)
        mask, got = ds.id.read_direct_chunk(info.chunk_offset)
        rmask, want = ref.id.read_direct_chunk(info.chunk_offset)
        if mask != rmask or got != want:
            return f"{name}: chunk at {info.chunk_offset} differs ({len(got)} vs {len(want)} bytes)"
    return None


def main():
    path = sys.argv[1]
    want = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    checked, errors, seen = 0, [], set()
    with h5py.File(path, "r") as f, tempfile.TemporaryDirectory() as tmp:
        with h5py.File(os.path.join(tmp, "ref.h5"), "w") as scratch:
            for tname, g in f["tensors"].items():
                if g.attrs.get("kind") != "passthrough" or g["data"].ndim != 2:
                    continue
                if hash(g.id) in seen:  # an alias: a hard link to a group already checked
                    continue
                seen.add(hash(g.id))
                err = check(g["data"], scratch, f"/tensors/{tname}/data")
                checked += 1
                if err:
                    errors.append(err)
    for e in errors:
        print("FAIL", e)
    if checked < want:
        print(f"FAIL only {checked} 2-D passthrough datasets, want at least {want}")
        return 1
    print(f"passthrough chunks: {checked} 2-D datasets, {len(errors)} differ from libhdf5's")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
