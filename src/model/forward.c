/*
 * aq-mpi — forward pass of one process: embedding, blocks, head (see include/aq/model.h).
 */
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "layers.h"

/* Activations of one block call, allocated once per aq_llm_blocks(). */
typedef struct {
    float *h, *in, *q, *k, *v, *a, *g, *u, *t;
} block_buf;

static void buf_free(block_buf *b) {
    float **p[] = {&b->h, &b->in, &b->q, &b->k, &b->v, &b->a, &b->g, &b->u, &b->t};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(*p[i]), *p[i] = NULL;
}

static int buf_alloc(const aq_llm_config *c, int L, block_buf *b) {
    size_t l = (size_t)L, nq = (size_t)(c->n_heads * c->head_dim);
    size_t nkv = (size_t)(c->n_kv_heads * c->head_dim), hid = (size_t)c->hidden;
    size_t ffn = (size_t)c->ffn, widest = hid > nq ? hid : nq;
    widest = widest > ffn ? widest : ffn;
    b->h = malloc(l * hid * sizeof(float));
    b->in = malloc(l * widest * sizeof(float));
    b->q = malloc(l * nq * sizeof(float));
    b->k = malloc(l * nkv * sizeof(float));
    b->v = malloc(l * nkv * sizeof(float));
    b->a = malloc(l * nq * sizeof(float));
    b->g = malloc(l * ffn * sizeof(float));
    b->u = malloc(l * ffn * sizeof(float));
    b->t = malloc(l * hid * sizeof(float));
    int ok = b->h && b->in && b->q && b->k && b->v && b->a && b->g && b->u && b->t;
    if (!ok) buf_free(b);
    return ok;
}

/* A linear layer with its input offered to the hook first (on a copy, so that q, k and v
 * each see the unmodified normed input even when the hook fake-quantizes). */
static void linear_hooked(const aq_llm_hook *hook, int layer, aq_linear lin, const float *x, int L,
                          int64_t in, const float *W, const float *b, int64_t out, float *scratch,
                          float *y) {
    if (hook && hook->linear_input) {
        memcpy(scratch, x, (size_t)L * (size_t)in * sizeof *x);
        hook->linear_input(hook->ctx, layer, lin, scratch, L, in);
        x = scratch;
    }
    aq_linear_fwd(x, L, in, W, b, out, y);
}

static void add_into(float *x, const float *d, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] += d[i];
}

static aq_status attention_half(const aq_llm_config *c, const aq_llm_layer *ly, int layer, float *x,
                                int L, const aq_llm_hook *hook, block_buf *b, aq_err *err) {
    int64_t hid = c->hidden, nq = c->n_heads * c->head_dim, nkv = c->n_kv_heads * c->head_dim;
    memcpy(b->h, x, (size_t)L * (size_t)hid * sizeof *x);
    aq_rmsnorm(b->h, L, hid, ly->in_norm, c->eps);
    linear_hooked(hook, layer, AQ_LIN_Q, b->h, L, hid, ly->w[AQ_LIN_Q], ly->bq, nq, b->in, b->q);
    linear_hooked(hook, layer, AQ_LIN_K, b->h, L, hid, ly->w[AQ_LIN_K], ly->bk, nkv, b->in, b->k);
    linear_hooked(hook, layer, AQ_LIN_V, b->h, L, hid, ly->w[AQ_LIN_V], ly->bv, nkv, b->in, b->v);
    aq_rope(b->q, L, c->n_heads, c->head_dim, c->rope_theta);
    aq_rope(b->k, L, c->n_kv_heads, c->head_dim, c->rope_theta);
    aq_attn_dims d = {L, c->n_heads, c->n_kv_heads, c->head_dim, c->causal};
    aq_status st = aq_attention(&d, b->q, b->k, b->v, b->a, err);
    if (st != AQ_OK) return st;
    linear_hooked(hook, layer, AQ_LIN_O, b->a, L, nq, ly->w[AQ_LIN_O], NULL, hid, b->in, b->t);
    add_into(x, b->t, (size_t)L * (size_t)hid);
    return AQ_OK;
}

