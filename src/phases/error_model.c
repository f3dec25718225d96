/*
 * aq-mpi — the per-step channel mixture error model and c(t; lo, hi) (docs/PHASES.md,
 * "Expected error").
 *
 * Why: one N(mean_t, std_t^2) per step hides that a few input channels carry massive,
 * spiky activations (the real model's down_proj input: min -44 with std 1).  Its tails are
 * thin, so the Gaussian prices clipping them at almost nothing.  The mixture keeps one
 * Gaussian per group of channels of similar energy and, per channel, a point mass at its
 * observed absmax, so that clipping an observed outlier is charged (x - hi)^2 on its share.
 * The clipping/rounding error of each component is the closed form of gauss_err.c, so
 * c_mix = sum_m pi_m c_gauss(mu_m, sd_m; lo, hi) keeps an exact gradient.
 * Extreme-value threshold: the maximum of N standard normals is close to sqrt(2 ln N)
 * (Gumbel limit; e.g. David & Nagaraja, "Order Statistics", 3rd ed., sec. 10.5).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phases_internal.h"

typedef struct {
    double bw[AQ_MIX_GAUSS], be[AQ_MIX_GAUSS];       /* body weight, sum weight * energy */
    double sw[2][AQ_MIX_SPIKE], sa[2][AQ_MIX_SPIKE]; /* spike weight, sum weight * |x|^2 */
    double elo, ehi, alo[2], ahi[2];                 /* log ranges of the bins */
} mix_acc;

/* One channel: spike probability p, body energy e, share of the spike on the negative side
 * fn and the spike magnitudes on each side. */
typedef struct {
    double p, e, fn, mag[2];
} chan_split;

static void split_channel(double m2, double A, double N, double med, double mn, double mx,
                          chan_split *c) {
    c->p = A > 0.0 ? 1.0 / N : 0.0;
    if (A > 0.0 && A * A > 2.0 * log(N) * m2) {
        double b = fmin(m2, med);
        if (A * A > b) c->p = fmax(c->p, (m2 - b) / (A * A - b));
    }
    c->p = fmin(fmax(c->p, 0.0), 1.0);
    c->e = c->p < 1.0 ? fmax((m2 - c->p * A * A) / (1.0 - c->p), 0.0) : 0.0;
    int over_pos = A > mx, over_neg = A > -mn;
    c->fn = (over_pos && !over_neg) ? 1.0 : (over_neg && !over_pos) ? 0.0 : 0.5;
    c->mag[0] = fmin(A, fmax(-mn, 0.0));
    c->mag[1] = fmin(A, fmax(mx, 0.0));
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Lower median of n floats (a value of the row, so no rounding). */
static double median(const float *row, int64_t n, float *scratch) {
    memcpy(scratch, row, (size_t)n * sizeof *scratch);
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_float);
    return scratch[(n - 1) / 2];
}

static void widen(double *lo, double *hi, double x) {
    if (!(x > 0.0)) return;
    double l = log(x);
    *lo = fmin(*lo, l);
    *hi = fmax(*hi, l);
}

