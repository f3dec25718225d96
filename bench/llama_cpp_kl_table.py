#!/usr/bin/env python3
"""llama_cpp_kl_table.py OUTDIR — the markdown table of bench/llama_cpp_kl.sh (docs/LLAMA_CPP.md).

Reads OUTDIR/rows.tsv and the logs it names; writes OUTDIR/table.md and OUTDIR/results.json.
Every figure is parsed from a tool's own output:
  llama-perplexity --kl-divergence   "Mean    KLD:", "99.0%   KLD:", "Same top p:"
  llama-quantize                     "quant size = ... (B BPW)", "quantize time = T ms"
  aq-mpi summary                     "quantized at B bits/weight", "wall time     total S s"
bits/weight "gguf" is computed identically for both tools' files with gguf-py (PYTHONPATH):
tensor data bytes x 8 / weights, over all tensors (llama-quantize's BPW formula).
"""
import csv
import json
import os
import re
import sys

TARGET_CAL = {"q2_k": 0.85, "q3_k": 0.85}  # calibrated KL / llama-quantize+imatrix, else 1.0
TARGET_UNCAL = 0.8  # uncalibrated KL / llama-quantize without imatrix
TARGET_SPEED = 5.0  # llama-quantize wall / ours
VARIANTS = [
    ("aq", "ours, uncalibrated"),
    ("aq_clean", "ours, clean calibration (aq-calib --clean)"),
    ("aq_masked", "ours, masked calibration (aq-calib, T = 4)"),
    ("lq", "llama-quantize --pure"),
    ("lq_imatrix", "llama-quantize --pure --imatrix"),
]


def grab(text, pattern, cast=float):
    m = re.search(pattern, text)
    return cast(m.group(1)) if m else None


def kl_stats(log):
    """Mean KL (and its ±), p99 KL and same-top % from a llama-perplexity --kl-divergence log
    (None where a line is missing); shared by the other llama_cpp_kl* table makers."""
    k = open(log, errors="replace").read()
    return {"kl": grab(k, r"Mean\s+KLD:\s+([-0-9.e]+)"),
            "kl_err": grab(k, r"Mean\s+KLD:\s+[-0-9.e]+\s+±\s+([-0-9.e]+)"),
            "kl_p99": grab(k, r"99\.0%\s+KLD:\s+([-0-9.e]+)"),
            "top": grab(k, r"Same top p:\s+([-0-9.e]+)")}


def gguf_bpw(path):
    try:
        from gguf import GGUFReader
    except ImportError as e:
        sys.exit(f"llama_cpp_kl_table: gguf-py not importable ({e}); run with /usr/bin/python3 "
                 "and PYTHONPATH=<llama.cpp>/gguf-py")
    r = GGUFReader(path)
    nbytes = sum(int(t.n_bytes) for t in r.tensors)
    nelem = sum(int(t.n_elements) for t in r.tensors)
    return 8.0 * nbytes / nelem


