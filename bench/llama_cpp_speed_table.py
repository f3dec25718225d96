#!/usr/bin/python3
"""llama_cpp_speed_table.py OUTDIR: the markdown table of bench/llama_cpp_speed.sh's rows.tsv.

Per format and pairing (ours uncalibrated vs llama-quantize; ours with clean calibration vs
llama-quantize --imatrix): the smallest wall and CPU seconds over the repeats of each side
(ours = job + GGUF export), and the ratios theirs / ours (> 1: ours is faster)."""
import csv
import os
import re
import sys


def main():
    out = sys.argv[1]
    best = {}
    with open(os.path.join(out, "rows.tsv")) as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            wall = float(r["wall_s"]) + float(r["export_wall_s"] or 0)
            cpu = float(r["cpu_s"]) + float(r["export_cpu_s"] or 0)
            k = (r["format"], r["variant"])
            w0, c0, loads = best.get(k, (wall, cpu, []))
            best[k] = (min(w0, wall), min(c0, cpu), loads + [r["load"]])
    n_w = None
    log = os.path.join(out, "logs", "q4_k_aq.quant.log")
    if os.path.exists(log):
        m = re.search(r"weights\s+(\d+) quantized", open(log).read())
        n_w = int(m.group(1)) if m else None
    print("| format | pairing | ours wall s | theirs wall s | wall theirs/ours | ours CPU s | "
          "theirs CPU s | CPU theirs/ours | ours Mw per CPU s | load (1-min) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for fmt in dict.fromkeys(f for f, _ in best):
        for ours, theirs, label in (("aq", "lq", "uncalibrated / no imatrix"),
                                    ("aq_clean", "lq_imatrix", "calibrated / imatrix")):
            if (fmt, ours) not in best or (fmt, theirs) not in best:
                continue
            ow, oc, ol = best[(fmt, ours)]
            tw, tc, tl = best[(fmt, theirs)]
            rate = f"{n_w / oc / 1e6:.1f}" if n_w else "-"
            print(f"| {fmt.upper()} | {label} | {ow:.2f} | {tw:.2f} | {tw / ow:.2f}x | {oc:.2f} | "
                  f"{tc:.2f} | {tc / oc:.2f}x | {rate} | {min(ol + tl)}-{max(ol + tl)} |")
    if n_w:
        print(f"\n{n_w} weights quantized per run (every 2-D tensor, embeddings included).")


if __name__ == "__main__":
    main()
