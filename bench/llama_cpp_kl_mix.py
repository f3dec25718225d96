#!/usr/bin/env python3
"""llama_cpp_kl_mix.py — helpers of bench/llama_cpp_kl_mix.sh (docs/LLAMA_CPP.md "Budget mixes").

  llama_cpp_kl_mix.py budget GGUF   prints the bits per weight of GGUF's non-F32 tensors (the
                                    quantized 2-D weights): tensor data bytes x 8 / weights;
                                    our quant.budget_bits counts the same (every stored byte of
                                    the quantized tensors over their weights), so a budget of
                                    this value gives a file no larger than GGUF when both files
                                    keep the same tensors in F32 (norms, biases).
  llama_cpp_kl_mix.py types GGUF    prints "type count" of GGUF's tensors.
  llama_cpp_kl_mix.py table OUTDIR  reads OUTDIR/rows.tsv and the logs it names; writes
                                    OUTDIR/table.md and OUTDIR/results.json.
Every figure is parsed from a tool's own output (llama-perplexity "Mean    KLD:", "99.0%   KLD:",
"Same top p:") or computed with gguf-py (PYTHONPATH=<llama.cpp>/gguf-py): bits/weight of the
whole file = tensor data bytes x 8 / weights over all tensors (llama-quantize's BPW formula).
"""
import csv
import json
import os
import sys
from collections import Counter

from gguf import GGUFReader, GGMLQuantizationType

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_cpp_kl_table import kl_stats  # noqa: E402  (one parser of the logs)

VARIANTS = [("lq", "llama-quantize (default mix)"),
            ("lq_imatrix", "llama-quantize --imatrix (default mix)"),
            ("aq", "ours, budget mix, uncalibrated"),
            ("aq_clean", "ours, budget mix, clean calibration"),
            ("aq_clean_kl", "ours, budget mix, clean calibration + layer KL"),
            ("aq_gptq_kl", "ours, budget mix, GPTQ (clean Hessians) + layer KL")]


def bpw(path, quantized_only=False):
    r = GGUFReader(path)
    ts = [t for t in r.tensors
          if not quantized_only or t.tensor_type != GGMLQuantizationType.F32]
    return 8.0 * sum(int(t.n_bytes) for t in ts) / sum(int(t.n_elements) for t in ts)


def types(path):
    c = Counter(GGMLQuantizationType(int(t.tensor_type)).name for t in GGUFReader(path).tensors)
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items()))


def table(out):
    rows = []
    with open(os.path.join(out, "rows.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            r.update(kl_stats(os.path.join(out, r["kl_log"])))
            g = os.path.join(out, r["gguf"])
            r["bpw_file"] = bpw(g)
            r["bpw_quant"] = bpw(g, True)
            r["types"] = types(g)
            rows.append(r)
    by = {(r["mix"], r["variant"]): r for r in rows}
    md = []
    env = os.path.join(out, "env.txt")
    if os.path.exists(env):
        md += ["```", open(env).read().rstrip(), "```", ""]
    md += ["| mix | variant | bpw (file) | bpw (quantized tensors) | mean KL | p99 KL | "
           "same top % | tensor types |", "|---|---|---|---|---|---|---|---|"]
    mixes = list(dict.fromkeys(r["mix"] for r in rows))
    for m in mixes:
        for v, label in VARIANTS:
            r = by.get((m, v))
            if r:
                md.append(f"| {m} | {label} | {r['bpw_file']:.4f} | {r['bpw_quant']:.4f} | "
                          f"{r['kl']:.6f} ± {r['kl_err']:.6f} | {r['kl_p99']:.6f} | "
                          f"{r['top']:.3f} | {r['types']} |")
    md += ["", "Targets: with calibration, KL at most that of llama-quantize+imatrix at every size "
           "(ours / lq+imatrix <= 1, at file bits/weight <= theirs), and at most 0.85x at the Q2_K "
           "and Q3_K_M sizes; judged for each calibrated variant. Uncalibrated: against "
           "llama-quantize without imatrix, for reference.", "",
           "| mix | variant | KL / reference | limit | file bpw ours / theirs | verdict |",
           "|---|---|---|---|---|---|"]
    summary = []
    for m in mixes:
        g = {v: by.get((m, v)) for v, _ in VARIANTS}
        if not (g["lq"] and g["lq_imatrix"]):
            continue
        target = 0.85 if m in ("Q2_K", "Q3_K_M") else 1.0
        for v, label in VARIANTS[2:]:
            if not g.get(v):
                continue
            ref = g["lq"] if v == "aq" else g["lq_imatrix"]
            r = g[v]["kl"] / ref["kl"]
            size_ok = g[v]["bpw_file"] <= ref["bpw_file"] + 1e-9
            ok = r <= target and size_ok
            verdict = "(reference)" if v == "aq" else "met" if ok else "**MISSED**"
            md.append(f"| {m} | {label} | {r:.3f} | {'-' if v == 'aq' else f'<= {target}'} | "
                      f"{g[v]['bpw_file']:.4f} / {ref['bpw_file']:.4f} | {verdict} |")
            summary.append(dict(mix=m, variant=v, ratio=r, limit=target, size_ok=size_ok,
                                met=ok if v != "aq" else None))
    open(os.path.join(out, "table.md"), "w").write("\n".join(md) + "\n")
    json.dump({"rows": rows, "ratios": summary}, open(os.path.join(out, "results.json"), "w"),
              indent=1)
    print("\n".join(md))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("budget", "types", "table"):
        sys.exit(__doc__)
    if sys.argv[1] == "budget":
        print(f"{bpw(sys.argv[2], True):.6f}")
    elif sys.argv[1] == "types":
        print(types(sys.argv[2]))
    else:
        table(sys.argv[2])
