#!/usr/bin/python3
"""collect_scaling.py DIR [--plugins DIR] [--baseline RxT]

Turns the results of a scaling study (slurm/scaling_study.sh) into one table of speed-up and
efficiency.  Reads every DIR/*.h5 (the runs' metrics live in the file: root attributes
`ranks`, `threads`; /run datasets `seconds_total`, `seconds_quant`, `peak_rss_bytes`, one
value per rank) and DIR/jobs.tsv (the grid and job ids, written by scaling_study.sh) to list
runs that produced no result.

Writes DIR/scaling.tsv, DIR/scaling.md, DIR/scaling.json and, when matplotlib is installed
(Debian: python3-matplotlib), DIR/scaling.png; prints the table.

  wall s      max over ranks of seconds_total (the job's wall time inside aq-mpi)
  cores       ranks x threads
  speed-up    wall(baseline) / wall; the baseline is the run with the fewest cores (1x1
              when present), or --baseline RxT
  efficiency  speed-up x cores(baseline) / cores

Needs Debian's python3-h5py (use /usr/bin/python3) and the zstd filter plugin: set
HDF5_PLUGIN_PATH, pass --plugins, or let it default to $AQ_BIN/plugins or build/plugins.
Exit status: 0 table written; 1 no usable result; 2 bad arguments.
"""
import argparse
import glob
import json
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="directory of the study (the *.h5 results and jobs.tsv)")
    p.add_argument("--plugins", help="directory of libaq_h5z_zstd.so (HDF5_PLUGIN_PATH)")
    p.add_argument("--baseline", help="run that defines speed-up 1, as RANKSxTHREADS (e.g. 1x1)")
    return p.parse_args()


def set_plugin_path(args):
    # Must happen before h5py loads HDF5's first plugin.
    if args.plugins:
        os.environ["HDF5_PLUGIN_PATH"] = args.plugins
    elif not os.environ.get("HDF5_PLUGIN_PATH"):
        for cand in (os.path.join(os.environ.get("AQ_BIN", ""), "plugins"), "build/plugins"):
            if os.path.isfile(os.path.join(cand, "libaq_h5z_zstd.so")):
                os.environ["HDF5_PLUGIN_PATH"] = os.path.abspath(cand)
                break


def read_grid(d):
    """jobs.tsv: ranks threads jobid output (header line first)."""
    path = os.path.join(d, "jobs.tsv")
    grid = []
    if os.path.isfile(path):
        with open(path) as f:
            for line in f:
                cols = line.split()
                if len(cols) >= 4 and cols[0].isdigit():
                    grid.append({"ranks": int(cols[0]), "threads": int(cols[1]),
                                 "job": cols[2], "output": cols[3]})
    return grid


def read_run(path):
    import h5py
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != "aq-mpi/1" or "run" not in f:
            raise ValueError("not an aq-mpi/1 result with /run")
        run = f["run"]
        total = [float(x) for x in run["seconds_total"][()]]
        quant = [float(x) for x in run["seconds_quant"][()]]
        rss = [int(x) for x in run["peak_rss_bytes"][()]]
        ranks, threads = int(f.attrs["ranks"]), int(f.attrs["threads"])
    if len(total) != ranks:
        raise ValueError(f"/run/seconds_total has {len(total)} values for {ranks} ranks")
    return {"file": os.path.basename(path), "ranks": ranks, "threads": threads,
            "cores": ranks * threads, "wall_s": max(total), "quant_s_max": max(quant),
            "quant_s_sum": sum(quant), "peak_rss_mb_max": max(rss) / 1e6}


