/* GPTQ of one tensor on the rank that owns it (quant.gptq, include/aq/gptq.h): the Hessian
 * of its input from the aq-calib --hessian file, checked against the job's time weights,
 * factorized once per layer input while it is in use: the two most recently used
 * factorizations are kept, because the plan visits a block's tensors in name order
 * (down, gate, up, k, o, q, v): with two slots every input is factorized once per block. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/gptq.h"
#include "aq/hessian.h"
#include "aq/phases.h"
#include "job_internal.h"

#define GPTQ_SLOTS 2

struct aq_job_gptq_s {
    char path[AQ_PATH_MAX];
    aq_gptq_opts o;
    aq_schedule schedule;
    aq_time_weight time_weight;
    int t_ref;
    int T;     /* of the file, read at the first tensor; 0 before */
    double *w; /* [T] the job's time weights for that T */
    struct {
        char layer[256];
        aq_gptq_hinv *hv; /* factorization of `layer`, or NULL */
        uint64_t used;    /* last use (tick) */
    } slot[GPTQ_SLOTS];
    uint64_t tick;
    int64_t factorizations; /* made on this rank (tests, reports) */
};

static const char *const SCHEDULE_NAMES[] = {"linear", "cosine", "mask"}; /* aq_schedule */
static const char *const TWEIGHT_NAMES[] = {"alphabar", "uniform"};       /* aq_time_weight */

aq_status aq_job_gptq_open(const aq_config *cfg, struct aq_job_gptq_s **out, aq_err *err) {
    *out = NULL;
    if (!cfg->gptq) return AQ_OK;
    struct aq_job_gptq_s *g = calloc(1, sizeof *g);
    if (!g) return aq_err_set(err, AQ_E_NOMEM, "GPTQ: out of memory");
    snprintf(g->path, sizeof g->path, "%s",
             cfg->hessian_path[0] ? cfg->hessian_path : cfg->calib_path);
    g->o = aq_gptq_opts_default();
    g->o.damp = cfg->gptq_damp;
    g->o.block = cfg->gptq_block;
    g->o.act_order = cfg->gptq_act_order;
    /* run.threads (applied to OpenMP by the caller): the tiled factorization gives the same
     * bits for any thread count (include/aq/gptq_factor.h) */
    g->o.threads = omp_get_max_threads();
    g->schedule = cfg->tg_schedule;
    g->time_weight = cfg->tg_time_weight;
    g->t_ref = cfg->tg_t_ref;
    aq_status st = aq_gptq_opts_check(&g->o, err);
    if (st != AQ_OK) {
        free(g);
        return st;
    }
    *out = g;
    return AQ_OK;
}

void aq_job_gptq_close(struct aq_job_gptq_s *g) {
    if (!g) return;
    for (int i = 0; i < GPTQ_SLOTS; ++i) /* after the settle: no send holds one */
        aq_gptq_hinv_free(g->slot[i].hv);
    free(g->w);
    free(g);
}

const char *aq_job_gptq_path(const struct aq_job_gptq_s *g) {
    return g->path;
}

/* The untied output matrix; its Hessian is named after itself.  Files made before aq-calib
 * recorded it (and tied models) have none: then it gets the normal search. */
static const char HEAD[] = "lm_head.weight";

/* Weight suffix -> the suffix of the weight whose input it shares (HF Llama / Qwen2 names). */
static const char *const SHARED[][2] = {
    {".self_attn.q_proj.weight", ".self_attn.q_proj.weight"},
    {".self_attn.k_proj.weight", ".self_attn.q_proj.weight"},
    {".self_attn.v_proj.weight", ".self_attn.q_proj.weight"},
    {".self_attn.o_proj.weight", ".self_attn.o_proj.weight"},
    {".mlp.gate_proj.weight", ".mlp.gate_proj.weight"},
    {".mlp.up_proj.weight", ".mlp.gate_proj.weight"},
    {".mlp.down_proj.weight", ".mlp.down_proj.weight"},
};

