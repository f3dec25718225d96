/*
 * aq-mpi — activation statistics of linear-layer inputs, per time step (aq-calib).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"

typedef struct {
    char name[256];
    int64_t in;
    double *sum, *sq; /* [T * in] per (t, channel) */
    float *mn, *mx;   /* [T * in] */
    double *rows;     /* [T] tokens seen */
} entry;

struct aq_act_stats {
    int T, t;
    int l0, n_layers; /* blocks [l0, l0 + n_layers) */
    int has_head;
    size_t n;
    entry *e; /* (layer - l0) * AQ_LIN_HEAD + lin, then the head */
};

static int64_t lin_in(const aq_llm_config *c, aq_linear lin) {
    if (lin == AQ_LIN_O) return c->n_heads * c->head_dim;
    if (lin == AQ_LIN_DOWN) return c->ffn;
    return c->hidden;
}

static int entry_init(entry *e, const char *name, int64_t in, int T) {
    size_t n = (size_t)T * (size_t)in;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->in = in;
    e->sum = calloc(n, sizeof *e->sum);
    e->sq = calloc(n, sizeof *e->sq);
    e->mn = malloc(n * sizeof *e->mn);
    e->mx = malloc(n * sizeof *e->mx);
    e->rows = calloc((size_t)T, sizeof *e->rows);
    if (!e->sum || !e->sq || !e->mn || !e->mx || !e->rows) return 0;
    for (size_t i = 0; i < n; i++)
        e->mn[i] = INFINITY, e->mx[i] = -INFINITY;
    return 1;
}

aq_status aq_act_stats_create(const aq_llm *m, int T, aq_act_stats **out, aq_err *err) {
    aq_act_stats *s = calloc(1, sizeof *s);
    if (!s) return aq_err_set(err, AQ_E_NOMEM, "statistics: out of memory");
    s->T = T;
    s->l0 = m->l0;
    s->n_layers = m->l1 - m->l0;
    s->has_head = m->lm_head != NULL;
    s->n = (size_t)s->n_layers * AQ_LIN_HEAD + (size_t)s->has_head;
    s->e = calloc(s->n + 1, sizeof *s->e);
    int ok = s->e != NULL;
    for (size_t i = 0; ok && i < s->n; i++) {
        int layer = s->l0 + (int)(i / AQ_LIN_HEAD);
        aq_linear lin =
            i < (size_t)s->n_layers * AQ_LIN_HEAD ? (aq_linear)(i % AQ_LIN_HEAD) : AQ_LIN_HEAD;
        char name[256];
        aq_llm_weight_name(layer, lin, name, sizeof name);
        ok = entry_init(&s->e[i], name, lin_in(&m->cfg, lin), T);
    }
    if (!ok) {
        aq_act_stats_free(s);
        return aq_err_set(err, AQ_E_NOMEM, "statistics: out of memory");
    }
    *out = s;
    return AQ_OK;
}

void aq_act_stats_set_step(aq_act_stats *s, int t) {
    s->t = t;
}
size_t aq_act_stats_count(const aq_act_stats *s) {
    return s->n;
}

static void record(void *ctx, int layer, aq_linear lin, float *x, int64_t rows, int64_t cols) {
    aq_act_stats *s = ctx;
    size_t i = lin == AQ_LIN_HEAD ? (size_t)s->n_layers * AQ_LIN_HEAD
                                  : (size_t)(layer - s->l0) * AQ_LIN_HEAD + (size_t)lin;
    if (i >= s->n || s->e[i].in != cols) return;
    entry *e = &s->e[i];
    size_t off = (size_t)s->t * (size_t)cols;
    /* Channels are independent and each one runs its rows in order: thread-count invariant. */
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < cols; j++) {
        double sum = 0, sq = 0;
        float mn = e->mn[off + j], mx = e->mx[off + j];
        for (int64_t r = 0; r < rows; r++) {
            float v = x[r * cols + j];
            sum += v;
            sq += (double)v * v;
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        e->sum[off + j] += sum;
        e->sq[off + j] += sq;
        e->mn[off + j] = mn;
        e->mx[off + j] = mx;
    }
    e->rows[s->t] += (double)rows;
}

aq_llm_hook aq_act_stats_hook(aq_act_stats *s) {
    aq_llm_hook h = {s, record};
    return h;
}

static void export_step(const entry *e, int t, aq_layer_stats *o) {
    size_t off = (size_t)t * (size_t)e->in;
    double sum = 0, sq = 0, rows = e->rows[t];
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t j = 0; j < e->in; j++) {
        sum += e->sum[off + j];
        sq += e->sq[off + j];
        mn = e->mn[off + j] < mn ? e->mn[off + j] : mn;
        mx = e->mx[off + j] > mx ? e->mx[off + j] : mx;
        o->sq_mean[off + j] = rows > 0 ? (float)(e->sq[off + j] / rows) : 0.0f;
        o->absmax[off + j] = rows > 0 ? fmaxf(fabsf(e->mn[off + j]), fabsf(e->mx[off + j])) : 0.0f;
    }
    double count = rows * (double)e->in, mean = count > 0 ? sum / count : 0;
    double var = count > 0 ? sq / count - mean * mean : 0;
    o->count[t] = count;
    o->mean[t] = mean;
    o->std[t] = sqrt(var > 0 ? var : 0);
    o->min[t] = count > 0 ? mn : 0;
    o->max[t] = count > 0 ? mx : 0;
    /* the double mean of float values can fall a rounding step outside [min, max] */
    if (o->mean[t] < o->min[t]) o->mean[t] = o->min[t];
    if (o->mean[t] > o->max[t]) o->mean[t] = o->max[t];
}

aq_status aq_act_stats_export(const aq_act_stats *s, size_t i, aq_layer_stats *out, aq_err *err) {
    const entry *e = &s->e[i];
    aq_status st = aq_layer_stats_alloc(out, e->name, s->T, e->in, 0, err);
    if (st != AQ_OK) return st;
    for (int t = 0; t < s->T; t++)
        export_step(e, t, out);
    return AQ_OK;
}

void aq_act_stats_free(aq_act_stats *s) {
    if (!s) return;
    for (size_t i = 0; s->e && i < s->n; i++) {
        free(s->e[i].sum);
        free(s->e[i].sq);
        free(s->e[i].mn);
        free(s->e[i].mx);
        free(s->e[i].rows);
    }
    free(s->e);
    free(s);
}
