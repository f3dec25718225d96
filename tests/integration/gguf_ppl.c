/*
 * aq_gguf_ppl [--config-attention] MODEL_DIR TOKENS.kld [RESULT.h5]
 *
 * Causal perplexity of aq-mpi's own forward pass (src/model, the one aq-eval uses) on exactly
 * the tokens llama-perplexity scored, by exactly its protocol (llama.cpp
 * tools/perplexity/perplexity.cpp, perplexity()):
 *   the token stream is cut into n_chunk chunks of n_ctx tokens; the first token of each
 *   chunk is replaced by BOS; each chunk is one causal forward pass from position 0; the
 *   logits at positions j = n_ctx/2 .. n_ctx-2 score token j+1;
 *   PPL = exp(mean over all scored tokens of -log softmax(logits_j)[token_{j+1}]).
 * The tokens come from the file llama-perplexity writes with --kl-divergence-base:
 *   "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk, int32 tokens[n_chunk * n_ctx], ...
 * (the tokens before BOS replacement), so the tokenizer plays no part in the comparison.
 * Weights: the safetensors model in MODEL_DIR, or RESULT.h5 dequantized.  One process,
 * no MPI.  --config-attention keeps the attention config.json implies (bidirectional for
 * Dream) instead of causal, as llama.cpp runs such a model under llama-perplexity too: the
 * same numbers then check llama.cpp's non-causal Dream graph against ours.  Prints "aq ppl = X over
 * N tokens (C chunks of n_ctx)".  Test tool, not installed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/h5in.h"
#include "aq/model.h"

typedef struct {
    int32_t n_ctx, n_vocab, n_chunk;
    int32_t *tok;
} kld;

static int read_kld(const char *path, kld *k) {
    FILE *f = fopen(path, "rb");
    char magic[8];
    int ok = f && fread(magic, 1, 8, f) == 8 && memcmp(magic, "_logits_", 8) == 0 &&
             fread(&k->n_ctx, 4, 1, f) == 1 && fread(&k->n_vocab, 4, 1, f) == 1 &&
             fread(&k->n_chunk, 4, 1, f) == 1 && k->n_ctx >= 4 && k->n_chunk >= 1;
    size_t n = ok ? (size_t)k->n_ctx * (size_t)k->n_chunk : 0;
    k->tok = ok ? malloc(n * sizeof *k->tok) : NULL;
    ok = ok && k->tok && fread(k->tok, 4, n, f) == n;
    if (f) fclose(f);
    if (!ok) fprintf(stderr, "aq_gguf_ppl: %s: not a llama-perplexity logits file\n", path);
    return ok ? 0 : -1;
}

/* -log softmax(x)[t], in double with the maximum subtracted. */
static double nll(const float *x, int64_t n, int32_t t) {
    double mx = x[0], s = 0;
    for (int64_t i = 1; i < n; ++i)
        mx = x[i] > mx ? x[i] : mx;
    for (int64_t i = 0; i < n; ++i)
        s += exp((double)x[i] - mx);
    return log(s) + mx - (double)x[t];
}

static int run(const aq_llm *m, const kld *k, int32_t bos) {
    int L = k->n_ctx, first = L / 2;
    int64_t V = m->cfg.vocab;
    float *logits = malloc((size_t)L * (size_t)V * sizeof *logits);
    int32_t *tok = malloc((size_t)L * sizeof *tok);
    double sum = 0;
    long count = 0;
    aq_err err = {0};
    for (int c = 0; logits && tok && c < k->n_chunk; ++c) {
        memcpy(tok, k->tok + (size_t)c * L, (size_t)L * sizeof *tok);
        tok[0] = bos;
        if (aq_llm_forward(m, tok, L, logits, NULL, &err) != AQ_OK) {
            fprintf(stderr, "aq_gguf_ppl: %s\n", err.msg);
            return 1;
        }
        for (int j = first; j < L - 1; ++j, ++count)
            sum += nll(logits + (size_t)j * V, V, k->tok[(size_t)c * L + j + 1]);
    }
    if (!logits || !tok) return fprintf(stderr, "aq_gguf_ppl: out of memory\n"), 1;
    printf("aq ppl = %.6f over %ld tokens (%d chunks of %d)\n", exp(sum / (double)count), count,
           k->n_chunk, L);
    free(logits);
    free(tok);
    return 0;
}

int main(int argc, char **argv) {
    int config_attention = argc > 1 && strcmp(argv[1], "--config-attention") == 0;
    argc -= config_attention;
    argv += config_attention;
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: aq_gguf_ppl [--config-attention] MODEL_DIR TOKENS.kld "
                        "[RESULT.h5]\n");
        return 2;
    }
    kld k = {0};
    aq_err err = {0};
    aq_checkpoint *ck = NULL;
    aq_h5in *h = NULL;
    aq_llm_config cfg;
    aq_llm m = {0};
    if (read_kld(argv[2], &k) != 0) return 1;
    aq_status st = aq_checkpoint_open(argv[1], &ck, &err);
    if (st == AQ_OK) st = aq_llm_config_parse(aq_checkpoint_config_json(ck), argv[1], &cfg, &err);
    if (st == AQ_OK && argc == 4) st = aq_h5in_open(argv[3], &h, &err);
    if (st == AQ_OK) {
        if (!config_attention) cfg.causal = 1; /* llama-perplexity scores left to right */
        aq_llm_source src = h ? aq_llm_source_result(h) : aq_llm_source_safetensors(ck);
        st = aq_llm_load(&cfg, &src, 0, (int)cfg.n_layers, 1, 1, &m, &err);
    }
    if (st == AQ_OK && k.n_vocab != cfg.vocab)
        st = aq_err_set(&err, AQ_E_VALUE, "%s: n_vocab %d, model %lld", argv[2], k.n_vocab,
                        (long long)cfg.vocab);
    int rc = st == AQ_OK ? run(&m, &k, (int32_t)(cfg.bos >= 0 ? cfg.bos : 1)) : 1;
    if (st != AQ_OK) fprintf(stderr, "aq_gguf_ppl: %s\n", err.msg);
    aq_llm_free(&m);
    aq_h5in_close(h);
    aq_checkpoint_close(ck);
    free(k.tok);
    return rc;
}