int aq_job_gptq_layer(const char *weight, char *buf, size_t size) {
    size_t n = strlen(weight);
    if (strcmp(weight, HEAD) == 0) { /* untied lm_head: its own input (aq-calib --hessian) */
        int len = snprintf(buf, size, "%s", HEAD);
        return len > 0 && (size_t)len < size;
    }
    for (size_t i = 0; i < sizeof SHARED / sizeof SHARED[0]; ++i) {
        size_t k = strlen(SHARED[i][0]);
        if (n <= k || strcmp(weight + n - k, SHARED[i][0]) != 0) continue;
        int len = snprintf(buf, size, "%.*s%s", (int)(n - k), weight, SHARED[i][1]);
        return len > 0 && (size_t)len < size;
    }
    return 0;
}

/* The job's w_t for the file's T (timegroups.schedule, time_weight, t_ref). */
static aq_status load_weights(struct aq_job_gptq_s *g, aq_err *err) {
    if (g->w) return AQ_OK;
    aq_status st = aq_hessian_file_T(g->path, &g->T, err);
    if (st != AQ_OK) return st;
    g->w = malloc((size_t)g->T * sizeof *g->w);
    if (!g->w) return aq_err_set(err, AQ_E_NOMEM, "GPTQ: out of memory");
    aq_time_weights(g->schedule, g->time_weight, g->T, g->t_ref, g->w, NULL);
    return AQ_OK;
}

/* The slot kept for `layer` with n columns, or -1. */
static int kept(struct aq_job_gptq_s *g, const char *layer, int64_t n) {
    for (int i = 0; i < GPTQ_SLOTS; ++i)
        if (g->slot[i].hv && strcmp(g->slot[i].layer, layer) == 0 &&
            aq_gptq_hinv_cols(g->slot[i].hv) == n)
            return i;
    return -1;
}

/* Empties the least recently used slot (its factorization freed, or left to the sends that
 * still read it) and returns it. */
static int free_slot(struct aq_job_gptq_s *g, aq_gptq_share *share) {
    int lru = 0;
    for (int i = 1; i < GPTQ_SLOTS; ++i)
        if (g->slot[i].used < g->slot[lru].used) lru = i;
    if (g->slot[lru].hv && !(share && aq_gptq_share_release(share, g->slot[lru].hv)))
        aq_gptq_hinv_free(g->slot[lru].hv);
    g->slot[lru].hv = NULL; /* before reading the next: bounds memory to the slots */
    g->slot[lru].used = 0;
    return lru;
}

static void keep(struct aq_job_gptq_s *g, int i, const char *layer, aq_gptq_hinv *hv) {
    snprintf(g->slot[i].layer, sizeof g->slot[i].layer, "%s", layer);
    g->slot[i].hv = hv;
    g->slot[i].used = g->tick;
}

/* *hv = the factorization of Hessian layer `layer` with n columns: a kept one, or made in the
 * least recently used slot. */
static aq_status factorize(struct aq_job_gptq_s *g, aq_gptq_share *share, const char *layer,
                           int64_t n, const aq_gptq_hinv **hv, aq_err *err) {
    g->tick++;
    int i = kept(g, layer, n);
    if (i >= 0) {
        g->slot[i].used = g->tick;
        *hv = g->slot[i].hv;
        return AQ_OK;
    }
    i = free_slot(g, share);
    aq_status st = load_weights(g, err);
    if (st != AQ_OK) return st;
    float *H = malloc((size_t)n * (size_t)n * sizeof *H);
    if (!H)
        return aq_err_set(err, AQ_E_NOMEM, "GPTQ: out of memory for a %lld^2 Hessian",
                          (long long)n);
    aq_hessian_schedule e = {g->T, SCHEDULE_NAMES[g->schedule], TWEIGHT_NAMES[g->time_weight],
                             g->w};
    st = aq_hessian_read(g->path, layer, n, &e, H, err);
    char label[AQ_PATH_MAX + 300];
    aq_hessian_label(g->path, layer, label, sizeof label);
    aq_gptq_hinv *made = NULL;
    if (st == AQ_OK) st = aq_gptq_hinv_create(H, n, &g->o, label, &made, err);
    free(H);
    if (st != AQ_OK) return st;
    keep(g, i, layer, made);
    g->factorizations++;
    *hv = made;
    return AQ_OK;
}

/* *hv = the factorization block 0's owner made for shared item `item`: kept from an earlier
 * block, or received. */
