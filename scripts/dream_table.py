#!/usr/bin/env python3
"""dream_table.py PATTERN [K ...] — one Markdown row per result of aq-eval JSON files.

PATTERN names the JSON of repetition k with "{k}" (e.g. /tmp/d/bits_{k}.json; several patterns
separated by commas are read in turn, e.g. the TAG runs of dream_bits.sh); K lists the
repetitions (default 0 1 2; missing files are skipped).  Results are matched across files by
their file name with the "_k.h5" suffix removed (dream_bits.sh / dream_phases.sh naming).  Each
row: result, KL per repetition (nats, overall = mean over t), top-1 per repetition, and the
relative spread (max - min) / mean of KL.  With a result log NAME_k.log beside the result
(aq-mpi's output, as dream_bits.sh writes it), also its bits/weight.  Standard library only.
"""
import json
import os
import re
import sys


def main(argv):
    if not argv:
        sys.exit(__doc__)
    pattern, ks = argv[0], [int(a) for a in argv[1:]] or [0, 1, 2]
    rows, order, used = {}, [], []
    for k in ks:
        docs = []
        for pat in pattern.split(","):
            path = pat.replace("{k}", str(k))
            if os.path.exists(path):
                with open(path) as f:
                    docs.append(json.load(f))
        if not docs:
            continue
        used.append(k)
        for r in (r for doc in docs for r in doc["results"]):
            name = re.sub(rf"_{k}\.h5$", "", os.path.basename(r["result"]))
            if name not in rows:
                rows[name] = {}
                order.append(name)
            bpw = ""
            log = re.sub(r"\.h5$", ".log", r["result"])
            if os.path.exists(log):
                m = re.search(r"quantized at ([0-9.]+) bits/weight", open(log).read())
                bpw = m.group(1) if m else ""
            rows[name][k] = (r["overall"]["kl"], r["overall"]["top1"], bpw)
    reps = " / ".join(str(k) for k in used)
    print(f"| result | bits/weight | KL (rep {reps}) | top-1 (rep {reps}) | KL spread |")
    print("|---|---|---|---|---|")
    for name in order:
        v = rows[name]
        kls = [v[k][0] for k in used if k in v]
        kl = " / ".join(f"{v[k][0]:.4g}" if k in v else "-" for k in used)
        top = " / ".join(f"{v[k][1]:.3f}" if k in v else "-" for k in used)
        bpw = next((v[k][2] for k in used if k in v and v[k][2]), "")
        mean = sum(kls) / len(kls)
        spread = f"{100 * (max(kls) - min(kls)) / mean:.0f} %" if len(kls) > 1 else ""
        print(f"| {name} | {bpw} | {kl} | {top} | {spread} |")


if __name__ == "__main__":
    main(sys.argv[1:])
