/*
 * aq-mpi — importance-weighted MSE group parameters (DESIGN section 3, method "mse").
 *
 * Minimises E(s, m) = sum_j h_j (x_j - m - s l_j)^2 over the scale s, the offset m and the
 * codes l_j in [0, qmax].  For fixed codes E is quadratic in (s, m), so every candidate is
 *   1. a clipping range (offset lo, inverse step inv) that fixes the codes (nearest,
 *      clamped), then
 *   2. the closed-form weighted least-squares (s, m) for those codes (aq_mse_fit()),
 * scored by E in closed form from the group's sums.  The code sums of a candidate are
 * float accumulations (kernel mse_eval, vectorised across candidates by the SIMD twins);
 * the choice is then checked exactly: the best candidate is rounded to the storage
 * precision, re-encoded with the exact rule and compared, by the exact error of what is
 * stored, with the rtn solution; the better of the two is returned, so mse is never worse
 * than rtn.
 *
 * Search (rmax = max x, rmin = min x, mu = h-weighted mean, clamped into [rmin, rmax]);
 * a candidate pulls the two ends towards mu by factors a (low end) and b (high end):
 * lo = mu + a (rmin - mu), hi = mu + b (rmax - mu):
 *   batch 1 (coarse): a, b in {1, 0.85, 0.70, 0.55} (16 candidates, one AVX-512 vector);
 *   batch 2 (local):  a* + {-0.1125, -0.0375, 0.0375, 0.1125} x the same for b* around the
 *                     best of batch 1, the last (+0.1125, +0.1125) corner replaced by the
 *                     assign/refit (Lloyd) step of the batch-1 best: its fitted grid
 *                     (lo = m, inv = 1/s) as a candidate (16 candidates).
 * This replaced a 65-candidate 1-D grid (clip factors 0.95..0.20 of both/low/high end plus
 * ggml make_qkx2_quants-style steps) followed by 3 Lloyd steps: 2 vector passes instead of
 * 8 for about the same pooled SQNR on the DESIGN section 7 tensors (bench/results).
 */
#include <math.h>

#include "quant_impl.h"

#define AQ_MSE_BATCH 16

/* Batch 1: pull factors of the two ends, a x b over {1, 0.85, 0.70, 0.55}^2 (row-major). */
static const float grid_a[AQ_MSE_BATCH] = {1.00f, 1.00f, 1.00f, 1.00f, 0.85f, 0.85f, 0.85f, 0.85f,
                                           0.70f, 0.70f, 0.70f, 0.70f, 0.55f, 0.55f, 0.55f, 0.55f};
static const float grid_b[AQ_MSE_BATCH] = {1.00f, 0.85f, 0.70f, 0.55f, 1.00f, 0.85f, 0.70f, 0.55f,
                                           1.00f, 0.85f, 0.70f, 0.55f, 1.00f, 0.85f, 0.70f, 0.55f};
/* Batch 2: offsets around the best (a, b), a 4 x 4 grid at half the batch-1 step. */
static const float local_a[AQ_MSE_BATCH] = {
    -0.1125f, -0.1125f, -0.1125f, -0.1125f, -0.0375f, -0.0375f, -0.0375f, -0.0375f,
    0.0375f,  0.0375f,  0.0375f,  0.0375f,  0.1125f,  0.1125f,  0.1125f,  0.1125f};
static const float local_b[AQ_MSE_BATCH] = {
    -0.1125f, -0.0375f, 0.0375f, 0.1125f, -0.1125f, -0.0375f, 0.0375f, 0.1125f,
    -0.1125f, -0.0375f, 0.0375f, 0.1125f, -0.1125f, -0.0375f, 0.0375f, 0.1125f};

void aq_wconst_ref(const float *x, const float *h, int n, aq_wconst *out) {
    double sh[AQ_LANES] = {0}, shx[AQ_LANES] = {0}, shxx[AQ_LANES] = {0};
    for (int j = 0; j < n; ++j) {
        const double hj = h ? h[j] : 1.0, xj = x[j];
        sh[j % AQ_LANES] += hj;
        shx[j % AQ_LANES] += hj * xj;
        shxx[j % AQ_LANES] += hj * xj * xj;
    }
    *out = (aq_wconst){aq_lanes_sum(sh), aq_lanes_sum(shx), aq_lanes_sum(shxx)};
}

