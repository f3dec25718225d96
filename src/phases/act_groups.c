/*
 * aq-mpi — per-layer activation parameters of the time groups, their expected error and the
 * per-channel importance h_j (docs/DESIGN.md §3 and §4).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phases_internal.h"

aq_status aq_act_groups_init(const aq_layer_stats *s, const int *b, int K, int act_bits,
                             aq_act_groups *g, aq_err *err) {
    memset(g, 0, sizeof *g);
    g->K = K;
    g->act_bits = act_bits;
    size_t n = K > 0 ? (size_t)K : 1;
    g->lo = malloc(n * sizeof *g->lo);
    g->hi = malloc(n * sizeof *g->hi);
    g->scale = malloc(n * sizeof *g->scale);
    g->zero = malloc(n * sizeof *g->zero);
    if (!g->lo || !g->hi || !g->scale || !g->zero) {
        aq_act_groups_free(g);
        return aq_err_set(err, AQ_E_NOMEM, "layer %s: out of memory for %d time groups", s->name,
                          K);
    }
    for (int k = 0; k < K; ++k) {
        double lo = INFINITY, hi = -INFINITY;
        for (int t = b[k]; t < b[k + 1] && t < s->T; ++t) {
            lo = fmin(lo, s->min[t]);
            hi = fmax(hi, s->max[t]);
        }
        if (!isfinite(lo) || !isfinite(hi)) lo = hi = 0.0; /* empty group: never by contract */
        g->lo[k] = lo;
        g->hi[k] = hi;
    }
    aq_act_groups_derive(g);
    return AQ_OK;
}

/* A degenerate range is widened first (hi moves), so scale > 0 always. */
void aq_act_groups_derive(aq_act_groups *g) {
    int amax = aq_amax(g->act_bits);
    for (int k = 0; k < g->K; ++k) {
        aq_fix_range(&g->lo[k], &g->hi[k]);
        double s = (g->hi[k] - g->lo[k]) / amax;
        double z = rint(-g->lo[k] / s); /* round half to even (default rounding mode) */
        if (!(z > 0.0)) z = 0.0;
        if (z > amax) z = amax;
        g->scale[k] = s;
        g->zero[k] = (int32_t)z;
    }
}

void aq_act_groups_free(aq_act_groups *g) {
    if (!g) return;
    free(g->lo);
    free(g->hi);
    free(g->scale);
    free(g->zero);
    g->lo = g->hi = g->scale = NULL;
    g->zero = NULL;
}

double aq_expected_error(const aq_layer_stats *s, const double *w, const aq_act_groups *g,
                         const int *b, const float *sched_scale, const float *sched_zero) {
    int amax = aq_amax(g->act_bits);
    double e = 0.0;
    for (int t = 0; t < s->T; ++t) {
        double lo, hi;
        if (sched_scale) {
            double sc = sched_scale[t], z = sched_zero ? sched_zero[t] : 0.0;
            lo = -z * sc;
            hi = lo + amax * sc;
        } else {
            int k = aq_group_of(b, g->K, t);
            lo = g->lo[k];
            hi = g->hi[k];
        }
        aq_fix_range(&lo, &hi);
        e += w[t] * aq_step_err(s, t, lo, hi, amax, NULL, NULL);
    }
    return e;
}

/* Accumulated in double, steps in order, so h does not depend on the thread count. */
void aq_importance(const aq_layer_stats *s, const double *w, float *h) {
    for (int64_t j = 0; j < s->in; ++j) {
        double acc = 0.0;
        for (int t = 0; t < s->T; ++t)
            acc += w[t] * (double)s->sq_mean[(size_t)t * s->in + j];
        h[j] = (float)acc;
    }
}
