#!/usr/bin/python3
"""make_wide_qwen2.py SRC_DIR OUT_DIR [--hidden H] [--ffn F] [--layers L] [--seed S]

A larger Qwen2-architecture checkpoint for timing quantizers (bench/llama_cpp_speed.sh): the
config, tokenizer and special tokens of SRC_DIR (tinystories-qwen2-4m: vocab 2049) with wider
and deeper layers, bf16 weights drawn from a seeded Student-t (nu = 5, std 0.02; norms 1,
biases 0.01 x t).  The weights are random: use it for speed, never for quality.  Written as one
safetensors file (8-byte little-endian header length, JSON header, raw data; the format of
huggingface/safetensors), numpy only.  Same arguments, same bytes.
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np


def bf16_bytes(x):
    """float32 -> bfloat16 (round to nearest even) as raw little-endian bytes."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype("<u2").tobytes()


def shapes(h, f, layers, heads, kv_heads, vocab):
    kv = h // heads * kv_heads
    out = [("model.embed_tokens.weight", (vocab, h))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [(p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.q_proj.bias", (h,)),
                (p + "self_attn.k_proj.weight", (kv, h)), (p + "self_attn.k_proj.bias", (kv,)),
                (p + "self_attn.v_proj.weight", (kv, h)), (p + "self_attn.v_proj.bias", (kv,)),
                (p + "self_attn.o_proj.weight", (h, h)),
                (p + "mlp.gate_proj.weight", (f, h)), (p + "mlp.up_proj.weight", (f, h)),
                (p + "mlp.down_proj.weight", (h, f)),
                (p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,))]
    return out + [("model.norm.weight", (h,)), ("lm_head.weight", (vocab, h))]


def values(rng, name, shape):
    if name.endswith("norm.weight"):
        return np.ones(shape, np.float32)
    t = rng.standard_t(5, size=shape).astype(np.float32)
    return t * np.float32(0.01 if name.endswith(".bias") else 0.02 / np.sqrt(5 / 3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--ffn", type=int, default=2816)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    if a.hidden % 256 or a.ffn % 256 or a.hidden % a.heads or a.heads % a.kv_heads:
        ap.error("hidden and ffn must be multiples of 256 (k-quant rows), heads must divide "
                 "hidden and kv-heads divide heads")
    with open(os.path.join(a.src, "config.json")) as fh:
        cfg = json.load(fh)
    cfg.update(hidden_size=a.hidden, intermediate_size=a.ffn, num_hidden_layers=a.layers,
               num_attention_heads=a.heads, num_key_value_heads=a.kv_heads)
    os.makedirs(a.out, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "generation_config.json"):
        if os.path.exists(os.path.join(a.src, name)):
            shutil.copyfile(os.path.join(a.src, name), os.path.join(a.out, name))
    with open(os.path.join(a.out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
    table = shapes(a.hidden, a.ffn, a.layers, a.heads, a.kv_heads, cfg["vocab_size"])
    header, off = {"__metadata__": {"format": "pt", "note": "random weights, for timing"}}, 0
    for name, shape in table:
        n = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    rng = np.random.default_rng(a.seed)
    tmp = os.path.join(a.out, "model.safetensors.tmp")
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(hb)) + hb)
        for name, shape in table:
            fh.write(bf16_bytes(values(rng, name, shape)))
    os.replace(tmp, os.path.join(a.out, "model.safetensors"))
    n_w = sum(int(np.prod(s)) for _, s in table)
    print(f"make_wide_qwen2: {a.out}: {a.layers} layers, hidden {a.hidden}, ffn {a.ffn}, "
          f"{n_w / 1e6:.1f} M parameters, {off / 1e6:.1f} MB bf16")


if __name__ == "__main__":
    main()
