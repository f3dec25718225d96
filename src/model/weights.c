/*
 * aq-mpi — loading a rank's share of the weights as float32 from any aq_llm_source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"

static const char *const lin_path[AQ_LIN_HEAD] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

void aq_llm_weight_name(int layer, aq_linear lin, char *buf, size_t size) {
    if (lin == AQ_LIN_HEAD || lin < 0 || lin >= AQ_LIN_COUNT)
        snprintf(buf, size, "lm_head.weight");
    else
        snprintf(buf, size, "model.layers.%d.%s.weight", layer, lin_path[lin]);
}

/* [out, in] of linear `lin` under `c`. */
static void lin_shape(const aq_llm_config *c, aq_linear lin, int64_t *out, int64_t *in) {
    int64_t q = c->n_heads * c->head_dim, kv = c->n_kv_heads * c->head_dim;
    int64_t o[] = {q, kv, kv, c->hidden, c->ffn, c->ffn, c->hidden};
    int64_t i[] = {c->hidden, c->hidden, c->hidden, q, c->hidden, c->hidden, c->ffn};
    *out = o[lin];
    *in = i[lin];
}

static aq_status fetch(const aq_llm_source *src, const char *name, int64_t numel, float **dst,
                       aq_err *err) {
    *dst = malloc((size_t)numel * sizeof **dst);
    if (!*dst) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", name);
    return src->get(src->ctx, name, numel, *dst, err);
}

static aq_status load_bias(const aq_llm_source *src, int l, const char *proj, int64_t n,
                           float **dst, aq_err *err) {
    char name[256];
    snprintf(name, sizeof name, "model.layers.%d.self_attn.%s.bias", l, proj);
    if (!src->has(src->ctx, name)) return AQ_OK; /* Llama: no attention biases */
    return fetch(src, name, n, dst, err);
}

static aq_status load_layer(const aq_llm_config *c, const aq_llm_source *src, int l,
                            aq_llm_layer *ly, aq_err *err) {
    char name[256];
    aq_status st = AQ_OK;
    for (int k = 0; k < AQ_LIN_HEAD && st == AQ_OK; k++) {
        int64_t out, in;
        lin_shape(c, (aq_linear)k, &out, &in);
        aq_llm_weight_name(l, (aq_linear)k, name, sizeof name);
        st = fetch(src, name, out * in, &ly->w[k], err);
    }
    int64_t kv = c->n_kv_heads * c->head_dim;
    if (st == AQ_OK) st = load_bias(src, l, "q_proj", c->n_heads * c->head_dim, &ly->bq, err);
    if (st == AQ_OK) st = load_bias(src, l, "k_proj", kv, &ly->bk, err);
    if (st == AQ_OK) st = load_bias(src, l, "v_proj", kv, &ly->bv, err);
    snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
    if (st == AQ_OK) st = fetch(src, name, c->hidden, &ly->in_norm, err);
    snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
    if (st == AQ_OK) st = fetch(src, name, c->hidden, &ly->post_norm, err);
    return st;
}

static aq_status load_head(const aq_llm_config *c, const aq_llm_source *src, aq_llm *m,
                           aq_err *err) {
    aq_status st = fetch(src, "model.norm.weight", c->hidden, &m->final_norm, err);
    /* Tied models may be saved without lm_head.weight: the embedding is the head. */
    const char *head =
        src->has(src->ctx, "lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
    if (st == AQ_OK) st = fetch(src, head, c->vocab * c->hidden, &m->lm_head, err);
    return st;
}

aq_status aq_llm_load(const aq_llm_config *cfg, const aq_llm_source *src, int l0, int l1,
                      int with_embed, int with_head, aq_llm *out, aq_err *err) {
    memset(out, 0, sizeof *out);
    out->cfg = *cfg;
    if (l0 < 0 || l1 < l0 || l1 > cfg->n_layers)
        return aq_err_set(err, AQ_E_VALUE, "layer range [%d, %d) outside the model's %lld", l0, l1,
                          (long long)cfg->n_layers);
    out->l0 = l0;
    out->l1 = l1;
    out->layers = calloc((size_t)(l1 - l0) + 1, sizeof *out->layers);
    if (!out->layers) return aq_err_set(err, AQ_E_NOMEM, "out of memory (layers)");
    aq_status st = AQ_OK;
    for (int l = l0; l < l1 && st == AQ_OK; l++)
        st = load_layer(cfg, src, l, &out->layers[l - l0], err);
    if (st == AQ_OK && with_embed)
        st = fetch(src, "model.embed_tokens.weight", cfg->vocab * cfg->hidden, &out->embed, err);
    if (st == AQ_OK && with_head) st = load_head(cfg, src, out, err);
    if (st != AQ_OK) aq_llm_free(out);
    return st;
}

void aq_llm_free(aq_llm *m) {
    if (!m) return;
    for (int l = 0; m->layers && l < m->l1 - m->l0; l++) {
        aq_llm_layer *ly = &m->layers[l];
        for (int k = 0; k < AQ_LIN_HEAD; k++)
            free(ly->w[k]);
        free(ly->bq);
        free(ly->bk);
        free(ly->bv);
        free(ly->in_norm);
        free(ly->post_norm);
    }
    free(m->layers);
    free(m->embed);
    free(m->final_norm);
    free(m->lm_head);
    memset(m, 0, sizeof *m);
}