def parse(out):
    rows = []
    with open(os.path.join(out, "rows.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            q = open(os.path.join(out, r["quant_log"]), errors="replace").read()
            r["wall_s"] = float(r["quant_s"])
            if r["format"] == "calib":
                rows.append(r)
                continue
            r.update(kl_stats(os.path.join(out, r["kl_log"])))
            r["bpw_gguf"] = gguf_bpw(os.path.join(out, r["gguf"]))
            if r["variant"].startswith("lq"):
                r["bpw_tool"] = grab(q, r"quant size\s+=\s+[0-9.]+ MiB \(([0-9.]+) BPW\)")
                ms = grab(q, r"quantize time =\s+([0-9.]+) ms")
                r["tool_s"] = ms / 1000 if ms is not None else None
                r["export_s"] = None
            else:
                r["bpw_tool"] = grab(q, r"quantized at ([0-9.]+) bits/weight")
                r["tool_s"] = grab(q, r"wall time\s+total ([0-9.]+) s")
                r["export_s"] = float(r["export_s"])
            rows.append(r)
    return rows


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def verdict(ok):
    return "met" if ok else "**MISSED**"


def main(out):
    rows = parse(out)
    by = {(r["model"], r["format"], r["variant"]): r for r in rows}
    md = []
    env = os.path.join(out, "env.txt")
    if os.path.exists(env):
        md += ["```", open(env).read().rstrip(), "```", ""]
    md += [
        "| model | format | variant | bpw (file) | bpw (tool) | mean KL | p99 KL | same top % "
        "| quant wall s | tool's own s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    formats = []
    for r in rows:
        if r["format"] != "calib" and (r["model"], r["format"]) not in formats:
            formats.append((r["model"], r["format"]))
    for model, f in formats:
        for v, label in VARIANTS:
            r = by.get((model, f, v))
            if not r:
                continue
            extra = f" (+ export {r['export_s']:.3f})" if r["export_s"] is not None else ""
            md.append(
                f"| {model} | {f.upper()} | {label} | {fmt(r['bpw_gguf'], '.4f')} | "
                f"{fmt(r['bpw_tool'], '.2f' if v.startswith('lq') else '.3f')} | {fmt(r['kl'], '.6f')} ± {fmt(r['kl_err'], '.6f')} | "
                f"{fmt(r['kl_p99'], '.6f')} | {fmt(r['top'], '.3f')} | {r['wall_s']:.3f}{extra} | "
                f"{fmt(r['tool_s'], '.3f')} |")
    md += ["", "Calibration (wall s, same text, same threads):", ""]
    for r in rows:
        if r["format"] == "calib":
            md.append(f"- {r['model']}: {r['variant']} {r['wall_s']:.2f} s")
    md += [
        "",
        "Ratios (ours / llama-quantize; KL: lower is better, target <= the limit; speed: "
        "llama-quantize wall / ours, target >= 5):",
        "",
        "| model | format | clean-cal KL / lq+imatrix | limit | | masked-cal KL / lq+imatrix "
        "| uncal KL / lq | limit | | speed (wall, incl. mpirun) | speed (tools' own timers) | |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for model, f in formats:
        g = {v: by.get((model, f, v)) for v, _ in VARIANTS}
        if not (g["aq"] and g["aq_clean"] and g["lq"] and g["lq_imatrix"]):
            continue
        lim = TARGET_CAL.get(f, 1.0)
        rc = g["aq_clean"]["kl"] / g["lq_imatrix"]["kl"]
        rm = g["aq_masked"]["kl"] / g["lq_imatrix"]["kl"] if g["aq_masked"] else None
        ru = g["aq"]["kl"] / g["lq"]["kl"]
        sw = g["lq"]["wall_s"] / g["aq"]["wall_s"]
        st = (g["lq"]["tool_s"] / g["aq"]["tool_s"]
              if g["lq"]["tool_s"] and g["aq"]["tool_s"] else None)
        md.append(
            f"| {model} | {f.upper()} | {rc:.3f} | {lim:.2f} | {verdict(rc <= lim)} | "
            f"{fmt(rm, '.3f')} | {ru:.3f} | {TARGET_UNCAL:.2f} | {verdict(ru <= TARGET_UNCAL)} | "
            f"{sw:.2f}x | {fmt(st, '.2f')}x | {verdict(sw >= TARGET_SPEED)} |")
        summary.append(dict(model=model, format=f, cal_ratio=rc, cal_limit=lim,
                            masked_ratio=rm, uncal_ratio=ru, uncal_limit=TARGET_UNCAL,
                            speed_wall=sw, speed_tools=st, speed_limit=TARGET_SPEED))
    open(os.path.join(out, "table.md"), "w").write("\n".join(md) + "\n")
    json.dump({"rows": rows, "ratios": summary}, open(os.path.join(out, "results.json"), "w"),
              indent=1)
    print("\n".join(md))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: llama_cpp_kl_table.py OUTDIR")
    main(sys.argv[1])