void aq_mse_eval_ref(const float *x, const float *h, int n, float qmaxf, const aq_wconst *c,
                     const float *lo, const float *inv, int k, aq_fit *fit) {
    for (int i = 0; i < k; ++i) {
        float shl = 0.0f, shll = 0.0f, shxl = 0.0f;
        for (int j = 0; j < n; ++j) {
            const float l = (float)aq_code_of((x[j] - lo[i]) * inv[i], qmaxf);
            const float hl = h ? h[j] * l : l; /* 1 * l == l */
            shl += hl;
            shll += hl * l;
            shxl += hl * x[j];
        }
        fit[i] = aq_mse_fit(c, lo[i], inv[i], shl, shll, shxl);
    }
}

/* Candidates lo = mu + a (rmin - mu), hi = mu + b (rmax - mu), inv = qmax / (hi - lo), for
 * a = a0 + da[i], b = b0 + db[i].  No candidate is skipped: one with hi <= lo (possible
 * only when the range is a few ulps) is still a well-defined point of the search. */
static void make_batch(float *lo, float *inv, float qmaxf, float rmin, float rmax, float mu,
                       float a0, const float *da, float b0, const float *db) {
    for (int i = 0; i < AQ_MSE_BATCH; ++i) {
        const float l = mu + (a0 + da[i]) * (rmin - mu), h = mu + (b0 + db[i]) * (rmax - mu);
        lo[i] = l;
        inv[i] = qmaxf / (h - l);
    }
}

/* Index of the first candidate with the smallest error (-1: none below best_err). */
static int best_index(const aq_fit *f, int k, double best_err) {
    int bi = -1;
    for (int i = 0; i < k; ++i)
        if (f[i].err < best_err) {
            best_err = f[i].err;
            bi = i;
        }
    return bi;
}

void aq_group_params_mse_k(const aq_kernels_t *kt, const float *x, const float *h, int n,
                           int bits, aq_scale_dtype d, float *scale, float *min) {
    float rs, rm, rmin, rmax;
    kt->minmax(x, n, &rmin, &rmax);
    aq_params_from_range(rmin, rmax, bits, d, &rs, &rm);
    *scale = rs;
    *min = rm;
    /* A constant group is exact with rtn.  n > AQ_MAX_GROUP cannot come from a checked
     * aq_quant_params (group_size <= 256); such direct calls get the rtn answer. */
    if (!(rmax > rmin) || n > AQ_MAX_GROUP) return;

    aq_wconst c;
    kt->wconst(x, h, n, &c);
    if (!(c.sh > 0.0)) return; /* all weights 0: every answer is exact */

    const float qmaxf = (float)aq_qmax(bits);
    float mu = (float)(c.shx / c.sh);
    mu = mu < rmin ? rmin : (mu > rmax ? rmax : mu);
    float lo[AQ_MSE_BATCH], inv[AQ_MSE_BATCH];
    aq_fit fits[AQ_MSE_BATCH];

    make_batch(lo, inv, qmaxf, rmin, rmax, mu, 0.0f, grid_a, 0.0f, grid_b);
    kt->mse_eval(x, h, n, qmaxf, &c, lo, inv, AQ_MSE_BATCH, fits);
    int bi = best_index(fits, AQ_MSE_BATCH, INFINITY);
    if (bi < 0) return; /* no finite candidate error: keep rtn */
    aq_fit best = fits[bi];

    make_batch(lo, inv, qmaxf, rmin, rmax, mu, grid_a[bi], local_a, grid_b[bi], local_b);
    lo[AQ_MSE_BATCH - 1] = (float)best.m; /* the Lloyd step of the batch-1 best */
    inv[AQ_MSE_BATCH - 1] = (float)(1.0 / best.s);
    kt->mse_eval(x, h, n, qmaxf, &c, lo, inv, AQ_MSE_BATCH, fits);
    bi = best_index(fits, AQ_MSE_BATCH, best.err);
    if (bi >= 0) best = fits[bi];

    float s = aq_round_param((float)best.s, d), m = aq_round_param((float)best.m, d);
    if (!(s > 0.0f) || !isfinite(s) || !isfinite(m)) return; /* rtn reports overflow */

    if (kt->group_wsse(x, h, n, bits, s, m) < kt->group_wsse(x, h, n, bits, rs, rm)) {
        *scale = s;
        *min = m;
    }
}

void aq_group_params_mse(const float *x, const float *h, int n, int bits, aq_scale_dtype d,
                         float *scale, float *min) {
    aq_group_params_mse_k(&aq_kernels_scalar, x, h, n, bits, d, scale, min);
}