static int bin_of(double x, double lo, double hi, int n) {
    if (!(x > 0.0) || !(hi > lo)) return 0;
    int i = (int)((log(x) - lo) / (hi - lo) * n);
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

typedef struct {
    const float *sq, *am;
    int64_t in;
    double N, med, mn, mx;
} step_in;

/* Pass 1 (log ranges) when fill == 0, pass 2 (accumulate into the bins) when fill == 1;
 * channels in index order in both passes. */
static void scan(const step_in *x, mix_acc *a, int fill) {
    double inv = 1.0 / (double)x->in;
    for (int64_t j = 0; j < x->in; ++j) {
        chan_split c;
        split_channel(x->sq[j], x->am[j], x->N, x->med, x->mn, x->mx, &c);
        double side[2] = {c.p * c.fn, c.p * (1.0 - c.fn)};
        if (!fill) {
            widen(&a->elo, &a->ehi, c.e);
            for (int sd = 0; sd < 2; ++sd)
                if (side[sd] > 0.0) widen(&a->alo[sd], &a->ahi[sd], c.mag[sd]);
            continue;
        }
        int i = bin_of(c.e, a->elo, a->ehi, AQ_MIX_GAUSS);
        a->bw[i] += (1.0 - c.p) * inv;
        a->be[i] += (1.0 - c.p) * inv * c.e;
        for (int sd = 0; sd < 2; ++sd) {
            if (!(side[sd] > 0.0)) continue;
            int k = bin_of(c.mag[sd], a->alo[sd], a->ahi[sd], AQ_MIX_SPIKE);
            a->sw[sd][k] += side[sd] * inv;
            a->sa[sd][k] += side[sd] * inv * c.mag[sd] * c.mag[sd];
        }
    }
}

static void emit(const mix_acc *a, double mean, double *w, double *mu, double *sd) {
    for (int m = 0; m < AQ_MIX_GAUSS; ++m) {
        w[m] = a->bw[m];
        mu[m] = mean;
        sd[m] = a->bw[m] > 0.0 ? sqrt(fmax(a->be[m] / a->bw[m] - mean * mean, 0.0)) : 0.0;
    }
    for (int side = 0; side < 2; ++side)
        for (int k = 0; k < AQ_MIX_SPIKE; ++k) {
            int m = AQ_MIX_GAUSS + side * AQ_MIX_SPIKE + k;
            double W = a->sw[side][k];
            double mag = W > 0.0 ? sqrt(a->sa[side][k] / W) : 0.0;
            w[m] = W;
            mu[m] = side == 0 ? -mag : mag;
            sd[m] = 0.0;
        }
}

static void build_step(const aq_layer_stats *s, int t, float *scratch, double *w, double *mu,
                       double *sd) {
    size_t off = (size_t)t * (size_t)s->in;
    step_in x = {s->sq_mean + off, s->absmax + off, s->in, 1.0, 0.0, s->min[t], s->max[t]};
    x.N = fmax(s->count[t] / (double)s->in, 1.0);
    x.med = median(x.sq, s->in, scratch);
    mix_acc a;
    memset(&a, 0, sizeof a);
    a.elo = a.alo[0] = a.alo[1] = INFINITY;
    a.ehi = a.ahi[0] = a.ahi[1] = -INFINITY;
    scan(&x, &a, 0);
    scan(&x, &a, 1);
    emit(&a, s->mean[t], w, mu, sd);
}

static void drop_mixture(aq_layer_stats *s) {
    free(s->mix_w);
    free(s->mix_mu);
    free(s->mix_sd);
    s->mix_w = s->mix_mu = s->mix_sd = NULL;
    s->M = 0;
}

aq_status aq_error_model_build(aq_layer_stats *s, aq_error_model model, aq_err *err) {
    drop_mixture(s);
    if (model == AQ_ERRMODEL_GAUSSIAN) return AQ_OK;
    if (!s->sq_mean || !s->absmax || !s->count || s->in < 1 || s->T < 1)
        return aq_err_set(err, AQ_E_VALUE,
                          "layer %s: the mixture error model needs the per-channel statistics",
                          s->name);
    size_t n = (size_t)s->T * AQ_MIX_M;
    s->mix_w = malloc(n * sizeof(double));
    s->mix_mu = malloc(n * sizeof(double));
    s->mix_sd = malloc(n * sizeof(double));
    float *scratch = malloc((size_t)s->in * sizeof *scratch);
    if (!s->mix_w || !s->mix_mu || !s->mix_sd || !scratch) {
        free(scratch);
        drop_mixture(s);
        return aq_err_set(err, AQ_E_NOMEM, "layer %s: out of memory for the error model", s->name);
    }
    s->M = AQ_MIX_M;
    for (int t = 0; t < s->T; ++t) {
        size_t o = (size_t)t * AQ_MIX_M;
        build_step(s, t, scratch, s->mix_w + o, s->mix_mu + o, s->mix_sd + o);
    }
    free(scratch);
    return AQ_OK;
}

double aq_step_err(const aq_layer_stats *s, int t, double lo, double hi, int amax, double *dlo,
                   double *dhi) {
    if (s->M < 1 || !s->mix_w) return aq_gauss_err(s->mean[t], s->std[t], lo, hi, amax, dlo, dhi);
    const double *w = s->mix_w + (size_t)t * (size_t)s->M;
    const double *mu = s->mix_mu + (size_t)t * (size_t)s->M;
    const double *sd = s->mix_sd + (size_t)t * (size_t)s->M;
    double c = 0.0, gl = 0.0, gh = 0.0;
    for (int m = 0; m < s->M; ++m) {
        if (!(w[m] > 0.0)) continue;
        double cl = 0.0, ch = 0.0;
        c += w[m] * aq_gauss_err(mu[m], sd[m], lo, hi, amax, dlo ? &cl : NULL, dhi ? &ch : NULL);
        gl += w[m] * cl;
        gh += w[m] * ch;
    }
    if (dlo) *dlo = gl;
    if (dhi) *dhi = gh;
    return c;
}
