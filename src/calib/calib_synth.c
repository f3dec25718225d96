/*
 * aq-mpi — deterministic synthetic calibration statistics (docs/CALIBRATION.md).
 *
 * Shaped after what was measured on the real model (docs/DESIGN.md §4): channel scales spread
 * log-normally, ~1 % of channels carry massive activations (heavy in down_proj inputs,
 * mild elsewhere), the typical spread grows with the mask ratio u_t while the extremes
 * shrink.  Everything is a pure function of (seed, name, in, T).
 */
#include "calib_internal.h"

#include <math.h>
#include <string.h>

#include "aq/synth.h"

#define SYN_LOG_SD 0.5        /* sd of log sigma_j */
#define SYN_LOG_CLAMP 3.0     /* sigma_j's normal deviate clamped to +-3 sd */
#define SYN_LAYER_LOG_SD 0.25 /* sd of log s0 across layers */
#define SYN_OUTLIER_FRAC 0.01 /* share of outlier channels (at least one) */
#define SYN_HEAVY_LO 20.0     /* down_proj outlier absmax, in units of s0 ... */
#define SYN_HEAVY_HI 40.0     /* ... uniform in [lo, hi], the largest exactly hi */
#define SYN_MILD_LO 6.0
#define SYN_MILD_HI 12.0
#define SYN_MIN_RATIO 0.97    /* |min_t| = 0.97 max_t (docs/DESIGN.md §4: min -44, max 45) */
#define SYN_ABSMAX_SIGMAS 4.0 /* normal channels: absmax = 4 sigma_j std_t */
#define SYN_MEAN 0.02         /* layer mean, in units of s0 */
#define SYN_COUNT 1e4

/* Spread grows with the mask ratio: std_t = s0 (1 + 0.5 u). */
static double std_drift(double u) {
    return 1.0 + 0.5 * u;
}

/* Extremes shrink: 40 d(u) runs through the measured 45 at u = 0.05 and 27 at u = 0.95. */
static double peak_drift(double u) {
    return (46.0 - 20.0 * u) / 40.0;
}

/* sigma_j log-normal around 1, rescaled so mean_j sigma_j^2 = 1: the channels' spreads
 * then average to the layer's std_t. */
static void draw_sigmas(aq_rng *r, float *sigma, int64_t in) {
    double sum_sq = 0.0;
    for (int64_t j = 0; j < in; ++j) {
        double z = aq_rng_normal(r);
        z = z > SYN_LOG_CLAMP ? SYN_LOG_CLAMP : z < -SYN_LOG_CLAMP ? -SYN_LOG_CLAMP : z;
        double s = exp(SYN_LOG_SD * z);
        sigma[j] = (float)s;
        sum_sq += s * s;
    }
    double norm = sqrt(sum_sq / (double)in);
    for (int64_t j = 0; j < in; ++j)
        sigma[j] = (float)(sigma[j] / norm);
}

/* Outlier ratios (0 for normal channels): one channel per stratum of in/n_out channels, at
 * a random place in it, so they are spread over the layer; the first gets the top ratio. */
static void draw_outliers(aq_rng *r, float *ratio, int64_t in, int heavy) {
    double lo = heavy ? SYN_HEAVY_LO : SYN_MILD_LO, hi = heavy ? SYN_HEAVY_HI : SYN_MILD_HI;
    int64_t n_out = (int64_t)floor(SYN_OUTLIER_FRAC * (double)in + 0.5);
    if (n_out < 1) n_out = 1;
    memset(ratio, 0, (size_t)in * sizeof *ratio);
    for (int64_t k = 0; k < n_out; ++k) {
        int64_t j = (int64_t)(((double)k + aq_rng_uniform(r)) * (double)in / (double)n_out);
        if (j >= in) j = in - 1;
        ratio[j] = (float)(k == 0 ? hi : lo + (hi - lo) * aq_rng_uniform(r));
    }
}

/* Fills step t from the per-channel sigma (absmax row used as scratch on entry) and ratio. */
static void fill_step(aq_layer_stats *s, int t, double s0, const float *sigma, const float *ratio,
                      double top) {
    double u = ((double)t + 0.5) / (double)s->T;
    double sd = s0 * std_drift(u), mean = SYN_MEAN * s0, peak = 0.0;
    float *sq = s->sq_mean + (size_t)t * (size_t)s->in;
    float *am = s->absmax + (size_t)t * (size_t)s->in;
    for (int64_t j = 0; j < s->in; ++j) {
        double cs = (double)sigma[j] * sd;
        sq[j] = (float)(cs * cs + mean * mean);
        double a = ratio[j] > 0 ? ratio[j] * s0 * peak_drift(u) : SYN_ABSMAX_SIGMAS * cs;
        am[j] = (float)a;
        if ((double)am[j] > peak) peak = am[j];
    }
    /* The largest outlier sets the extremes; a normal channel only if it is larger. */
    double mx = fmax(top * s0 * peak_drift(u), peak);
    s->max[t] = mx;
    s->min[t] = -SYN_MIN_RATIO * mx;
    s->mean[t] = mean;
    s->std[t] = sd;
    s->count[t] = SYN_COUNT;
}

aq_status aq_calib_synthetic(const char *name, int64_t in, int T, uint64_t seed,
                             aq_layer_stats *out, aq_err *err) {
    if (!out) return aq_err_set(err, AQ_E_VALUE, "aq_calib_synthetic: no output");
    aq_status st = aq_layer_stats_alloc(out, name, T, in, 0, err);
    if (st != AQ_OK) return st;
    int heavy = strstr(out->name, "down_proj") != NULL;
    aq_rng r;
    aq_rng_seed(&r, aq_synth_seed_for(seed, out->name));
    double s0 = exp(SYN_LAYER_LOG_SD * aq_rng_normal(&r));
    /* Row 0 of sq_mean / absmax serve as scratch for sigma and ratio: both are consumed
     * channel by channel before step 0 overwrites them, so no extra allocation. */
    float *sigma = out->sq_mean, *ratio = out->absmax;
    draw_sigmas(&r, sigma, in);
    draw_outliers(&r, ratio, in, heavy);
    for (int t = T - 1; t >= 0; --t)
        fill_step(out, t, s0, sigma, ratio, heavy ? SYN_HEAVY_HI : SYN_MILD_HI);
    out->synthetic = 1;
    return AQ_OK;
}
