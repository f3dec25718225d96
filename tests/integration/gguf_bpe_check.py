#!/usr/bin/env python3
"""gguf_bpe_check.py TOKENIZER.json TOKENS.kld TEXT

Hugging Face BPE (tokenizers: lowest merge rank first, leftmost on ties) on the normalized
text (Prepend "▁", " " -> "▁", no pre-tokenizer: the TinyStories tokenizer) against the tokens
llama.cpp produced from the same text (llama-perplexity --kl-divergence-base file) with the
exported "llama" tokenizer and its merge-order scores.  Exit 1 on any difference."""
import heapq, json, sys
import numpy as np
tj = json.load(open(sys.argv[1]))
vocab = tj['model']['vocab']
rank = {}
for r, m in enumerate(tj['model']['merges']):
    a, b = m.split(' ', 1) if isinstance(m, str) else m
    rank.setdefault((a, b), r)
def bpe(text):
    s = list(text)
    nxt = list(range(1, len(s))) + [-1]; prv = list(range(-1, len(s) - 1)); alive = [True] * len(s)
    h = []
    def push(i):
        j = nxt[i]
        if i >= 0 and j >= 0:
            r = rank.get((s[i], s[j]))
            if r is not None: heapq.heappush(h, (r, i, s[i], s[j]))
    for i in range(len(s) - 1): push(i)
    while h:
        r, i, a, b = heapq.heappop(h)
        j = nxt[i] if alive[i] else -1
        if j < 0 or s[i] != a or s[j] != b: continue
        s[i] = a + b; alive[j] = False; nxt[i] = nxt[j]
        if nxt[j] >= 0: prv[nxt[j]] = i
        push(prv[i]); push(i)
    out, i = [], 0
    while i != -1 and i < len(s):
        out.append(vocab.get(s[i], 0)); i = nxt[i]
    return out
b = open(sys.argv[2], 'rb').read()
n_ctx, n_vocab, n_chunk = np.frombuffer(b[8:20], dtype='<i4')
ll = np.frombuffer(b[20:20 + 4 * n_ctx * n_chunk], dtype='<i4').tolist()[1:]
text = open(sys.argv[3]).read()
hf = bpe('▁' + text[:60000].replace(' ', '▁'))
n = min(len(hf), len(ll)) - 50
same = sum(1 for x, y in zip(hf[:n], ll[:n]) if x == y)
first = next((k for k in range(n) if hf[k] != ll[k]), None)
print(f"HF BPE vs llama.cpp SPM-with-merge-scores: {n} tokens compared, first difference at {first}, {same}/{n} positions equal")
if first is not None: print(hf[first-3:first+5], ll[first-3:first+5])
sys.exit(0 if first is None and n > 1000 else 1)
