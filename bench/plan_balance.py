#!/usr/bin/env python3
"""plan_balance.py BUILD_DIR [--ranks 8,64,256,512] [--config jobs/...] [--set k=v ...]

The row-sharded plan of a Dream-7B-shaped model (aq-synth's dream-7b preset: Qwen2, 28 layers,
hidden 3584, intermediate 18944, vocab 152064, bf16) at several rank counts, without the
15 GB of data: the safetensors header is real and the file is sparse (truncate), which is all
`aq-mpi --dry-run --ranks N` reads.  Prints, per rank count, the items, the row blocks, the
largest item and the plan's balance max(rank bytes) / mean(rank bytes) — the factor by which
the busiest rank's work exceeds a perfect split (used by bench/scaling_model.py --imbalance).

--gptq: the plan of a GPTQ job (quant.gptq = true; the Hessian file is not read by --dry-run)
and, per rank count, each rank's GPTQ seconds from the measured per-shape costs of
bench/results/gptq_dream7b_synthetic.txt (this AVX2 host, 2 threads; factorization once per
rank and Hessian, the GPTQ pass (its group search included) in proportion to rows; lm_head as gate/up per
row; the embedding's dq search only): busiest rank, mean, max/mean (used by
bench/scaling_model.py --gptq-busiest).  The plan itself balances its own estimate
(src/job/plan_bcast.c cost_gptq); this table checks it against the measured costs.
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

L, H, I, HEADS, KV, V = 28, 3584, 18944, 28, 4, 152064


def tensors():
    hd = H // HEADS
    q, kv = HEADS * hd, KV * hd
    t = [("model.embed_tokens.weight", [V, H])]
    for l in range(L):
        p = f"model.layers.{l}."
        t += [(p + "input_layernorm.weight", [H]), (p + "self_attn.q_proj.weight", [q, H]),
              (p + "self_attn.q_proj.bias", [q]), (p + "self_attn.k_proj.weight", [kv, H]),
              (p + "self_attn.k_proj.bias", [kv]), (p + "self_attn.v_proj.weight", [kv, H]),
              (p + "self_attn.v_proj.bias", [kv]), (p + "self_attn.o_proj.weight", [H, q]),
              (p + "post_attention_layernorm.weight", [H]), (p + "mlp.gate_proj.weight", [I, H]),
              (p + "mlp.up_proj.weight", [I, H]), (p + "mlp.down_proj.weight", [H, I])]
    return t + [("model.norm.weight", [H]), ("lm_head.weight", [V, H])]


def write_sparse(d):
    hdr, off = {}, 0
    for name, shape in tensors():
        n = 2
        for s in shape:
            n *= s
        hdr[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + n]}
        off += n
    j = json.dumps(hdr).encode()
    j += b" " * (-len(j) % 8)
    path = os.path.join(d, "model.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(j)) + j)
        f.truncate(8 + len(j) + off)  # sparse: no data blocks are written
    return off


# bench/results/gptq_dream7b_synthetic.txt: (factorization s, GPTQ pass s (its group search
# included), dq search alone s) of the whole tensor group, and its rows
GPTQ_S = {"qkv": (0.28, 1.80, 0.15, 4608), "o": (0.31, 1.37, 0.14, 3584),
          "gateup": (0.31, 14.95, 1.09, 2 * I), "down": (25.99, 20.94, 0.76, H)}
KIND = {"q_proj": "qkv", "k_proj": "qkv", "v_proj": "qkv", "o_proj": "o", "gate_proj": "gateup",
        "up_proj": "gateup", "down_proj": "down"}


def gptq_seconds(out, embeddings, factor_bw):
    """Per-rank GPTQ finish times of a --dry-run plan, simulated: each rank runs its blocks 0
    of shared tensors first, then its other items, then the blocks that receive a
    factorization (src/job/worker.c), each in plan order; such a block starts when both its rank
    is free and the factorization is ready (its owner's start of block 0 + the factorization)
    and has crossed the network (4 n^2 bytes at factor_bw B/s, the owner's sends one after the
    other).  Durations: the factorization
    once per rank and Hessian (not on receiving blocks), the GPTQ pass in proportion to rows.
    embeddings: quant.embeddings (else the embedding and lm_head are passed through, filtered
    at 0.36 GB/s, docs/SCALING.md 5b)."""
    shapes = dict(tensors())
    items = []  # (name, r0, r1, rank, role, from)
    for line in out.splitlines():
        u = re.match(r"  unit +\d+  (\S+) .*-> rank (\d+)$", line)
        it = re.match(r"  item +\d+  (\S+) +(?:whole tensor|rows \[(\d+), (\d+)\)).* -> rank (\d+)"
                      r"(  \(GPTQ factorization (made here|from rank (\d+)))?", line)
        if u:
            items += [(n, None, None, int(u.group(2)), 1, -1) for n, _ in tensors()
                      if n == u.group(1) or n.startswith(u.group(1) + ".")]
        elif it:
            role = 1 if not it.group(5) else 0 if it.group(6) == "made here" else 2
            items.append((it.group(1), it.group(2), it.group(3), int(it.group(4)), role,
                          int(it.group(7)) if it.group(7) else -1))
    clock, factored, ready, sends = {}, set(), {}, {}
    for role in (0, 1, 2):
        for name, r0, r1, r, rl, src in items:
            if rl != role:
                continue
            shape = shapes[name]
            start = clock.get(r, 0.0)
            if len(shape) != 2:
                continue
            frac = 1.0 if r0 is None else (int(r1) - int(r0)) / shape[0]
            kind = next((KIND[k] for k in KIND if f".{k}." in name), None)
            s, f_s = 0.0, 0.0
            if kind:
                f, upd, dq, rows = GPTQ_S[kind]
                s = upd * shape[0] * frac / rows
                key = (r, kind, name.split(".mlp.")[0].split(".self_attn.")[0])
                if role == 2:  # receives it: wait for it and its transfer (the owner sends
                    # to one block's rank after the other: its link is shared)
                    sends[name] = sends.get(name, 0) + 1
                    start = max(start, ready[name] + sends[name] * 4.0 * shape[1] ** 2 / factor_bw)
                elif key not in factored:
                    factored.add(key)
                    f_s = f
                if role == 0:
                    ready[name] = start + f_s
            elif not embeddings:  # a 2-D passthrough tensor, filtered by its owner
                s = 2 * shape[0] * shape[1] * frac / 0.36e9
            elif "lm_head" in name:  # gate/up's per-row cost scaled to its rows (same width)
                f, upd, dq, rows = GPTQ_S["gateup"]
                s = upd * shape[0] * frac / rows + (f if (r, "lm") not in factored else 0)
                factored.add((r, "lm"))
            else:  # the embedding: the dq search only
                s = GPTQ_S["gateup"][2] * shape[0] * frac / GPTQ_S["gateup"][3]
            clock[r] = start + f_s + s
    return clock


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--ranks", default="8,64,256,512")
    ap.add_argument("--config", default="jobs/dream7b_int2.ini")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--gptq", action="store_true")
    ap.add_argument("--factor-bw", type=float, default=10e9,
                    help="--gptq: B/s a shared factorization crosses the network at (10e9: a "
                         "100 Gb/s link)")
    a = ap.parse_args()
    if a.gptq:
        a.set += ["quant.gptq=true"]
    with tempfile.TemporaryDirectory() as d:
        total = write_sparse(d)
        if a.gptq:  # --dry-run does not read it; the job's checks want a path
            open(os.path.join(d, "hessian.h5"), "wb").close()
            a.set += [f"quant.hessian_path={os.path.join(d, 'hessian.h5')}"]
        print(f"# Dream-7B-shaped sparse model: {total/1e9:.2f} GB bf16; {a.config} {' '.join(a.set)}")
        print("| ranks | items | row blocks | largest item MB | busiest rank MB | mean MB | max/mean |"
              + (" GPTQ busiest s | GPTQ mean s | GPTQ max/mean |" if a.gptq else ""))
        print("|---|---|---|---|---|---|---|" + ("---|---|---|" if a.gptq else ""))
        for P in [int(x) for x in a.ranks.split(",")]:
            cmd = [os.path.join(a.build, "aq-mpi"), "--config", a.config, "--set", f"model.path={d}",
                   "--dry-run", "--ranks", str(P)]
            for s in a.set:
                cmd += ["--set", s]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            ranks = [float(m) for m in re.findall(r"^  rank +\d+ +\d+ units +([0-9.]+) MB", out, re.M)]
            m = re.search(r"row-sharding: (\d+) items, (\d+) of them row blocks", out)
            items = int(m.group(1)) if m else len(re.findall(r"^  unit ", out, re.M))
            blocks = int(m.group(2)) if m else 0
            sizes = [float(x) for x in re.findall(r"^  item .* ([0-9.]+) MB  -> rank", out, re.M)]
            sizes += [float(x) for x in re.findall(r"quantize +([0-9.]+) MB  -> rank", out)]
            mean = sum(ranks) / len(ranks)
            row = (f"| {P} | {items} | {blocks} | {max(sizes):.1f} | {max(ranks):.1f} | {mean:.1f} "
                   f"| {max(ranks)/mean:.3f} |")
            if a.gptq:
                emb = any(x.replace(" ", "") == "quant.embeddings=true" for x in a.set) or bool(
                    re.search(r"^embeddings *= *true", open(a.config).read(), re.M))
                g = gptq_seconds(out, emb, a.factor_bw)
                gm = sum(g.values()) / P
                row += f" {max(g.values()):.1f} | {gm:.1f} | {max(g.values())/gm:.3f} |"
            print(row)


if __name__ == "__main__":
    sys.exit(main())
