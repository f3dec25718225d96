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
 * Search (rmax = max x, rmin = min x, mu = h-weighted mean, clamped into [rmin, rmax]):
 *   batch 1 (coarse grid): the full range [rmin, rmax]; for f in 0.95, 0.90, ..., 0.20 both
 *     ends pulled towards mu by f, only the low end, only the high end; ggml
 *     make_qkx2_quants-style inverse steps inv = (qmax - 0.5 + 0.1 i) / (rmax - rmin),
 *     i = 0..15, from rmin;
 *   then AQ_MSE_REFINE_ITERS assign/refit (Lloyd) steps from the best fit, each kept only
 *   while it lowers E.
 */
#include <math.h>

#include "quant_impl.h"

#define AQ_MSE_REFINE_ITERS 3
#define AQ_MSE_MAX_CAND 80

static const float clip_factors[] = {0.95f, 0.90f, 0.85f, 0.80f, 0.75f, 0.70f, 0.65f, 0.60f,
                                     0.55f, 0.50f, 0.45f, 0.40f, 0.35f, 0.30f, 0.25f, 0.20f};
#define N_CLIP ((int)(sizeof clip_factors / sizeof clip_factors[0]))
#define N_GGML 16

static aq_wconst wconst_of(const float *x, const float *h, int n) {
    aq_wconst c = {0.0, 0.0, 0.0};
    for (int j = 0; j < n; ++j) {
        double hj = h[j], xj = x[j];
        c.sh += hj;
        c.shx += hj * xj;
        c.shxx += hj * xj * xj;
    }
    return c;
}

void aq_mse_eval_ref(const float *x, const float *h, int n, float qmaxf, const aq_wconst *c,
                     const float *lo, const float *inv, int k, aq_fit *fit) {
    for (int i = 0; i < k; ++i) {
        float shl = 0.0f, shll = 0.0f, shxl = 0.0f;
        for (int j = 0; j < n; ++j) {
            const float l = (float)aq_code_of((x[j] - lo[i]) * inv[i], qmaxf);
            const float hl = h[j] * l;
            shl += hl;
            shll += hl * l;
            shxl += hl * x[j];
        }
        fit[i] = aq_mse_fit(c, lo[i], inv[i], shl, shll, shxl);
    }
}

typedef struct {
    float lo[AQ_MSE_MAX_CAND], inv[AQ_MSE_MAX_CAND];
    int k;
} cand_list;

static void add_range(cand_list *cl, float qmaxf, float lo, float hi) {
    if (hi > lo) {
        cl->lo[cl->k] = lo;
        cl->inv[cl->k] = qmaxf / (hi - lo);
        ++cl->k;
    }
}

/* Batch 1 of the file comment. */
static void coarse_grid(cand_list *cl, float qmaxf, float rmin, float rmax, float mu) {
    cl->k = 0;
    add_range(cl, qmaxf, rmin, rmax);
    for (int k = 0; k < N_CLIP; ++k) {
        float f = clip_factors[k];
        float lo = mu + f * (rmin - mu), hi = mu + f * (rmax - mu);
        add_range(cl, qmaxf, lo, hi);
        add_range(cl, qmaxf, lo, rmax);
        add_range(cl, qmaxf, rmin, hi);
    }
    for (int i = 0; i < N_GGML; ++i) {
        cl->lo[cl->k] = rmin;
        cl->inv[cl->k] = (qmaxf - 0.5f + 0.1f * (float)i) / (rmax - rmin);
        ++cl->k;
    }
}

/* The first candidate with the smallest error. */
static aq_fit best_of(const aq_fit *f, int k, aq_fit best) {
    for (int i = 0; i < k; ++i)
        if (f[i].err < best.err) best = f[i];
    return best;
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

    float ones[AQ_MAX_GROUP];
    if (!h) {
        for (int j = 0; j < n; ++j) ones[j] = 1.0f;
        h = ones;
    }
    const aq_wconst c = wconst_of(x, h, n);
    if (!(c.sh > 0.0)) return; /* all weights 0: every answer is exact */

    const float qmaxf = (float)aq_qmax(bits);
    float mu = (float)(c.shx / c.sh);
    mu = mu < rmin ? rmin : (mu > rmax ? rmax : mu);
    cand_list cl;
    aq_fit fits[AQ_MSE_MAX_CAND];
    coarse_grid(&cl, qmaxf, rmin, rmax, mu);
    kt->mse_eval(x, h, n, qmaxf, &c, cl.lo, cl.inv, cl.k, fits);
    aq_fit best = best_of(fits, cl.k, (aq_fit){0.0, 0.0, INFINITY});
    for (int it = 0; it < AQ_MSE_REFINE_ITERS; ++it) {
        const float lo = (float)best.m, inv = (float)(1.0 / best.s);
        aq_fit f;
        kt->mse_eval(x, h, n, qmaxf, &c, &lo, &inv, 1, &f);
        if (!(f.err < best.err)) break;
        best = f;
    }

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
