#!/usr/bin/env python3
"""Builds bench/results/REPORT.md (and, with --plots, the PNG plots through gnuplot) from the
JSON written by bench/run_bench.sh: kernels.json, quality.json, scaling.jsonl,
memory.jsonl, load.jsonl, and optionally quality_before*.json / quality_after*.json
(mse search before/after, same scale) and dream7b.json (the full-model run)."""
import argparse
import json
import os
import subprocess


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def met(ok):
    return "met" if ok else "**missed**"


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--plots", action="store_true")
    a = ap.parse_args()
    R = a.results
    kern = load(f"{R}/kernels.json")
    qual = load(f"{R}/quality.json")
    scal = load_lines(f"{R}/scaling.jsonl")
    mem = load_lines(f"{R}/memory.jsonl")
    loads = load_lines(f"{R}/load.jsonl")
    before = load(f"{R}/quality_before_scale025.json")
    after = load(f"{R}/quality_after_scale025.json")
    dream = load(f"{R}/dream7b.json")
    out = []
    w = out.append
    w("# aq-mpi benchmark report (reference run on this machine)\n")
    if os.path.exists(f"{R}/machine.txt"):
        w("Machine: " + " / ".join(l.strip() for l in open(f"{R}/machine.txt") if "flags" not in l) + "\n")
    w("The machine is shared with other engineers: every rate below is computed from CPU time "
      "(time spent waiting for a core does not count), wall-time rates are in the JSON; the load "
      "average at the start of each part is listed at the end. All runs were `nice`d.\n")
    w("Regenerate: `bench/run_bench.sh --build build` (about 15 min; `--quick` for a smoke run), "
      "then `python3 bench/make_report.py --plots`.\n")

    # ---------------------------------------------------------------- targets
    w("## Targets\n")
    w("| target | measured | required | status |")
    w("|---|---|---|---|")
    bw = kern["machine"]["read_gbps_per_thread"] if kern else None
    if kern:
        best = kern["machine"]["best_simd"]
        for bits in (4, 8):
            rows = [k for k in kern["kernels"] if k["bits"] == bits and k["method"] == "rtn"
                    and k["simd"] == best and k.get("src_dtype", "F32") == "F32"]
            if rows:
                lo = min(r["mweights_per_s"] for r in rows)
                hi = max(r["mweights_per_s"] for r in rows)
                w(f"| rtn {bits}-bit from f32, {best}, 1 thread (g32..g128, with metrics) | "
                  f"{lo/1000:.2f}..{hi/1000:.2f} Gweights/s | >= 1.5 Gweights/s | {met(lo >= 1500)} |")
    if qual:
        r = [x for x in qual["results"] if x["bits"] == 2 and x["method"] == "mse"
             and x["bits_per_weight"] <= 3.0 + 1e-9]
        if r:
            b = max(r, key=lambda x: x["sqnr_db"])
            ok = b["sqnr_db"] >= 9.5 and b["mweights_per_s_per_thread"] >= 100
            w(f"| mse 2-bit on the section 7 test tensors (scale {qual['scale']}), g{b['group_size']}, "
              f"{b['bits_per_weight']:.2f} b/w | {b['sqnr_db']:.2f} dB at "
              f"{b['mweights_per_s_per_thread']:.0f} Mweights/s/thread | >= 9.5 dB, <= 3.0 b/w, "
              f">= 100 Mweights/s | {met(ok)} |")
    e2e = [m for m in mem if m["ranks"] == 1]
    if e2e:
        m = max(e2e, key=lambda x: x["model_bytes"])
        w(f"| end to end bf16 (page cache) -> 4-bit rtn HDF5, 1 rank x 1 thread, "
          f"{m['model_bytes']/1e9:.2f} GB model | {100*m['read_floor_fraction']:.1f} % of "
          f"{m['read_gbps_per_thread']:.1f} GB/s ({m['model_bytes']/m['seconds']/1e9:.2f} GB/s, "
          f"{m['seconds']:.2f} s) | >= 50 % | {met(m['read_floor_fraction'] >= 0.5)} |")
    strong = [s for s in scal if s["mode"] == "strong" and s.get("gather") != "bulk"]
    base = [s for s in strong if s["ranks"] == 1 and s["threads"] == 1]
    if base:
        t1 = base[0]["seconds"]
        for rr, tt in ((2, 1), (1, 2)):
            x = [s for s in strong if s["ranks"] == rr and s["threads"] == tt]
            if x:
                sp = t1 / x[0]["seconds"]
                w(f"| strong scaling, in-memory {x[0]['mweights']:.0f} Mweights bf16, {rr} rank x "
                  f"{tt} thread vs 1 x 1 | {sp:.2f}x | >= 1.8x | {met(sp >= 1.8)} |")
    if dream:
        w(f"| dream-7b (15 GB bf16) INT2 + Phase 3, mpirun -n 2 | {dream['seconds']:.0f} s, peak RSS "
          f"{', '.join(f'{v/1e9:.2f}' for v in dream['peak_rss_bytes'])} GB, "
          f"{100*dream['floor_fraction']:.0f} % of the floor | runs | met |")
    else:
        w("| dream-7b (15 GB bf16) INT2 + Phase 3, mpirun -n 2 | not run (generating the model "
          "takes ~25 min; out of the time box) | runs | **not measured** |")
    w("")

    # ---------------------------------------------------------------- kernels
    if kern:
        w("## Kernels (`aq-bench kernels`)\n")
        w(f"Read bandwidth measured in the same run: {bw:.2f} GB/s with 1 thread, "
          f"{kern['machine']['read_gbps_all']:.2f} GB/s with {kern['machine']['procs']} threads. "
          f"`floor %` = the share of that 1-thread bandwidth the kernel consumes reading its "
          f"input (4 bytes per f32 weight, 2 per bf16): 100 % would be memory-bound. "
          f"One q_proj-like tensor (3584 columns; {kern['rows_rtn']} rows for rtn, "
          f"{kern['rows_mse']} for mse), f16 scale/min, metrics included, 1 thread.\n")
        w("| src | bits | method | g | simd | Mweights/s/thread | x scalar | floor % | SQNR dB | b/w |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for k in kern["kernels"]:
            w(f"| {k.get('src_dtype','F32')} | {k['bits']} | {k['method']} | {k['group_size']} | {k['simd']} | "
              f"{k['mweights_per_s']:.1f} | {k.get('speedup_vs_scalar', 0):.2f} | "
              f"{100*k['memory_floor_fraction']:.1f} | {k['sqnr_db']:.2f} | {k['bits_per_weight']:.3f} |")
        w("\n![kernels](kernels.png)\n")

    # ---------------------------------------------------------------- quality
    if qual:
        w(f"## Quality on the docs/DESIGN.md §7 test tensors (`aq-bench quality`, scale {qual['scale']}, "
          f"1 thread, {qual['results'][0].get('simd', '?')})\n")
        w("| config | bits/weight | SQNR dB (pooled) | Mweights/s/thread |")
        w("|---|---|---|---|")
        rows = [(f"aq {x['bits']}-bit {x['method']} g{x['group_size']}", x["bits_per_weight"],
                 x["sqnr_db"], x["mweights_per_s_per_thread"]) for x in qual["results"]]
        rows += [(f"ggml {g['type']}", g["bits_per_weight"], g["sqnr_db"],
                  g["mweights_per_s_per_thread"]) for g in qual["ggml_reference"]]
        for name, bpw, sq, mw in sorted(rows, key=lambda r: (r[1], r[2])):
            w(f"| {name} | {bpw:.3f} | {sq:.2f} | {mw:.1f} |")
        w("\n![quality](quality.png)\n")
    if before and after:
        w("### mse search: before / after (same tensors, scale 0.25, pooled SQNR dB)\n")
        w("Before: 65-candidate 1-D grid + 3 Lloyd steps, scalar (commit 6498a81). After: 2-D "
          "pull-factor grid (16) + local batch with the Lloyd step (16), AVX-512.\n")
        w("| bits | g | before dB | after dB | delta | before Mw/s | after Mw/s | speed-up |")
        w("|---|---|---|---|---|---|---|---|")
        for b in before["results"]:
            if b["method"] != "mse":
                continue
            x = [y for y in after["results"] if y["method"] == "mse" and y["bits"] == b["bits"]
                 and y["group_size"] == b["group_size"]][0]
            bm = b.get("mweights_per_s_per_thread", 0)
            am = x["mweights_per_s_per_thread"]
            w(f"| {b['bits']} | {b['group_size']} | {b['sqnr_db']:.3f} | {x['sqnr_db']:.3f} | "
              f"{x['sqnr_db']-b['sqnr_db']:+.3f} | {bm:.1f} | {am:.1f} | {am/bm if bm else 0:.1f}x |")
        w("\n(The 'before' speed is wall-time based on a loaded machine, so its speed-up is an "
          "upper bound; see the kernels table for same-run CPU-time ratios vs scalar.)\n")

    # ---------------------------------------------------------------- scaling
    if scal:
        w("## Scaling (`aq-bench scaling`, in-memory bf16 model, 4-bit rtn g128, gather to rank 0)\n")
        w("| mode | gather | ranks | threads | Mweights | seconds | quantize s | gather s (not hidden) | CPU s (all ranks) | speed-up | efficiency |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for mode in ("strong", "weak"):
            xs = [s for s in scal if s["mode"] == mode]
            b1 = [s for s in xs if s["ranks"] == 1 and s["threads"] == 1]
            for s in sorted(xs, key=lambda x: (x.get("gather", "") == "bulk", x["ranks"], x["threads"])):
                p = s["ranks"] * s["threads"]
                if b1:
                    sp = (b1[0]["seconds"] / s["seconds"]) if mode == "strong" else \
                         (s["mweights"] / s["seconds"]) / (b1[0]["mweights"] / b1[0]["seconds"])
                else:
                    sp = 0
                w(f"| {mode} | {s.get('gather', 'bulk')} | {s['ranks']} | {s['threads']} | {s['mweights']:.0f} | "
                  f"{s['seconds']:.3f} | {s['quantize_s']:.3f} | {s['gather_s']:.3f} | {s.get('cpu_s', 0):.3f} | "
                  f"{sp:.2f}x | {100*sp/p:.0f} % |")
        w("\nWeak scaling: speed-up = throughput ratio (model grows with the ranks). Wall times "
          "are the slowest rank's. streamed = each tensor sent to rank 0 when finished (as the job "
          "does), bulk = one MPI_Gatherv at the end (measures G). CPU s = process CPU time summed "
          "over ranks: with 1 rank x 2 threads it is ~17 % above 1 x 1, i.e. threads spin at the "
          "per-tensor OpenMP barrier while the other thread is preempted by the machine's other "
          "load — the work itself does not grow.\n")
        w("![scaling](scaling.png)\n")

    # ---------------------------------------------------------------- memory
    if mem:
        w("## Memory and end to end (`aq-bench memory`: the real job, bf16 -> 4-bit rtn, "
          "embeddings quantized, zstd 1)\n")
        w("Bound per rank: 2 x (largest tensor in f32) + 256 MB allowance, checked on the peak "
          "*anonymous* resident memory (sampled every 2 ms from /proc/self/status RssAnon). "
          "The peak RSS (ru_maxrss, what /run/peak_rss_bytes reports) also counts the touched, "
          "file-backed pages of the mmapped model, so it grows with the part of the model a rank "
          "reads although those pages are reclaimable page cache.\n")
        w("| model GB | ranks | largest f32 MB | peak anon MB per rank | peak RSS MB per rank | bound MB | wall s | GB/s | % of 1-core read |")
        w("|---|---|---|---|---|---|---|---|---|")
        for m in sorted(mem, key=lambda x: (x["model_bytes"], x["ranks"])):
            w(f"| {m['model_bytes']/1e9:.2f} | {m['ranks']} | {m['largest_tensor_f32_bytes']/1e6:.0f} | "
              f"{', '.join(f'{v/1e6:.0f}' for v in m.get('peak_anon_bytes', []))} | "
              f"{', '.join(f'{v/1e6:.0f}' for v in m['peak_rss_bytes'])} | {m['bound_bytes']/1e6:.0f} | "
              f"{m['seconds']:.2f} | {m['model_bytes']/m['seconds']/1e9:.2f} | "
              f"{100*m['read_floor_fraction']:.1f} |")
        w("\n![memory](memory.png)\n")

    if os.path.exists(f"{R}/notes.md"):
        w(open(f"{R}/notes.md").read())
    if loads:
        w("## Load during the run\n")
        for l in loads:
            w(f"- {l['part']}: {l['uptime']}")
        w("")

    with open(f"{R}/REPORT.md", "w") as f:
        f.write("\n".join(out) + "\n")

    if not a.plots:
        return
    # ---------------------------------------------------------------- plots
    if kern:
        best = kern["machine"]["best_simd"]
        with open(f"{R}/kernels.dat", "w") as f:
            f.write("config scalar best\n")
            for k in kern["kernels"]:
                if k["simd"] != best or k.get("src_dtype", "F32") != "F32":
                    continue
                sc = [s for s in kern["kernels"] if s["simd"] == "scalar" and s["bits"] == k["bits"]
                      and s["method"] == k["method"] and s["group_size"] == k["group_size"]
                      and s.get("src_dtype", "F32") == "F32"]
                f.write(f"{k['bits']}b-{k['method']}-g{k['group_size']} "
                        f"{sc[0]['mweights_per_s'] if sc else 0} {k['mweights_per_s']}\n")
        gnuplot(f"""set terminal pngcairo size 1100,500
set output '{R}/kernels.png'
set title 'Quantization kernels, 1 thread, f32 input (CPU-time rates); read floor = {bw:.1f} GB/s / 4 B'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel 'Mweights/s per thread'
set xtics rotate by -45 font ',9'
set key top left
floor = {bw * 1000 / 4:.1f}
plot '{R}/kernels.dat' using 2:xtic(1) title 'scalar', '' using 3 title '{best}', \\
     floor with lines lw 2 dt 2 title 'memory floor (f32)', 1500 with lines lw 1 title 'target rtn 1.5 G'
""")
    if qual:
        with open(f"{R}/quality_aq.dat", "w") as f:
            for x in qual["results"]:
                f.write(f"{x['bits_per_weight']} {x['sqnr_db']} {x['bits']}b-{x['method']}-g{x['group_size']} {x['method']}\n")
        with open(f"{R}/quality_ggml.dat", "w") as f:
            for g in qual["ggml_reference"]:
                f.write(f"{g['bits_per_weight']} {g['sqnr_db']} {g['type']}\n")
        gnuplot(f"""set terminal pngcairo size 900,600
set output '{R}/quality.png'
set title 'Pooled SQNR on the section 7 test tensors vs bits/weight'
set termoption noenhanced
set xlabel 'bits per weight (codes + f16 scale + f16 min)'
set ylabel 'SQNR dB'
set key bottom right
set grid
plot '{R}/quality_aq.dat' using 1:($4 eq "rtn" ? $2 : 1/0) with points pt 7 ps 1.3 title 'aq rtn', \\
     '' using 1:((strcol(4) eq "mse") ? $2 : 1/0) with points pt 5 ps 1.3 title 'aq mse', \\
     '{R}/quality_ggml.dat' using 1:2 with points pt 9 ps 1.6 title 'ggml', \\
     '' using 1:2:3 with labels offset 0,1 font ',8' notitle
""".replace('($4 eq "rtn" ? $2 : 1/0)', '((strcol(4) eq "rtn") ? $2 : 1/0)'))
    if scal:
        with open(f"{R}/scaling.dat", "w") as f:
            # kind 0: strong, ranks; 1: strong, threads; 2: weak, ranks
            for mode in ("strong", "weak"):
                xs = [x for x in scal if x["mode"] == mode]
                b1 = [x for x in xs if x["ranks"] == 1 and x["threads"] == 1]
                if not b1:
                    continue
                for x in xs:
                    sp = (b1[0]["seconds"] / x["seconds"]) if mode == "strong" else \
                         (x["mweights"] / x["seconds"]) / (b1[0]["mweights"] / b1[0]["seconds"])
                    kind = 2 if mode == "weak" else (1 if x["threads"] > 1 else 0)
                    f.write(f"{x['ranks']*x['threads']} {sp} {kind}\n")
        gnuplot(f"""set terminal pngcairo size 800,500
set output '{R}/scaling.png'
set title 'Scaling on 2 cores vs 1 rank x 1 thread (weak: throughput ratio), in-memory model'
set xlabel 'ranks x threads'
set ylabel 'speed-up'
set xrange [0.5:2.5]
set yrange [0:2.3]
set xtics 1
set grid
set key bottom right
plot x with lines dt 2 title 'ideal', 1.8 with lines title 'target 1.8x', \\
     '{R}/scaling.dat' using ($1-0.04):($3==0 ? $2 : 1/0) with points pt 7 ps 1.8 title 'strong, ranks x 1 thread', \\
     '' using 1:($3==1 ? $2 : 1/0) with points pt 5 ps 1.8 title 'strong, 1 rank x threads', \\
     '' using ($1+0.04):($3==2 ? $2 : 1/0) with points pt 9 ps 1.8 title 'weak, ranks x 1 thread'
""")
    if mem:
        with open(f"{R}/memory.dat", "w") as f:
            for m in sorted(mem, key=lambda x: (x["ranks"], x["model_bytes"])):
                f.write(f"{m['model_bytes']/1e9} {max(m['peak_rss_bytes'])/1e6} {m['bound_bytes']/1e6} {m['ranks']} "
                        f"{max(m.get('peak_anon_bytes', [0]))/1e6}\n")
        gnuplot(f"""set terminal pngcairo size 800,500
set output '{R}/memory.png'
set title 'Peak memory per rank (max over ranks) vs model size, real job'
set xlabel 'model size GB (bf16)'
set ylabel 'MB'
set grid
set key top left
plot '{R}/memory.dat' using 1:($4==1 ? $2 : 1/0) with linespoints pt 7 title 'RSS, 1 rank (incl. mapped model)', \\
     '' using 1:($4==2 ? $2 : 1/0) with linespoints pt 5 title 'RSS, 2 ranks (incl. mapped model)', \\
     '' using 1:($4==1 ? $5 : 1/0) with linespoints pt 6 title 'anonymous, 1 rank', \\
     '' using 1:($4==2 ? $5 : 1/0) with linespoints pt 4 title 'anonymous, 2 ranks', \\
     '' using 1:3 with lines dt 2 title 'bound 2 x largest f32 + 256 MB'
""")


if __name__ == "__main__":
    main()