def main():
    args = parse_args()
    if not os.path.isdir(args.dir):
        print(f"collect_scaling: error: {args.dir}: no such directory", file=sys.stderr)
        return 2
    set_plugin_path(args)
    runs, problems = [], []
    for path in sorted(glob.glob(os.path.join(args.dir, "*.h5"))):
        try:
            runs.append(read_run(path))
        except Exception as e:  # a damaged or foreign file is reported, not fatal
            problems.append(f"{os.path.basename(path)}: {e}")
    done = {(r["ranks"], r["threads"]) for r in runs}
    for g in read_grid(args.dir):
        if (g["ranks"], g["threads"]) not in done:
            problems.append(f"{g['ranks']}x{g['threads']} (job {g['job']}): no result "
                            f"{os.path.basename(g['output'])}; see the job's log")
    if not runs:
        for p in problems:
            print(f"collect_scaling: {p}", file=sys.stderr)
        print(f"collect_scaling: error: no aq-mpi result in {args.dir}", file=sys.stderr)
        return 1
    runs.sort(key=lambda r: (r["cores"], r["ranks"]))
    base = runs[0]
    if args.baseline:
        want = tuple(int(x) for x in args.baseline.lower().split("x"))
        match = [r for r in runs if (r["ranks"], r["threads"]) == want]
        if not match:
            print(f"collect_scaling: error: no run {args.baseline}", file=sys.stderr)
            return 2
        base = match[0]
    for r in runs:
        r["speedup"] = base["wall_s"] / r["wall_s"] if r["wall_s"] > 0 else float("nan")
        r["efficiency"] = r["speedup"] * base["cores"] / r["cores"]

    cols = [("ranks", "ranks", "d"), ("threads", "threads", "d"), ("cores", "cores", "d"),
            ("wall_s", "wall s", ".2f"), ("quant_s_max", "quant s (max)", ".2f"),
            ("speedup", "speed-up", ".2f"), ("efficiency", "efficiency", ".2f"),
            ("peak_rss_mb_max", "peak RSS MB", ".1f")]
    rows = [[format(r[k], f) for k, _, f in cols] for r in runs]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, (_, h, _) in enumerate(cols)]
    text = ["  ".join(h.rjust(w) for (_, h, _), w in zip(cols, widths))]
    text += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in rows]
    print(f"scaling study {args.dir}: baseline {base['ranks']}x{base['threads']} "
          f"({base['wall_s']:.2f} s)")
    print("\n".join(text))
    for p in problems:
        print(f"missing: {p}")

    with open(os.path.join(args.dir, "scaling.tsv"), "w") as f:
        f.write("\t".join(k for k, _, _ in cols) + "\tfile\n")
        for r, row in zip(runs, rows):
            f.write("\t".join(row) + f"\t{r['file']}\n")
    with open(os.path.join(args.dir, "scaling.md"), "w") as f:
        f.write("| " + " | ".join(h for _, h, _ in cols) + " |\n")
        f.write("|" + "---:|" * len(cols) + "\n")
        for row in rows:
            f.write("| " + " | ".join(row) + " |\n")
    with open(os.path.join(args.dir, "scaling.json"), "w") as f:
        json.dump({"baseline": f"{base['ranks']}x{base['threads']}", "runs": runs,
                   "missing": problems}, f, indent=1)

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("collect_scaling: matplotlib not installed (apt-get install python3-matplotlib): "
              "no plot")
        return 0
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for t in sorted({r["threads"] for r in runs}):
        sel = [r for r in runs if r["threads"] == t]
        ax1.plot([r["cores"] for r in sel], [r["speedup"] for r in sel], "o-",
                 label=f"{t} thread(s)/rank")
        ax2.plot([r["cores"] for r in sel], [r["efficiency"] for r in sel], "o-",
                 label=f"{t} thread(s)/rank")
    cores = sorted({r["cores"] for r in runs})
    ax1.plot(cores, [c / base["cores"] for c in cores], "k--", label="ideal")
    ax1.set(xlabel="cores (ranks x threads)", ylabel="speed-up")
    ax2.axhline(1.0, color="k", ls="--")
    ax2.set(xlabel="cores (ranks x threads)", ylabel="parallel efficiency", ylim=(0, 1.2))
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(cores)
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"aq-mpi scaling, baseline {base['ranks']}x{base['threads']}")
    fig.tight_layout()
    fig.savefig(os.path.join(args.dir, "scaling.png"), dpi=100)
    print(f"plot: {os.path.join(args.dir, 'scaling.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
