/*
 * aq-mpi — importance-weighted MSE group parameters (DESIGN section 3, method "mse").
 *
 * Minimises E(s, m) = sum_j h_j (x_j - m - s l_j)^2 over the scale s, the offset m and the
 * codes l_j in [0, qmax].  For fixed codes E is quadratic in (s, m), so every candidate is
 *   1. a clipping range [lo, lo + qmax/inv] that fixes the codes (nearest, clamped), then
 *   2. the closed-form weighted least-squares (s, m) for those codes,
 * scored by E in closed form from the group's sums.  The best candidate is refined by a few
 * assign/refit (Lloyd) iterations, rounded to the storage precision, re-encoded with the
 * exact rule and compared, by the exact error of what is stored, with the rtn solution;
 * the better of the two is returned, so mse is never worse than rtn.
 *
 * Candidate grid (65 ranges; rmax = max x, rmin = min x, mu = h-weighted mean):
 *   - the full range [rmin, rmax];
 *   - for f in 0.95, 0.90, ..., 0.20: both ends pulled towards mu by f, only the low end,
 *     only the high end (outliers sit at one end of a group as often as at both);
 *   - ggml make_qkx2_quants-style inverse scales inv = (qmax - 0.5 + 0.1 i) / (rmax - rmin),
 *     i = 0..15, from rmin (slightly wider and narrower steps than the full range).
 */
#include <math.h>

#include "quant_impl.h"

#define AQ_MSE_REFINE_ITERS 3

/* Sums over the group that do not depend on the codes. */
typedef struct {
    double sh, shx, shxx;
} wconst;

/* A (scale, min) pair and its weighted squared error. */
typedef struct {
    double s, m, err;
} fit;

static const float clip_factors[] = {0.95f, 0.90f, 0.85f, 0.80f, 0.75f, 0.70f, 0.65f, 0.60f,
                                     0.55f, 0.50f, 0.45f, 0.40f, 0.35f, 0.30f, 0.25f, 0.20f};
#define N_CLIP ((int)(sizeof clip_factors / sizeof clip_factors[0]))
#define N_GGML 16

static wconst wconst_of(const float *x, const float *h, int n) {
    wconst c = {0.0, 0.0, 0.0};
    for (int j = 0; j < n; ++j) {
        double hj = h[j], xj = x[j];
        c.sh += hj;
        c.shx += hj * xj;
        c.shxx += hj * xj * xj;
    }
    return c;
}

/* E(s, m) from the sums; clamped at 0 against cancellation. */
static double closed_err(const wconst *c, double shl, double shll, double shxl, double s,
                         double m) {
    double e = c->shxx - 2.0 * m * c->shx - 2.0 * s * shxl + m * m * c->sh +
               2.0 * m * s * shl + s * s * shll;
    return e > 0.0 ? e : 0.0;
}

/* Codes for offset `lo` and inverse step `inv`, then the least-squares (s, m) for them.
 * The 2x2 normal equations are  [sh shl; shl shll] (m, s) = (shx, shxl).  When the codes
 * are (nearly) all equal or the fit is not a positive scale, the candidate itself is
 * kept: it is still a valid point of the search. */
static fit assign_refit(const float *x, const float *h, int n, float qmaxf, float lo, float inv,
                        const wconst *c) {
    double shl = 0.0, shll = 0.0, shxl = 0.0;
    for (int j = 0; j < n; ++j) {
        double l = aq_code_of((x[j] - lo) * inv, qmaxf), hl = (double)h[j] * l;
        shl += hl;
        shll += hl * l;
        shxl += hl * x[j];
    }
    fit f = {1.0 / inv, lo, 0.0};
    double det = c->sh * shll - shl * shl;
    if (det > 1e-9 * c->sh * shll) {
        double s = (c->sh * shxl - shl * c->shx) / det;
        if (s > 0.0 && isfinite(s)) {
            f.s = s;
            f.m = (shll * c->shx - shl * shxl) / det;
        }
    }
    f.err = closed_err(c, shl, shll, shxl, f.s, f.m);
    return f;
}

static void keep_better(fit *best, fit cand) {
    if (cand.err < best->err) *best = cand;
}

static void try_range(const float *x, const float *h, int n, float qmaxf, float lo, float hi,
                      const wconst *c, fit *best) {
    if (hi > lo) keep_better(best, assign_refit(x, h, n, qmaxf, lo, qmaxf / (hi - lo), c));
}

/* The candidate grid of the file comment. */
static fit search(const float *x, const float *h, int n, float qmaxf, float rmin, float rmax,
                  const wconst *c) {
    fit best = {0.0, 0.0, INFINITY};
    float mu = (float)(c->shx / c->sh);
    mu = mu < rmin ? rmin : (mu > rmax ? rmax : mu);
    try_range(x, h, n, qmaxf, rmin, rmax, c, &best);
    for (int k = 0; k < N_CLIP; ++k) {
        float f = clip_factors[k];
        float lo = mu + f * (rmin - mu), hi = mu + f * (rmax - mu);
        try_range(x, h, n, qmaxf, lo, hi, c, &best);
        try_range(x, h, n, qmaxf, lo, rmax, c, &best);
        try_range(x, h, n, qmaxf, rmin, hi, c, &best);
    }
    for (int i = 0; i < N_GGML; ++i) {
        float inv = (qmaxf - 0.5f + 0.1f * (float)i) / (rmax - rmin);
        keep_better(&best, assign_refit(x, h, n, qmaxf, rmin, inv, c));
    }
    return best;
}

/* Lloyd iterations: re-assign the codes to the fitted grid, refit, stop when no gain. */
static fit refine(const float *x, const float *h, int n, float qmaxf, fit best,
                  const wconst *c) {
    for (int it = 0; it < AQ_MSE_REFINE_ITERS; ++it) {
        fit f = assign_refit(x, h, n, qmaxf, (float)best.m, (float)(1.0 / best.s), c);
        if (!(f.err < best.err)) break;
        best = f;
    }
    return best;
}

void aq_group_params_mse(const float *x, const float *h, int n, int bits, aq_scale_dtype d,
                         float *scale, float *min) {
    float rs, rm, rmin, rmax;
    aq_group_params_rtn(x, n, bits, d, &rs, &rm);
    aq_minmax_f32(x, n, &rmin, &rmax);
    *scale = rs;
    *min = rm;
    /* A constant group is exact with rtn.  n > AQ_MAX_GROUP cannot come from a checked
     * aq_quant_params (group_size <= 256); such direct calls get the rtn answer. */
    if (!(rmax > rmin) || n > AQ_MAX_GROUP) return;

    float ones[AQ_MAX_GROUP];
    if (!h) {
        for (int j = 0; j < n; ++j) ones[j] = 1.0f;
        h = ones;
    }
    wconst c = wconst_of(x, h, n);
    if (!(c.sh > 0.0)) return; /* all weights 0: every answer is exact */

    const float qmaxf = (float)aq_qmax(bits);
    fit best = refine(x, h, n, qmaxf, search(x, h, n, qmaxf, rmin, rmax, &c), &c);
    float s = aq_round_param((float)best.s, d), m = aq_round_param((float)best.m, d);
    if (!(s > 0.0f) || !isfinite(s) || !isfinite(m)) return; /* rtn reports overflow */

    if (aq_group_wsse(x, h, n, bits, s, m) < aq_group_wsse(x, h, n, bits, rs, rm)) {
        *scale = s;
        *min = m;
    }
}
