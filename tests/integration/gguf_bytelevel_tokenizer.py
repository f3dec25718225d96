#!/usr/bin/env python3
"""gguf_bytelevel_tokenizer.py TEXT OUT_DIR/tokenizer.json N_MERGES

Writes a small Qwen2-style byte-level BPE tokenizer.json (GPT-2 byte-to-unicode alphabet, the
Qwen2 pre-tokenizer regex + ByteLevel, ByteLevel decoder, "<|endoftext|>" added) trained on
TEXT with N_MERGES merges, so the exporter's "gpt2" path can be run by llama.cpp without a
real Qwen2/Dream 7B tokenizer.  Deterministic (ties broken by pair text)."""
import collections
import json
import re
import sys


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


text, out, n_merges = sys.argv[1], sys.argv[2], int(sys.argv[3])
b2u = bytes_to_unicode()
words = collections.Counter(
    "".join(b2u[b] for b in w.encode()) for w in re.findall(r" ?\w+| ?[^\s\w]+|\s+", open(text).read()[:200000]))
seqs = {w: list(w) for w in words}
vocab = {b2u[b]: i for i, b in enumerate(range(256))}
merges = []
for _ in range(n_merges):
    pairs = collections.Counter()
    for w, s in seqs.items():
        for a, b in zip(s, s[1:]):
            pairs[(a, b)] += words[w]
    if not pairs:
        break
    (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
    merges.append(f"{a} {b}")
    vocab[a + b] = len(vocab)
    for w, s in seqs.items():
        i, t = 0, []
        while i < len(s):
            if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                t.append(a + b)
                i += 2
            else:
                t.append(s[i])
                i += 1
        seqs[w] = t
eot = len(vocab)
qwen2_regex = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
tok = {
    "version": "1.0",
    "added_tokens": [{"id": eot, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True}],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": qwen2_regex}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
    "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
              "vocab": vocab, "merges": merges},
}
json.dump(tok, open(out, "w"), ensure_ascii=False)
json.dump({"bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
           "add_bos_token": False}, open(out.replace("tokenizer.json", "tokenizer_config.json"), "w"))
print(f"{out}: {len(vocab)} tokens, {len(merges)} merges, <|endoftext|> = {eot}")