static aq_status received(const aq_job *j, size_t item, const char *layer, int64_t n,
                          const aq_gptq_hinv **hv, aq_err *err) {
    struct aq_job_gptq_s *g = j->gptq;
    g->tick++;
    int i = kept(g, layer, n);
    if (i >= 0) {
        g->slot[i].used = g->tick;
        *hv = g->slot[i].hv;
        return AQ_OK;
    }
    /* it was sent once to this rank: an earlier block here already took it */
    const aq_plan_item *it = &j->plan->items[item];
    for (int b = 1; b < it->block; ++b)
        if (j->plan->items[item - (size_t)(it->block - b)].rank == j->rank)
            return aq_err_set(err, AQ_E_MPI,
                              "rank %d: the factorization of %s left its slot before block %d "
                              "(internal error: it is sent once per rank)",
                              j->rank, layer, it->block + 1);
    aq_gptq_hinv *got = NULL;
    aq_status st = aq_gptq_share_recv(j, item, n, &got, err);
    if (st != AQ_OK) return st;
    keep(g, free_slot(g, j->gptq_share), layer, got);
    *hv = got;
    return AQ_OK;
}

/* *hv = the factorization for tensor t (plan item `it`, NULL: whole), or NULL (no Hessian:
 * normal search); errors name the tensor.  Block 0 of a shared tensor also starts sending it
 * to the other blocks' owners; those receive it. */
static aq_status hinv_for(const aq_job *j, const aq_tensor *t, const aq_plan_item *it, int64_t cols,
                          const aq_gptq_hinv **hv, aq_err *err) {
    *hv = NULL;
    char layer[256];
    if (!j->gptq || !aq_job_gptq_layer(t->name, layer, sizeof layer)) return AQ_OK;
    if (strcmp(layer, HEAD) == 0) {
        int has = 0;
        aq_status hs = aq_hessian_file_has(j->gptq->path, layer, &has, err);
        if (hs != AQ_OK || !has) return hs; /* none: "(no Hessian: normal search)" */
    }
    const size_t item = it ? (size_t)(it - j->plan->items) : 0;
    const int pass = it && it->shared ? aq_job_item_pass(j, item) : 1;
    if (pass == 2 && aq_job_item_factor_rank(j, item) != j->rank)
        return received(j, item, layer, cols, hv, err);
    aq_status st = factorize(j->gptq, j->gptq_share, layer, cols, hv, err);
    if (st == AQ_OK && pass == 0) st = aq_gptq_share_send(j, item, *hv, err);
    return st;
}

static aq_status named(const aq_tensor *t, aq_err *err) {
    aq_err pre = *err;
    return aq_err_set(err, pre.code, "GPTQ of %s: %s", t->name, pre.msg);
}

aq_status aq_job_gptq_quantize(const aq_job *j, const aq_tensor *t, const aq_quant_params *p,
                               const float *h, const aq_plan_item *it, aq_qresult *r, int *done,
                               aq_err *err) {
    *done = 0;
    const aq_gptq_hinv *hv = NULL;
    const int64_t before = j->gptq ? j->gptq->factorizations : 0;
    aq_status st = hinv_for(j, t, it, r->hdr.cols, &hv, err);
    if (st == AQ_OK && hv && r->hdr.n_blocks > 1) /* a row block: arrays and row sums */
        st = aq_gptq_quantize_rows(hv, &j->gptq->o, p, j->kernels, t->dtype, t->data, r->hdr.rows,
                                   r->hdr.row0, r->hdr.row1, r->hdr.cols, h, t->name, r->arr,
                                   r->sums, err);
    else if (st == AQ_OK && hv)
        st = aq_gptq_quantize_tensor(hv, &j->gptq->o, p, j->kernels, t->dtype, t->data, r->hdr.rows,
                                     r->hdr.cols, h, t->name, r->arr, &r->hdr.metrics, err);
    if (st == AQ_E_INTERRUPTED) return st; /* "signal N on rank R", as everywhere */
    if (st != AQ_OK) return named(t, err);
    if (!hv) return AQ_OK;
    *done = 1;
    /* 2 stays 2 across a fallback's re-quantization of the same tensor */
    r->hdr.gptq = j->gptq->factorizations > before || r->hdr.gptq == 2 ? 2 : 1;
    return AQ_OK;
}
