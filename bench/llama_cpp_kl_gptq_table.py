#!/usr/bin/env python3
"""llama_cpp_kl_gptq_table.py OUTDIR — the tables of bench/llama_cpp_kl_gptq.sh (docs/LLAMA_CPP.md
"GPTQ", docs/BITS.md §4).

Reads OUTDIR/rows.tsv and the logs it names; writes OUTDIR/table.md and OUTDIR/results.json.
Every figure is parsed from a tool's own output (as bench/llama_cpp_kl_table.py):
  llama-perplexity --kl-divergence   "Mean    KLD:", "99.0%   KLD:", "Same top p:"
  llama-quantize                     "quantize time = T ms"
  aq-mpi summary                     "quantized at B bits/weight", "wall time     total S s"
bits/weight "file": tensor data bytes x 8 / weights of the GGUF (gguf-py, PYTHONPATH).
Wall time to a calibrated GGUF: ours = aq-calib (--clean --hessian or masked --hessian) + job
(+ aq-inspect --export), llama.cpp's = llama-imatrix + llama-quantize.
"""
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_cpp_kl_table import fmt, gguf_bpw, kl_stats  # noqa: E402  (one parser of the logs)

# Targets of issue 15: GPTQ (clean Hessians) KL / reference KL at most this.
TARGET = {"q2_k": 0.6, "q4_k": 0.7, "q4_0": 0.7}
VARIANTS = [
    ("gptq_clean", "ours, GPTQ, clean Hessians (aq-calib --clean --hessian)"),
    ("gptq_masked", "ours, GPTQ, masked Hessians (aq-calib --hessian, T = 4)"),
    ("aq_clean", "ours, search, clean calibration"),
    ("lq", "llama-quantize --pure"),
    ("lq_imatrix", "llama-quantize --pure --imatrix"),
]
BF16 = "_bf16emb"  # token_embd and output left BF16 on both sides (BF16_EMB=1)
VARIANTS += [(v + BF16, label + ", embeddings/output BF16") for v, label in VARIANTS]
CALIB = {"gptq_clean": "aq-calib-clean-hessian", "gptq_masked": "aq-calib-masked-hessian",
         "aq_clean": "aq-calib-clean-hessian", "lq_imatrix": "llama-imatrix"}
CALIB.update({v + BF16: c for v, c in CALIB.items()})


def parse(out):
    rows = []
    with open(os.path.join(out, "rows.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            r["wall_s"] = float(r["quant_s"])
            if r["format"] == "calib":
                rows.append(r)
                continue
            r.update(kl_stats(os.path.join(out, r["kl_log"])))
            r["bpw_gguf"] = gguf_bpw(os.path.join(out, r["gguf"]))
            r["export_s"] = float(r["export_s"]) if r["export_s"] else 0.0
            rows.append(r)
    return rows


def main(out):
    rows = parse(out)
    val = {(r["model"], r["format"], r["variant"]): r for r in rows if r.get("eval") == "val"}
    cal = {(r["model"], r["format"], r["variant"]): r for r in rows if r.get("eval") == "calib"}
    cs = {(r["model"], r["variant"]): r["wall_s"] for r in rows if r["format"] == "calib"}
    md = []
    env = os.path.join(out, "env.txt")
    if os.path.exists(env):
        md += ["```", open(env).read().rstrip(), "```", ""]
    md += [
        "KL on val.txt against the F32 export (llama-perplexity --kl-divergence). Wall s: the "
        "quantization (job + export, or llama-quantize); + calib: with the calibration run "
        "it needs (aq-calib, or llama-imatrix).",
        "",
        "| model | format | variant | bpw (file) | mean KL | p99 KL | same top % | wall s "
        "| + calib s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    formats = []
    for r in rows:
        if r["format"] != "calib" and (r["model"], r["format"]) not in formats:
            formats.append((r["model"], r["format"]))
    extra = sorted({v for (_, _, v) in val} - {v for v, _ in VARIANTS})
    labels = VARIANTS + [(v, f"ours, GPTQ, clean Hessians, gptq_damp = {v.split('_d')[-1]}")
                         for v in extra]
    for model, f in formats:
        for v, label in labels:
            r = val.get((model, f, v))
            if not r:
                continue
            w = r["wall_s"] + r["export_s"]
            c = cs.get((model, CALIB.get(v, "aq-calib-clean-hessian" if v.startswith("gptq")
                                         else "")))
            md.append(
                f"| {model} | {f.upper()} | {label} | {fmt(r['bpw_gguf'], '.4f')} | "
                f"{fmt(r['kl'], '.6f')} ± {fmt(r['kl_err'], '.6f')} | {fmt(r['kl_p99'], '.6f')} | "
                f"{fmt(r['top'], '.3f')} | {w:.2f} | {fmt(w + c if c is not None else None, '.2f')} |")
    md += ["", "Calibration runs (wall s, same text, same threads):", ""]
    for r in rows:
        if r["format"] == "calib":
            md.append(f"- {r['model']}: {r['variant']} {r['wall_s']:.2f} s")
    md += [
        "",
        "Targets (issue 15): GPTQ with clean Hessians, KL / reference KL <= 0.6 at Q2_K, <= 0.7 "
        "at 4 bits (Q4_K, Q4_0); other formats: ratio shown, no target.",
        "",
        "| model | format | / lq+imatrix | / our search (clean) | / GPTQ masked | limit | "
        "vs lq+imatrix | vs our search |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for sfx in ("", BF16):
        for model, f in formats:
            g = {v: val.get((model, f, v + sfx)) for v, _ in VARIANTS[:5]}
            if not (g["gptq_clean"] and g["lq_imatrix"] and g["aq_clean"]):
                continue
            k = g["gptq_clean"]["kl"]
            ri, rs = k / g["lq_imatrix"]["kl"], k / g["aq_clean"]["kl"]
            rm = k / g["gptq_masked"]["kl"] if g["gptq_masked"] else None
            lim = TARGET.get(f)
            v1 = "—" if lim is None else ("met" if ri <= lim else "**MISSED**")
            v2 = "—" if lim is None else ("met" if rs <= lim else "**MISSED**")
            md.append(f"| {model}{' (emb BF16)' if sfx else ''} | {f.upper()} | {ri:.3f} | "
                      f"{rs:.3f} | {fmt(rm, '.3f')} | {fmt(lim, '.1f')} | {v1} | {v2} |")
            summary.append(dict(model=model, format=f, embeddings_bf16=bool(sfx), vs_imatrix=ri,
                                vs_search=rs, vs_masked=rm, limit=lim))
    if cal:
        md += ["", "Damping, judged on the calibration text calib.txt (not the table's val.txt; "
               "same chunks x tokens, F32 base on calib.txt):", "",
               "| model | format | variant | mean KL on calib.txt | p99 | same top % |",
               "|---|---|---|---|---|---|"]
        for (model, f, v), r in cal.items():
            md.append(f"| {model} | {f.upper()} | {v} | {fmt(r['kl'], '.6f')} ± "
                      f"{fmt(r['kl_err'], '.6f')} | {fmt(r['kl_p99'], '.6f')} | "
                      f"{fmt(r['top'], '.3f')} |")
    open(os.path.join(out, "table.md"), "w").write("\n".join(md) + "\n")
    json.dump({"rows": rows, "ratios": summary}, open(os.path.join(out, "results.json"), "w"),
              indent=1)
    print("\n".join(md))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: llama_cpp_kl_gptq_table.py OUTDIR")
    main(sys.argv[1])
