/*
 * aq-mpi — token sequences: read from a file, or sampled from the model itself.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "aq/synth.h"

/* Parses up to L ids of one line; returns how many, or -1 on a bad number / id. */
static int parse_line(char *line, int L, int64_t vocab, int32_t *out) {
    int n = 0;
    for (char *p = line; *p && n < L;) {
        if (isspace((unsigned char)*p) || *p == ',') {
            p++;
            continue;
        }
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v >= vocab) return -1;
        out[n++] = (int32_t)v;
        p = end;
    }
    return n;
}

aq_status aq_tokens_read(const char *path, int n, int L, int64_t vocab, int32_t *out, aq_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int got = 0, lineno = 0;
    aq_status st = AQ_OK;
    while (got < n && st == AQ_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || *p == '\0') continue;
        int k = parse_line(p, L, vocab, out + (int64_t)got * L);
        if (k < 0)
            st = aq_err_set(err, AQ_E_FORMAT, "%s:%d: bad token id (not an integer in [0, %lld))",
                            path, lineno, (long long)vocab);
        else if (k < L)
            st = aq_err_set(err, AQ_E_FORMAT, "%s:%d: %d tokens, the sequence length is %d", path,
                            lineno, k, L);
        else
            got++;
    }
    free(line);
    fclose(f);
    if (st == AQ_OK && got < n)
        st = aq_err_set(err, AQ_E_FORMAT, "%s: %d sequences, %d requested", path, got, n);
    return st;
}

/* Draws from softmax(logits / temperature); temperature 0 is argmax (first maximum). */
static int32_t draw(const float *logits, int64_t vocab, double temperature, aq_rng *r) {
    int64_t best = 0;
    for (int64_t j = 1; j < vocab; j++)
        if (logits[j] > logits[best]) best = j;
    if (temperature <= 0) return (int32_t)best;
    double sum = 0;
    for (int64_t j = 0; j < vocab; j++)
        sum += exp((logits[j] - logits[best]) / temperature);
    double u = aq_rng_uniform(r) * sum, acc = 0;
    for (int64_t j = 0; j < vocab; j++) {
        acc += exp((logits[j] - logits[best]) / temperature);
        if (u < acc) return (int32_t)j;
    }
    return (int32_t)best;
}

static aq_status sample_one(const aq_pipe *p, const aq_llm *m, int L, aq_rng *r, double temperature,
                            int32_t mask_token, int32_t *tok, float *logits, aq_err *err) {
    const aq_llm_config *c = &m->cfg;
    int shift = c->logits_shift;
    tok[0] = (int32_t)(c->bos >= 0 ? c->bos : 0);
    for (int i = 1; i < L; i++) {
        /* A causal model only sees the prefix; a bidirectional one sees masks to the right. */
        int len = c->causal ? (shift ? i : i + 1) : L;
        for (int j = i; j < L; j++)
            tok[j] = mask_token;
        aq_status st = aq_pipe_forward(p, m, tok, len, logits, NULL, err);
        if (st != AQ_OK) return st;
        int32_t next = 0;
        if (p->last)
            next = draw(logits + (int64_t)(shift ? i - 1 : i) * c->vocab, c->vocab, temperature, r);
        MPI_Bcast(&next, 1, MPI_INT32_T, p->size - 1, p->comm);
        tok[i] = next;
    }
    return AQ_OK;
}

aq_status aq_sample_sequences(const aq_pipe *p, const aq_llm *m, int n, int L, uint64_t seed,
                              double temperature, int32_t mask_token, int32_t *out, aq_err *err) {
    float *logits = NULL;
    if (p->last) {
        logits = malloc((size_t)L * (size_t)m->cfg.vocab * sizeof *logits);
        if (!logits) return aq_err_set(err, AQ_E_NOMEM, "sampling: out of memory");
    }
    aq_status st = AQ_OK;
    for (int s = 0; s < n && st == AQ_OK; s++) {
        aq_rng r;
        aq_rng_seed(&r,
                    aq_synth_seed_for(seed, "sample") + 0x9E3779B97F4A7C15ull * (uint64_t)(s + 1));
        st = sample_one(p, m, L, &r, temperature, mask_token, out + (int64_t)s * L, logits, err);
    }
    free(logits);
    return st;
}
