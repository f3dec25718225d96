/* aq-eval --layer-kl: the forward passes of one probe (one weight swapped), with the
 * full-precision side computed once (aq_eval.h). */
#include <stdlib.h>
#include <string.h>

#include "aq_eval.h"

/* Largest cache, bytes per rank. */
#define AQ_PROBE_CACHE_MAX ((size_t)1 << 30)

struct aq_probe_cache {
    int on, filled;
    float *logits; /* [n_seq * T][L * vocab], last rank */
    float *resid;  /* single rank: [n_seq * T][n_layers + 1][L * hidden], else NULL */
    size_t per_logits, per_resid;
    int n_layers;
};

aq_status aq_probe_cache_create(const eval_opts *o, const aq_run *r, aq_probe_cache **out,
                                aq_err *err) {
    aq_probe_cache *c = calloc(1, sizeof *c);
    int ok = c != NULL, all = 0;
    if (c) {
        const size_t steps = (size_t)o->run.n_seq * (size_t)o->T;
        c->n_layers = (int)r->cfg.n_layers;
        c->per_logits = (size_t)o->run.L * (size_t)r->cfg.vocab;
        c->per_resid = (size_t)(c->n_layers + 1) * (size_t)o->run.L * (size_t)r->cfg.hidden;
        const size_t nl = steps * c->per_logits, nr = r->pipe.size == 1 ? steps * c->per_resid : 0;
        int fits = (nl + nr) * sizeof(float) <= AQ_PROBE_CACHE_MAX;
        if (fits && r->pipe.last) fits = (c->logits = malloc(nl * sizeof(float) + 1)) != NULL;
        if (fits && nr) fits = (c->resid = malloc(nr * sizeof(float) + 1)) != NULL;
        MPI_Allreduce(&fits, &c->on, 1, MPI_INT, MPI_MIN, r->pipe.comm);
    }
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, r->pipe.comm);
    if (!all) {
        aq_probe_cache_free(c);
        *out = NULL;
        return aq_err_set(err, AQ_E_NOMEM, "--layer-kl: out of memory");
    }
    *out = c;
    return AQ_OK;
}

void aq_probe_cache_free(aq_probe_cache *c) {
    if (!c) return;
    free(c->logits);
    free(c->resid);
    free(c);
}

/* Blocks [l, l1) of m (a view of its layers from l on) applied to x, then the head. */
static aq_status run_from(const aq_llm *m, int l, float *x, int L, float *logits, aq_err *err) {
    aq_llm v = *m;
    v.l0 = l;
    v.layers = m->layers + (l - m->l0);
    aq_status st = aq_llm_blocks(&v, x, L, NULL, err);
    return st == AQ_OK ? aq_llm_head(m, x, L, logits, NULL, err) : st;
}

/* Single rank: the full-precision pass of one (sequence, step), recording the residual at the
 * input of every block and of the head into resid[n_layers + 1][L * hidden]; x[L * hidden]. */
static aq_status fp_staged(const aq_run *r, const int32_t *tok, int L, float *resid, float *x,
                           float *logits, aq_err *err) {
    const size_t per = (size_t)L * (size_t)r->cfg.hidden;
    const aq_llm *m = &r->fp;
    aq_status st = aq_llm_embed(m, tok, L, x, err);
    for (int l = 0; l < (int)r->cfg.n_layers && st == AQ_OK; l++) {
        memcpy(resid + (size_t)l * per, x, per * sizeof *x);
        aq_llm v = *m;
        v.l0 = l, v.l1 = l + 1;
        v.layers = m->layers + l;
        st = aq_llm_blocks(&v, x, L, NULL, err);
    }
    if (st == AQ_OK) memcpy(resid + (size_t)r->cfg.n_layers * per, x, per * sizeof *x);
    return st == AQ_OK ? aq_llm_head(m, x, L, logits, NULL, err) : st;
}

/* The probe's logits into lq: from the cached residual at the swapped weight's block (or
 * the head) when there is one, else the whole (pipelined) forward pass. */
static aq_status probe_forward(const aq_run *r, const aq_llm *probe, const aq_probe_target *p,
                               const float *resid, const int32_t *tok, int L, float *x, float *lq,
                               aq_err *err) {
    if (!resid || p->kind == AQ_PROBE_EMBED)
        return aq_pipe_forward(&r->pipe, probe, tok, L, lq, NULL, err);
    const int l = p->kind == AQ_PROBE_HEAD ? (int)r->cfg.n_layers : p->layer;
    const size_t per = (size_t)L * (size_t)r->cfg.hidden;
    memcpy(x, resid + (size_t)l * per, per * sizeof *x);
    return run_from(probe, l, x, L, lq, err);
}

aq_status aq_probe_kl(const eval_opts *o, const aq_run *r, const aq_llm *probe,
                      const aq_probe_target *p, aq_probe_cache *c, aq_eval_acc *acc, aq_err *err) {
    const int L = o->run.L, T = o->T, fill = c->on && !c->filled;
    aq_eval_bufs b;
    aq_status st = aq_eval_bufs_alloc(r, L, &b, err);
    float *x = malloc((size_t)L * (size_t)r->cfg.hidden * sizeof *x + 1);
    if (st == AQ_OK && !x) st = aq_err_set(err, AQ_E_NOMEM, "--layer-kl: out of memory");
    memset(acc, 0, (size_t)T * sizeof *acc);
    for (int s = 0; s < o->run.n_seq && st == AQ_OK; s++) {
        for (int t = 0; t < T && st == AQ_OK; t++) {
            const size_t k = (size_t)s * (size_t)T + (size_t)t;
            aq_eval_input(o, r, s, t, &b);
            float *lf = c->on && r->pipe.last ? c->logits + k * c->per_logits : b.lf;
            const float *resid = c->on && c->resid ? c->resid + k * c->per_resid : NULL;
            if (fill && resid)
                st = fp_staged(r, b.tok, L, c->resid + k * c->per_resid, x, lf, err);
            else if (fill || !c->on)
                st = aq_pipe_forward(&r->pipe, &r->fp, b.tok, L, lf, NULL, err);
            if (st == AQ_OK) st = probe_forward(r, probe, p, resid, b.tok, L, x, b.lq, err);
            if (st == AQ_OK && r->pipe.last)
                aq_eval_score(&r->cfg, r->seqs + (int64_t)s * L, b.masked, L, lf, b.lq, &acc[t]);
        }
    }
    free(x);
    aq_eval_bufs_free(&b);
    if (st == AQ_OK && fill) c->filled = 1;
    return st;
}
