/*
 * aq-mpi — fake quantization of linear-layer inputs with a result file's /act schedule.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "aq/model.h"

struct aq_actq {
    int t, l0, n_layers, T;
    size_t n;
    aq_h5in_act *a; /* [n], same indexing as the statistics: block-major, then head */
    int *present;   /* [n] */
};

static size_t slot(const aq_actq *q, int layer, aq_linear lin) {
    return lin == AQ_LIN_HEAD ? (size_t)q->n_layers * AQ_LIN_HEAD
                              : (size_t)(layer - q->l0) * AQ_LIN_HEAD + (size_t)lin;
}

static aq_status load_slots(aq_actq *q, const aq_h5in *h, int T, int has_head, aq_err *err) {
    for (size_t i = 0; i < q->n; i++) {
        int layer = q->l0 + (int)(i / AQ_LIN_HEAD);
        aq_linear lin =
            i < (size_t)q->n_layers * AQ_LIN_HEAD ? (aq_linear)(i % AQ_LIN_HEAD) : AQ_LIN_HEAD;
        char name[256];
        aq_llm_weight_name(layer, lin, name, sizeof name);
        if ((lin == AQ_LIN_HEAD && !has_head) || !aq_h5in_has_act(h, name)) continue;
        aq_status st = aq_h5in_read_act(h, name, &q->a[i], err);
        if (st != AQ_OK) return st;
        if (T <= 0) T = q->a[i].T; /* the file's own T */
        q->T = T;
        if (q->a[i].T != T)
            return aq_err_set(err, AQ_E_CONFIG,
                              "%s: /act/%s has T = %d time steps, the "
                              "evaluation uses %d (--timesteps)",
                              aq_h5in_path(h), name, q->a[i].T, T);
        if (q->a[i].act_bits < 1 || q->a[i].act_bits > 16)
            return aq_err_set(err, AQ_E_FORMAT, "%s: /act/%s: act_bits %d", aq_h5in_path(h), name,
                              q->a[i].act_bits);
        q->present[i] = 1;
    }
    return AQ_OK;
}

aq_status aq_actq_load(const aq_h5in *h, const aq_llm *m, int T, aq_actq **out, aq_err *err) {
    *out = NULL;
    if (!aq_h5in_any_act(h)) return AQ_OK;
    aq_actq *q = calloc(1, sizeof *q);
    if (!q) return aq_err_set(err, AQ_E_NOMEM, "out of memory");
    q->l0 = m->l0;
    q->n_layers = m->l1 - m->l0;
    q->n = (size_t)q->n_layers * AQ_LIN_HEAD + 1;
    q->a = calloc(q->n, sizeof *q->a);
    q->present = calloc(q->n, sizeof *q->present);
    aq_status st = q->a && q->present ? load_slots(q, h, T, m->lm_head != NULL, err)
                                      : aq_err_set(err, AQ_E_NOMEM, "out of memory");
    if (st != AQ_OK) {
        aq_actq_free(q);
        return st;
    }
    *out = q;
    return AQ_OK;
}

int aq_actq_timesteps(const aq_actq *q) {
    return q ? q->T : 0;
}

void aq_actq_set_step(aq_actq *q, int t) {
    if (q) q->t = t;
}

static void fake_quant(void *ctx, int layer, aq_linear lin, float *x, int64_t rows, int64_t cols) {
    aq_actq *q = ctx;
    size_t i = slot(q, layer, lin);
    if (i >= q->n || !q->present[i]) return;
    const aq_h5in_act *a = &q->a[i];
    float s = a->schedule_scale[q->t], z = a->schedule_zero[q->t];
    float qmax = (float)((1 << a->act_bits) - 1);
    if (!(s > 0)) return; /* a degenerate (constant) range: nothing to quantize */
    int64_t n = rows * cols;
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; k++) {
        float c = nearbyintf(x[k] / s + z);
        c = c < 0 ? 0 : (c > qmax ? qmax : c);
        x[k] = (c - z) * s;
    }
}

aq_llm_hook aq_actq_hook(aq_actq *q) {
    aq_llm_hook h = {q, q ? fake_quant : NULL};
    return h;
}

void aq_actq_free(aq_actq *q) {
    if (!q) return;
    for (size_t i = 0; q->a && i < q->n; i++)
        aq_h5in_act_free(&q->a[i]);
    free(q->a);
    free(q->present);
    free(q);
}
