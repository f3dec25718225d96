#!/usr/bin/env python3
"""plan_balance.py BUILD_DIR [--ranks 8,64,256,512] [--config jobs/...] [--set k=v ...]

The row-sharded plan of a Dream-7B-shaped model (aq-synth's dream-7b preset: Qwen2, 28 layers,
hidden 3584, intermediate 18944, vocab 152064, bf16) at several rank counts, without the
15 GB of data: the safetensors header is real and the file is sparse (truncate), which is all
`aq-mpi --dry-run --ranks N` reads.  Prints, per rank count, the items, the row blocks, the
largest item and the plan's balance max(rank bytes) / mean(rank bytes) — the factor by which
the busiest rank's work exceeds a perfect split (used by bench/scaling_model.py --imbalance).
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--ranks", default="8,64,256,512")
    ap.add_argument("--config", default="jobs/dream7b_int2.ini")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        total = write_sparse(d)
        print(f"# Dream-7B-shaped sparse model: {total/1e9:.2f} GB bf16; {a.config} {' '.join(a.set)}")
        print("| ranks | items | row blocks | largest item MB | busiest rank MB | mean MB | max/mean |")
        print("|---|---|---|---|---|---|---|")
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
            print(f"| {P} | {items} | {blocks} | {max(sizes):.1f} | {max(ranks):.1f} | {mean:.1f} "
                  f"| {max(ranks)/mean:.3f} |")


if __name__ == "__main__":
    sys.exit(main())
