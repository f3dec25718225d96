/*
 * aq-mpi — aq_layer_stats: allocation and internal consistency checks.
 */
#include "calib_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

aq_status aq_layer_stats_alloc(aq_layer_stats *s, const char *name, int T, int64_t in, int B,
                               aq_err *err) {
    if (!s) return aq_err_set(err, AQ_E_VALUE, "aq_layer_stats_alloc: no struct");
    memset(s, 0, sizeof *s);
    const char *n = name ? name : "";
    if (strlen(n) >= sizeof s->name)
        return aq_err_set(err, AQ_E_VALUE, "layer %.64s...: name longer than %zu bytes", n,
                          sizeof s->name - 1);
    if (T < 1 || in < 1 || B < 0)
        return aq_err_set(err, AQ_E_VALUE, "layer %s: invalid sizes T=%d in=%lld B=%d", n, T,
                          (long long)in, B);
    strcpy(s->name, n);
    s->T = T;
    s->in = in;
    s->B = B;
    size_t t = (size_t)T;
    double **scalars[] = {&s->min, &s->max, &s->mean, &s->std, &s->count};
    int ok = (uint64_t)in <= SIZE_MAX / t / sizeof(float);
    for (size_t i = 0; ok && i < sizeof scalars / sizeof scalars[0]; ++i)
        ok = (*scalars[i] = calloc(t, sizeof(double))) != NULL;
    if (ok) ok = (s->sq_mean = calloc(t * (size_t)in, sizeof(float))) != NULL;
    if (ok) ok = (s->absmax = calloc(t * (size_t)in, sizeof(float))) != NULL;
    if (ok && B > 0) ok = (s->hist = calloc(t * (size_t)B, sizeof(double))) != NULL;
    if (!ok) {
        aq_layer_stats_free(s);
        return aq_err_set(err, AQ_E_NOMEM,
                          "layer %s: out of memory for statistics "
                          "(T=%d, %lld channels, %d bins)",
                          n, T, (long long)in, B);
    }
    return AQ_OK;
}

void aq_layer_stats_free(aq_layer_stats *s) {
    if (!s) return;
    free(s->min);
    free(s->max);
    free(s->mean);
    free(s->std);
    free(s->count);
    free(s->sq_mean);
    free(s->absmax);
    free(s->hist);
    s->min = s->max = s->mean = s->std = s->count = s->hist = NULL;
    s->sq_mean = s->absmax = NULL;
    free(s->mix_w);
    free(s->mix_mu);
    free(s->mix_sd);
    s->mix_w = s->mix_mu = s->mix_sd = NULL;
    s->M = 0;
}

/* Per-step scalars: the first violation, or NULL. */
static const char *check_step(const aq_layer_stats *s, int t) {
    double lo = s->min[t], hi = s->max[t], mu = s->mean[t];
    if (!isfinite(lo) || !isfinite(hi) || !isfinite(mu) || !isfinite(s->std[t]) ||
        !isfinite(s->count[t]))
        return "non-finite min/max/mean/std/count";
    if (lo > hi) return "min > max";
    if (mu < lo || mu > hi) return "mean outside [min, max]";
    if (s->std[t] < 0) return "negative std";
    if (s->count[t] < 0) return "negative count";
    return NULL;
}

/* Per-channel values of step t: the first violation and its channel in *j, or NULL. */
static const char *check_channels(const aq_layer_stats *s, int t, int64_t *j) {
    const float *sq = s->sq_mean + (size_t)t * (size_t)s->in;
    const float *am = s->absmax + (size_t)t * (size_t)s->in;
    for (*j = 0; *j < s->in; ++*j) {
        /* !(x >= 0) is also true for NaN. */
        if (!isfinite(sq[*j]) || !(sq[*j] >= 0)) return "sq_mean negative or not finite";
        if (!isfinite(am[*j]) || !(am[*j] >= 0)) return "absmax negative or not finite";
    }
    return NULL;
}

static const char *check_hist(const aq_layer_stats *s, int t, int64_t *j) {
    const double *h = s->hist + (size_t)t * (size_t)s->B;
    for (*j = 0; *j < s->B; ++*j)
        if (!isfinite(h[*j]) || !(h[*j] >= 0)) return "hist count negative or not finite";
    return NULL;
}

aq_status aq_layer_stats_check(const aq_layer_stats *s, const char *label, aq_err *err) {
    const char *lab = label ? label : "statistics";
    if (!s || s->T < 1 || s->in < 1 || s->B < 0 || !s->min || !s->max || !s->mean || !s->std ||
        !s->count || !s->sq_mean || !s->absmax || (s->B > 0 && !s->hist))
        return aq_err_set(err, AQ_E_FORMAT, "%s: layer %s: incomplete statistics", lab,
                          s ? s->name : "?");
    for (int t = 0; t < s->T; ++t) {
        int64_t j = 0;
        const char *what = check_step(s, t);
        if (what)
            return aq_err_set(err, AQ_E_FORMAT, "%s: layer %s: %s at t=%d", lab, s->name, what, t);
        if (!(what = check_channels(s, t, &j)) && s->B > 0) what = check_hist(s, t, &j);
        if (what)
            return aq_err_set(err, AQ_E_FORMAT, "%s: layer %s: %s at t=%d, %s %lld", lab, s->name,
                              what, t, strncmp(what, "hist", 4) ? "channel" : "bin", (long long)j);
    }
    return AQ_OK;
}
