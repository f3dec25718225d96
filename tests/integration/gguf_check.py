#!/usr/bin/env python3
"""gguf_check.py GGUF REFERENCE.safetensors MODEL_DIR

Reads GGUF with llama.cpp's own gguf-py (PYTHONPATH=../shared/llama.cpp/gguf-py, numpy only)
and checks, independently of aq-mpi's C code:
  * metadata: architecture from MODEL_DIR/config.json, the hyperparameters llama.cpp's loader
    reads, a tokenizer whose token count equals the embedding rows, Dream's non-causal
    attention and mask token;
  * tensors: every tensor decoded with gguf.quants.dequantize equals, bit for bit, the
    reference tensor (the f32 export of the result, or the source model itself) rounded to the
    GGUF tensor's type, after Llama's q/k row permutation (conversion/llama.py permute());
    every reference tensor is in the GGUF (lm_head may be absent when tied to the embedding).
Exit 0 when everything holds, 1 with one line per problem otherwise.
"""
import json
import re
import struct
import sys

import numpy as np
import gguf
from gguf.quants import dequantize

BLOCK = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}
# ggml block types aq-inspect copies from a quant.format result; the reference of such a
# tensor is the f32 export of the same result (aq-mpi's decode of the same blocks)
QUANT = {getattr(gguf.GGMLQuantizationType, n) for n in
         ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")}
TOP = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
       "lm_head.weight": "output.weight"}


def gguf_name(hf):
    if hf in TOP:
        return TOP[hf]
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)", hf)
    if not m or m.group(2) not in BLOCK:
        return None
    return f"blk.{m.group(1)}.{BLOCK[m.group(2)]}.{m.group(3)}"


def read_safetensors(path):
    """name -> float32 array; aliases from __metadata__ resolved."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        raw = np.fromfile(f, dtype=np.uint8, offset=0)
    out = {}
    meta = header.pop("__metadata__", {}) or {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        buf = raw[b:end]
        if e["dtype"] == "F32":
            a = buf.view("<f4")
        elif e["dtype"] == "F16":
            a = buf.view("<f2").astype(np.float32)
        elif e["dtype"] == "BF16":
            a = (buf.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{path}: {name}: dtype {e['dtype']}")
        out[name] = a.reshape(e["shape"]).astype(np.float32)
    del base
    for k, v in meta.items():
        if v in out and k not in out:
            out[k] = out[v]
    return out


def round_bf16(x):
    """float32 -> bf16 (round to nearest even) -> float32."""
    u = x.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16
    return u.astype(np.uint32).view(np.float32)


def as_type(x, ttype):
    if ttype == gguf.GGMLQuantizationType.F32:
        return x
    if ttype == gguf.GGMLQuantizationType.F16:
        return x.astype(np.float16).astype(np.float32)
    if ttype == gguf.GGMLQuantizationType.BF16:
        return round_bf16(x)
    if ttype in QUANT:  # ggml blocks copied from the result: the reference is their decode
        return x
    return None


def llama_permute(w, n_head):
    """conversion/llama.py LlamaModel.permute (rows within each head: i + d/2 -> 2i + 1)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def field(r, key):
    f = r.fields.get(key)
    return None if f is None else f.contents()


def check_metadata(r, cfg, problems):
    archs = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "DreamModel": "dream"}
    arch = archs[cfg["architectures"][0]]
    if field(r, "general.architecture") != arch:
        problems.append(f"general.architecture {field(r, 'general.architecture')} != {arch}")
    want = {
        "context_length": cfg["max_position_embeddings"], "embedding_length": cfg["hidden_size"],
        "feed_forward_length": cfg["intermediate_size"], "block_count": cfg["num_hidden_layers"],
        "attention.head_count": cfg["num_attention_heads"],
        "attention.head_count_kv": cfg.get("num_key_value_heads", cfg["num_attention_heads"]),
    }
    for k, v in want.items():
        if field(r, f"{arch}.{k}") != v:
            problems.append(f"{arch}.{k} = {field(r, f'{arch}.{k}')}, config.json {v}")
    eps = field(r, f"{arch}.attention.layer_norm_rms_epsilon")
    if eps is None or np.float32(eps) != np.float32(cfg.get("rms_norm_eps", 1e-6)):
        problems.append(f"rms eps {eps}")
    if field(r, f"{arch}.rope.freq_base") != np.float32(cfg.get("rope_theta", 10000.0)):
        problems.append("rope.freq_base")
    toks = field(r, "tokenizer.ggml.tokens")
    if toks is None or len(toks) != cfg["vocab_size"]:
        problems.append(f"tokenizer.ggml.tokens: {None if toks is None else len(toks)} tokens, "
                        f"vocab_size {cfg['vocab_size']}")
    for k in ("tokenizer.ggml.model", "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id",
              "tokenizer.ggml.eos_token_id"):
        if field(r, k) is None:
            problems.append(f"{k} missing")
    if arch == "dream":
        if field(r, "dream.attention.causal") is not False:
            problems.append("dream.attention.causal is not false")
        if field(r, "tokenizer.ggml.mask_token_id") != cfg["mask_token_id"]:
            problems.append("tokenizer.ggml.mask_token_id != config mask_token_id")
    return arch


def main():
    path, ref_path, model_dir = sys.argv[1:4]
    cfg = json.load(open(f"{model_dir}/config.json"))
    r = gguf.GGUFReader(path)
    problems = []
    arch = check_metadata(r, cfg, problems)
    ref = read_safetensors(ref_path)
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    tensors = {t.name: t for t in r.tensors}
    seen = set()
    for hf, x in sorted(ref.items()):
        if hf.endswith("rotary_emb.inv_freq"):
            continue
        g = gguf_name(hf)
        if g is None:
            problems.append(f"{hf}: no GGUF name")
            continue
        if g not in tensors:
            tied = hf == "lm_head.weight" and "token_embd.weight" in tensors and np.array_equal(
                x, ref.get("model.embed_tokens.weight"))
            if not tied:
                problems.append(f"{hf}: {g} missing from the GGUF")
            continue
        seen.add(g)
        t = tensors[g]
        got = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(x.shape)
        if arch == "llama" and (".q_proj." in hf or ".k_proj." in hf):
            x = llama_permute(x, n_head if ".q_proj." in hf else n_kv)
        if x.ndim == 1 and t.tensor_type != gguf.GGMLQuantizationType.F32:
            problems.append(f"{g}: 1-D tensor stored as {t.tensor_type.name}, llama.cpp wants F32")
        want = as_type(x, t.tensor_type)
        if want is None:
            problems.append(f"{g}: type {t.tensor_type.name} not checked by this script")
        elif not np.array_equal(got.view(np.uint32), want.view(np.uint32)):
            bad = int(np.sum(got.view(np.uint32) != want.view(np.uint32)))
            problems.append(f"{g} ({t.tensor_type.name}): {bad} of {x.size} values differ")
    for g in tensors:
        if g not in seen:
            problems.append(f"{g}: in the GGUF but not in the reference")
    for p in problems:
        print(f"{path}: {p}")
    types = sorted({t.tensor_type.name for t in r.tensors})
    print(f"gguf_check: {path}: {len(tensors)} tensors ({', '.join(types)}), "
          f"{len(r.fields)} keys, {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
