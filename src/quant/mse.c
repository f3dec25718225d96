/*
 * aq-mpi — importance-weighted MSE group parameters (docs/DESIGN.md §3, method "mse").
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
 * lo = mu + a (rmin - mu), hi = mu + b (rmax - mu), with a grid step st = 0.18 (2 bits),
 * 0.08 (4 bits), 0.015 (8 bits):
 *   batch 1 (coarse): a, b in {1, 1 - st, 1 - 2 st, 1 - 3 st} (16 candidates, one AVX-512
 *                     vector);
 *   batch 2 (local):  a* + st {-0.75, -0.25, 0.25, 0.75} x the same for b* around the
 *                     best of batch 1, the last (+0.75, +0.75) corner replaced by the
 *                     assign/refit (Lloyd) step of the batch-1 best: its fitted grid
 *                     (lo = m, inv = 1/s) as a candidate (16 candidates).
 * This replaced a 65-candidate 1-D grid (clip factors 0.95..0.20 of both/low/high end plus
 * ggml make_qkx2_quants-style steps) followed by 3 Lloyd steps: 2 vector passes instead of
 * 8 for about the same pooled SQNR on the docs/DESIGN.md §7 tensors (bench/results).
 */
#include <math.h>

#include "quant_impl.h"

#define AQ_MSE_BATCH 16

/* Grid step of the pull factors per bit width (index 0: 2 bits, 1: 4, 2: 8): the finer the
 * codes, the closer to the full range the optimum clipping lies. */
static const float grid_step[3] = {0.18f, 0.08f, 0.015f}; /* tuned on the section 7 tensors */
/* Batch 1: a = 1 - step * grid_i[c], b = 1 - step * grid_j[c] (4 x 4, row-major). */
static const float grid_i[AQ_MSE_BATCH] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
static const float grid_j[AQ_MSE_BATCH] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
/* Batch 2: a* + step * local_i[c], b* + step * local_j[c] (4 x 4 at half the step). */
static const float local_i[AQ_MSE_BATCH] = {-0.75f, -0.75f, -0.75f, -0.75f, -0.25f, -0.25f,
                                            -0.25f, -0.25f, 0.25f,  0.25f,  0.25f,  0.25f,
                                            0.75f,  0.75f,  0.75f,  0.75f};
static const float local_j[AQ_MSE_BATCH] = {-0.75f, -0.25f, 0.25f,  0.75f,  -0.75f, -0.25f,
                                            0.25f,  0.75f,  -0.75f, -0.25f, 0.25f,  0.75f,
                                            -0.75f, -0.25f, 0.25f,  0.75f};

/* Candidates lo = mu + a (rmin - mu), hi = mu + b (rmax - mu), inv = qmax / (hi - lo), for
 * a = a0 + step * da[i], b = b0 + step * db[i].  No candidate is skipped: one with hi <= lo
 * (possible only when the range is a few ulps) is still a well-defined point of the search. */
static void make_batch(float *lo, float *inv, float qmaxf, float rmin, float rmax, float mu,
                       float step, float a0, const float *da, float b0, const float *db) {
    for (int i = 0; i < AQ_MSE_BATCH; ++i) {
        const float l = mu + (a0 + step * da[i]) * (rmin - mu);
        const float h = mu + (b0 + step * db[i]) * (rmax - mu);
        lo[i] = l;
        inv[i] = qmaxf / (h - l);
    }
}

/* Index of the first candidate with the smallest error (-1: none below best_err). */
static int best_index(const aq_fit *f, int k, double best_err) {
    int bi = -1;
    for (int i = 0; i < k; ++i) { /* branch-free: the winner is data, not a branch pattern */
        const int lt = f[i].err < best_err;
        best_err = lt ? f[i].err : best_err;
        bi = lt ? i : bi;
    }
    return bi;
}

void aq_group_params_mse_k(const aq_kernels_t *kt, const float *x, const float *h, int n, int bits,
                           aq_scale_dtype d, float *scale, float *min) {
    float lo, hi;
    kt->minmax(x, n, &lo, &hi);
    aq_params_from_range(lo, hi, bits, d, scale, min);
    aq_group_params_mse_from_rtn(kt, x, h, n, bits, d, scale, min);
}

void aq_group_params_mse_from_rtn(const aq_kernels_t *kt, const float *x, const float *h, int n,
                                  int bits, aq_scale_dtype d, float *scale, float *min) {
    const float rs = *scale, rm = *min;
    float rmin, rmax;
    kt->minmax(x, n, &rmin, &rmax);
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

    const float step = grid_step[bits == 2 ? 0 : bits == 4 ? 1 : 2];
    make_batch(lo, inv, qmaxf, rmin, rmax, mu, -step, 1.0f, grid_i, 1.0f, grid_j);
    kt->mse_eval(x, h, n, qmaxf, &c, lo, inv, AQ_MSE_BATCH, fits);
    int bi = best_index(fits, AQ_MSE_BATCH, INFINITY);
    if (bi < 0) return; /* no finite candidate error: keep rtn */
    aq_fit best = fits[bi];

    make_batch(lo, inv, qmaxf, rmin, rmax, mu, step, 1.0f - step * grid_i[bi], local_i,
               1.0f - step * grid_j[bi], local_j);
    lo[AQ_MSE_BATCH - 1] = (float)best.m; /* the Lloyd step of the batch-1 best */
    inv[AQ_MSE_BATCH - 1] = (float)(1.0 / best.s);
    kt->mse_eval(x, h, n, qmaxf, &c, lo, inv, AQ_MSE_BATCH, fits);
    bi = best_index(fits, AQ_MSE_BATCH, best.err);
    if (bi >= 0) best = fits[bi];

    float s = (float)best.s, m = (float)best.m;
    kt->round2(&s, &m, d);
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

void aq_group_params_mse_ex(const aq_kernels *k, const float *x, const float *h, int n, int bits,
                            aq_scale_dtype d, float *scale, float *min) {
    aq_group_params_mse_k(k ? k : aq_kernels_select(0), x, h, n, bits, d, scale, min);
}