static void mlp_half(const aq_llm_config *c, const aq_llm_layer *ly, int layer, float *x, int L,
                     const aq_llm_hook *hook, block_buf *b) {
    int64_t hid = c->hidden, ffn = c->ffn;
    memcpy(b->h, x, (size_t)L * (size_t)hid * sizeof *x);
    aq_rmsnorm(b->h, L, hid, ly->post_norm, c->eps);
    linear_hooked(hook, layer, AQ_LIN_GATE, b->h, L, hid, ly->w[AQ_LIN_GATE], NULL, ffn, b->in,
                  b->g);
    linear_hooked(hook, layer, AQ_LIN_UP, b->h, L, hid, ly->w[AQ_LIN_UP], NULL, ffn, b->in, b->u);
    aq_swiglu(b->g, b->u, (int64_t)L * ffn);
    linear_hooked(hook, layer, AQ_LIN_DOWN, b->g, L, ffn, ly->w[AQ_LIN_DOWN], NULL, hid, b->in,
                  b->t);
    add_into(x, b->t, (size_t)L * (size_t)hid);
}

aq_status aq_llm_blocks(const aq_llm *m, float *x, int L, const aq_llm_hook *hook, aq_err *err) {
    if (m->l1 == m->l0 || L <= 0) return AQ_OK;
    block_buf b = {0};
    if (!buf_alloc(&m->cfg, L, &b))
        return aq_err_set(err, AQ_E_NOMEM, "forward: out of memory for %d tokens", L);
    aq_status st = AQ_OK;
    for (int l = m->l0; l < m->l1 && st == AQ_OK; l++) {
        const aq_llm_layer *ly = &m->layers[l - m->l0];
        st = attention_half(&m->cfg, ly, l, x, L, hook, &b, err);
        if (st == AQ_OK) mlp_half(&m->cfg, ly, l, x, L, hook, &b);
    }
    buf_free(&b);
    return st;
}

aq_status aq_llm_embed(const aq_llm *m, const int32_t *tok, int L, float *x, aq_err *err) {
    int64_t hid = m->cfg.hidden;
    if (!m->embed) return aq_err_set(err, AQ_E_UNSUPPORTED, "this stage holds no embedding");
    for (int i = 0; i < L; i++) {
        if (tok[i] < 0 || tok[i] >= m->cfg.vocab)
            return aq_err_set(err, AQ_E_VALUE, "token %d at position %d outside vocab %lld", tok[i],
                              i, (long long)m->cfg.vocab);
        memcpy(x + (int64_t)i * hid, m->embed + (int64_t)tok[i] * hid, (size_t)hid * sizeof *x);
    }
    return AQ_OK;
}

aq_status aq_llm_head(const aq_llm *m, float *x, int L, float *logits, const aq_llm_hook *hook,
                      aq_err *err) {
    const aq_llm_config *c = &m->cfg;
    if (!m->lm_head) return aq_err_set(err, AQ_E_UNSUPPORTED, "this stage holds no lm_head");
    aq_rmsnorm(x, L, c->hidden, m->final_norm, c->eps);
    float *scratch = NULL;
    if (hook && hook->linear_input) {
        scratch = malloc((size_t)L * (size_t)c->hidden * sizeof *scratch);
        if (!scratch) return aq_err_set(err, AQ_E_NOMEM, "lm_head: out of memory");
    }
    linear_hooked(hook, (int)c->n_layers, AQ_LIN_HEAD, x, L, c->hidden, m->lm_head, NULL, c->vocab,
                  scratch, logits);
    free(scratch);
    return AQ_OK;
}

aq_status aq_llm_forward(const aq_llm *m, const int32_t *tok, int L, float *logits,
                         const aq_llm_hook *hook, aq_err *err) {
    float *x = malloc((size_t)L * (size_t)m->cfg.hidden * sizeof *x);
    if (!x) return aq_err_set(err, AQ_E_NOMEM, "forward: out of memory");
    aq_status st = aq_llm_embed(m, tok, L, x, err);
    if (st == AQ_OK) st = aq_llm_blocks(m, x, L, hook, err);
    if (st == AQ_OK) st = aq_llm_head(m, x, L, logits, hook, err);
    free(x);
    return st;
}
