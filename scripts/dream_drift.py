#!/usr/bin/python3
"""dream_drift.py STATS.h5 [STATS.h5 ...] [--layers SUBSTR,...] [--compact]

docs/PHASES.md "Activation drift per time step": per mask-ratio step t (u_t = (t+1/2)/T) of an
aq-calib statistics file, for a few linear layers' inputs, the max, min and std over all input
values, and the 99th percentile over input channels of the per-channel absmax (absmax[t][c]).
All four are read as aq-calib wrote them (/stats/<tensor>/{max,min,std,absmax}); nothing is
re-estimated.  With several files (independent repetitions, e.g. dream_phases.sh's stats_k.h5)
each entry is "mean (min..max over files)".  Prints a Markdown table, one row per layer and
step, and for each layer the ratio of the last step's to the first step's value.  --compact:
only one row per layer, each statistic as "first step -> last step (last/first)".
Needs h5py and numpy (Debian: python3-h5py python3-numpy, scripts/install-deps.sh).
"""
import sys

import h5py
import numpy as np

DEFAULT = "layers.0.mlp.down_proj,layers.1.mlp.down_proj,layers.3.mlp.down_proj," \
          "layers.1.self_attn.o_proj,layers.1.self_attn.q_proj"


def per_step(f, name):
    """{stat: array[T]} for tensor `name` of an open aq-calib file."""
    g = f["stats"][name]
    return {
        "max": np.asarray(g["max"], dtype=np.float64),
        "min": np.asarray(g["min"], dtype=np.float64),
        "std": np.asarray(g["std"], dtype=np.float64),
        "p99 absmax": np.percentile(np.asarray(g["absmax"], dtype=np.float64), 99, axis=1),
    }


def fmt(vals):
    """'mean (lo..hi)' over repetitions, or the single value."""
    v = np.asarray(vals)
    if v.size == 1:
        return f"{v[0]:.3g}"
    return f"{v.mean():.3g} ({v.min():.3g}..{v.max():.3g})"


def main(argv):
    files, layers, compact = [], DEFAULT, False
    i = 0
    while i < len(argv):
        if argv[i] == "--compact":
            compact = True
            i += 1
        elif argv[i] == "--layers":
            layers = argv[i + 1]
            i += 2
        else:
            files.append(argv[i])
            i += 1
    if not files:
        sys.exit(__doc__)
    handles = [h5py.File(p, "r") for p in files]
    names = []
    for sub in layers.split(","):
        hits = [n for n in handles[0]["stats"] if sub in n]
        if not hits:
            sys.exit(f"dream_drift.py: no tensor matching '{sub}' in {files[0]}")
        names.extend(sorted(hits))
    stats = ["max", "min", "std", "p99 absmax"]
    print(f"files: {', '.join(files)}")
    if compact:
        print("| layer input | " + " | ".join(f"{s} first -> last (ratio)" for s in stats) + " |")
        print("|---|" + "---|" * len(stats))
        for n in names:
            per = [per_step(f, n) for f in handles]
            short = n.replace("model.", "").replace(".weight", "")
            cells = [f"{fmt([p[s][0] for p in per])} -> {fmt([p[s][-1] for p in per])} "
                     f"({fmt([p[s][-1] / p[s][0] for p in per])})" for s in stats]
            print(f"| {short} | " + " | ".join(cells) + " |")
        return
    print("| layer input | t (u) | " + " | ".join(stats) + " |")
    print("|---|---|" + "---|" * len(stats))
    ratios = []
    for n in names:
        per = [per_step(f, n) for f in handles]
        T = per[0]["max"].shape[0]
        short = n.replace("model.", "").replace(".weight", "")
        for t in range(T):
            cells = [fmt([p[s][t] for p in per]) for s in stats]
            print(f"| {short} | {t} ({(t + 0.5) / T:.2f}) | " + " | ".join(cells) + " |")
        ratios.append((short, [fmt([p[s][T - 1] / p[s][0] for p in per]) for s in stats]))
    print()
    print("| layer input | last / first step: " + " | ".join(stats) + " |")
    print("|---|" + "---|" * len(stats))
    for short, cells in ratios:
        print(f"| {short} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
