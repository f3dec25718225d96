#!/usr/bin/env python3
"""trace_check.py PREFIX RANKS: the run.trace timelines of a finished job: one file per rank,
times non-decreasing, every tensor a rank computed stored once by rank 0, every rank's
digests begun and ended."""
import sys


def read(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            t, event, tensor, name, nbytes = line.rstrip("\n").split("\t")
            rows.append((float(t), event, int(tensor), name, int(nbytes)))
    return rows


def main():
    prefix, ranks = sys.argv[1], int(sys.argv[2])
    bad, computed, stored = [], [], []
    for r in range(ranks):
        rows = read(f"{prefix}.{r}.tsv")
        times = [x[0] for x in rows]
        if times != sorted(times):
            bad.append(f"rank {r}: times go backwards")
        events = [x[1] for x in rows]
        if "digests" not in events or "digested" not in events:
            bad.append(f"rank {r}: no digests/digested")
        computed += [x[2] for x in rows if x[1] == "computed"]
        if r == 0:
            stored = [x[2] for x in rows if x[1] == "stored"]
        if r > 0 and "stored" in events:
            bad.append(f"rank {r}: a worker stored a tensor")
    if not computed or sorted(computed) != sorted(stored):
        bad.append(f"computed {len(computed)} tensors but rank 0 stored {len(stored)} "
                   f"(or other ones)")
    if len(set(stored)) != len(stored):
        bad.append("a tensor stored twice")
    for b in bad:
        print("FAIL", b)
    if not bad:
        print(f"trace: {ranks} timelines, {len(computed)} tensors computed and stored")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
