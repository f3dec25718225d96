/*
 * aq-mpi — the scalar reference of every kernel (quant_impl.h) and the scalar kernel set.
 *
 * simd_avx2.c and simd_avx512.c hold the twins of these functions, bit-identical by
 * construction (test_quant_simd.c); the twins call the references for their tails.  Groups:
 * round-to-nearest group parameters and the encoding rule; the mse candidate sums; the
 * row-level kernels of the tensor driver; the dq search kernels (include/aq/dq.h).
 */
#include <math.h>
#include <string.h>

#include "quant_impl.h"

/*-*********************************************
 *  Round to nearest (min/max) and the encoding rule
 ***********************************************/

void aq_minmax_f32(const float *x, int n, float *lo, float *hi) {
    float a = n > 0 ? x[0] : 0.0f, b = a;
    for (int j = 1; j < n; ++j) {
        a = x[j] < a ? x[j] : a;
        b = x[j] > b ? x[j] : b;
    }
    /* + 0.0f turns -0 into +0, so the result does not depend on which zero came first
     * (the SIMD twins reduce in another order). */
    *lo = a + 0.0f;
    *hi = b + 0.0f;
}

void aq_params_from_range(float lo, float hi, int bits, aq_scale_dtype d, float *scale,
                          float *min) {
    /* In double so that hi - lo cannot overflow for finite float inputs; the quotient
     * always fits a float again since qmax >= 3. */
    float s = (float)(((double)hi - (double)lo) / aq_qmax(bits));
    s = aq_round_param(s, d);
    *min = aq_round_param(lo, d);
    *scale = (hi > lo && s > 0.0f) ? s : 0.0f;
}

void aq_group_params_rtn(const float *x, int n, int bits, aq_scale_dtype d, float *scale,
                         float *min) {
    float lo, hi;
    aq_minmax_f32(x, n, &lo, &hi);
    aq_params_from_range(lo, hi, bits, d, scale, min);
}

void aq_encode_group(const float *x, int n, int bits, float scale, float min, uint8_t *q) {
    if (scale == 0.0f) {
        memset(q, 0, (size_t)n);
        return;
    }
    const float qmaxf = (float)aq_qmax(bits);
    /* A true division, not a multiply by 1/scale: the rule is defined on the quotient. */
    for (int j = 0; j < n; ++j)
        q[j] = aq_code_of((x[j] - min) / scale, qmaxf);
}

void aq_encode_pack_ref(const float *x, int n, int bits, float scale, float min, uint8_t *packed) {
    uint8_t q[AQ_MAX_GROUP];
    aq_encode_group(x, n, bits, scale, min, q);
    aq_pack_codes(q, n, bits, packed);
}

void aq_dequant_ref(const uint8_t *packed, int n, int bits, float scale, float min, float *out) {
    uint8_t q[AQ_MAX_GROUP];
    aq_unpack_codes(packed, n, bits, q);
    for (int j = 0; j < n; ++j)
        out[j] = min + (float)q[j] * scale;
}

/* Lane order of quant_impl.h: element j adds to lane j % AQ_LANES. */
double aq_group_wsse(const float *x, const float *h, int n, int bits, float scale, float min) {
    uint8_t q[AQ_MAX_GROUP];
    double lanes[AQ_LANES] = {0};
    for (int j0 = 0; j0 < n; j0 += AQ_MAX_GROUP) {
        int m = n - j0 < AQ_MAX_GROUP ? n - j0 : AQ_MAX_GROUP;
        aq_encode_group(x + j0, m, bits, scale, min, q);
        for (int j = 0; j < m; ++j) {
            float xh = min + (float)q[j] * scale; /* exactly as decoded */
            double dlt = (double)x[j0 + j] - (double)xh;
            lanes[(j0 + j) % AQ_LANES] += (h ? (double)h[j0 + j] : 1.0) * dlt * dlt;
        }
    }
    return aq_lanes_sum(lanes);
}

void aq_round2_ref(float *s, float *m, aq_scale_dtype d) {
    *s = aq_round_param(*s, d);
    *m = aq_round_param(*m, d);
}

/*-*********************************************
 *  mse candidate sums (the search itself: mse.c)
 ***********************************************/

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

/*-*********************************************
 *  Row level (the tensor driver and the plain rows)
 ***********************************************/

void aq_err_sums_ref(const float *w, const float *wh, const float *h, int64_t n,
                     double lanes[AQ_ES_N][AQ_LANES]) {
    for (int64_t j = 0; j < n; ++j) {
        double a = w[j], b = wh[j], d = a - b, hj = h ? h[j] : 1.0;
        const int l = (int)(j % AQ_LANES);
        lanes[AQ_ES_E2][l] += d * d;
        lanes[AQ_ES_W2][l] += a * a;
        lanes[AQ_ES_WV][l] += a * b;
        lanes[AQ_ES_V2][l] += b * b;
        lanes[AQ_ES_HE2][l] += hj * d * d;
        lanes[AQ_ES_HW2][l] += hj * a * a;
    }
}

int64_t aq_first_nonfinite_ref(const float *w, int64_t n) {
    for (int64_t j = 0; j < n; ++j)
        if (!isfinite(w[j])) return j;
    return -1;
}

void aq_rtn_params_ref(const float *w, int64_t cols, int gs, int bits, aq_scale_dtype d, float *s,
                       float *m) {
    const int64_t groups = aq_groups_per_row(cols, gs);
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        aq_group_params_rtn(w + off, n, bits, d, &s[g], &m[g]);
    }
}

void aq_store_params_ref(const float *s, const float *m, int64_t groups, aq_scale_dtype d,
                         void *scale, void *min) {
    for (int64_t g = 0; g < groups; ++g) {
        aq_store_param(scale, g, d, s[g]);
        aq_store_param(min, g, d, m[g]);
    }
}

void aq_encode_row_ref(const float *w, int64_t cols, int gs, int bits, const float *h,
                       const float *s, const float *m, uint8_t *codes,
                       double lanes[AQ_ES_N][AQ_LANES]) {
    const int64_t groups = aq_groups_per_row(cols, gs);
    float wh[AQ_MAX_GROUP];
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs; /* a multiple of AQ_LANES: lanes continue */
        const int n = (int)(cols - off < gs ? cols - off : gs);
        uint8_t *out = codes + off * bits / 8;
        aq_encode_pack_ref(w + off, n, bits, s[g], m[g], out);
        aq_dequant_ref(out, n, bits, s[g], m[g], wh);
        aq_err_sums_ref(w + off, wh, h ? h + off : NULL, n, lanes);
    }
}

/*-*********************************************
 *  dq search kernels (quant_impl.h: aq_dq_targets_fn, aq_dq_pick_fn)
 ***********************************************/

static aq_dq_gstat group_stat(const float *x, const float *h, int n) {
    aq_dq_gstat g = {0.0, 0.0, 0.0, x[0], x[0]};
    for (int j = 0; j < n; ++j) {
        const double hj = h ? (double)h[j] : 1.0, xj = x[j], hx = hj * xj;
        g.sh += hj;
        g.shx += hx;
        g.shxx += hx * xj;
        g.lo = x[j] < g.lo ? x[j] : g.lo;
        g.hi = x[j] > g.hi ? x[j] : g.hi;
    }
    g.lo += 0.0f; /* -0 -> +0, as aq_minmax_f32() */
    g.hi += 0.0f;
    return g;
}

/* csums of the codes aq_code_of((x - lo) * inv). */
static aq_dq_csums code_sums(const float *x, const float *h, int n, float qmaxf, float lo,
                             float inv) {
    aq_dq_csums c = {0.0f, 0.0f, 0.0f};
    for (int j = 0; j < n; ++j) {
        const float l = (float)aq_code_of((x[j] - lo) * inv, qmaxf);
        const float hl = h ? h[j] * l : l;
        c.shl += hl;
        c.shll += hl * l;
        c.shxl += hl * x[j];
    }
    return c;
}

static aq_fit eval_cand(const float *x, const float *h, int n, float qmaxf, const aq_dq_gstat *g,
                        float lo, float inv, aq_dq_csums *c) {
    const aq_wconst w = {g->sh, g->shx, g->shxx};
    *c = code_sums(x, h, n, qmaxf, lo, inv);
    return aq_mse_fit(&w, lo, inv, c->shl, c->shll, c->shxl);
}

static void targets_one(const float *x, const float *h, int n, float qmaxf, float step,
                        aq_dq_gstat *st, float *s, float *m, aq_dq_csums *cs) {
    const aq_dq_gstat g = group_stat(x, h, n);
    *st = g;
    if (!(g.hi > g.lo) || !(g.sh > 0.0)) { /* constant, or no weight: nothing to fit */
        *s = 0.0f;
        *m = g.lo;
        *cs = (aq_dq_csums){0.0f, 0.0f, 0.0f};
        return;
    }
    float mu = (float)(g.shx / g.sh);
    mu = mu < g.lo ? g.lo : (mu > g.hi ? g.hi : mu);
    const float pull = 1.0f - step;
    aq_fit best = {0.0, 0.0, 0.0};
    aq_dq_csums bc = {0.0f, 0.0f, 0.0f};
    for (int c = 0; c < 4; ++c) {
        const float a = (c & 2) ? pull : 1.0f, b = (c & 1) ? pull : 1.0f;
        const float clo = mu + a * (g.lo - mu), chi = mu + b * (g.hi - mu);
        aq_dq_csums cc;
        const aq_fit f = eval_cand(x, h, n, qmaxf, &g, clo, qmaxf / (chi - clo), &cc);
        if (c == 0 || f.err < best.err) {
            best = f;
            bc = cc;
        }
    }
    aq_dq_csums cc; /* assign/refit step from the winner */
    const aq_fit f = eval_cand(x, h, n, qmaxf, &g, (float)best.m, (float)(1.0 / best.s), &cc);
    if (f.err < best.err) {
        best = f;
        bc = cc;
    }
    *s = (float)best.s;
    *m = (float)best.m;
    *cs = bc;
}

void aq_dq_targets_ref(const aq_dq_batch *b, float step, aq_dq_gstat *st, float *s, float *m,
                       aq_dq_csums *cs) {
    for (int g = 0; g < b->ng; ++g) {
        const size_t off = (size_t)g * (size_t)b->G;
        targets_one(b->x + off, b->h ? b->h + off : NULL, b->G, b->qmaxf, step, &st[g], &s[g],
                    &m[g], &cs[g]);
    }
}

static void pick_one(const float *x, const float *h, int n, float qmaxf, int q, int radius,
                     const aq_dq_gstat *st, float s, float m, const aq_dq_csums *cs_in, float d,
                     float dmin, uint8_t *sc, uint8_t *mc, aq_dq_csums *cs, double *err) {
    const float id = d > 0.0f ? 1.0f / d : 0.0f, im = dmin != 0.0f ? 1.0f / dmin : 0.0f;
    const int s0 = aq_dq_clampq(s * id, q), m0 = aq_dq_clampq(m * im, q);
    int sc0 = s0, mc0 = m0;
    double best = 0.0;
    for (int a = 0; a < 2; ++a) /* closed form, codes of cs_in held fixed */
        for (int c = 0; c < 2; ++c) {
            const int si = s0 + a < q ? s0 + a : q, mi = m0 + c < q ? m0 + c : q;
            const double e =
                aq_dq_cerr(st, cs_in, (double)(d * (float)si), (double)(dmin * (float)mi));
            if ((a == 0 && c == 0) || e < best) {
                best = e;
                sc0 = si;
                mc0 = mi;
            }
        }
    int have = 0;
    for (int a = -radius; a <= radius; ++a) /* trials, codes re-encoded */
        for (int c = -radius; c <= radius; ++c) {
            const int si = sc0 + a, mi = mc0 + c;
            if (si < 0 || si > q || mi < 0 || mi > q) continue;
            const float scale = d * (float)si, mn = dmin * (float)mi;
            const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
            const aq_dq_csums t = code_sums(x, h, n, qmaxf, mn, inv);
            const double e = aq_dq_cerr(st, &t, (double)scale, (double)mn);
            if (!have || e < best) {
                have = 1;
                best = e;
                *sc = (uint8_t)si;
                *mc = (uint8_t)mi;
                *cs = t;
            }
        }
    *err = best;
}

void aq_dq_pick_ref(const aq_dq_batch *b, int subq, int radius, const aq_dq_gstat *st,
                    const float *s, const float *m, const aq_dq_csums *cs_in, const float *d,
                    const float *dmin, uint8_t *sc, uint8_t *mc, aq_dq_csums *cs, double *err) {
    for (int g = 0; g < b->ng; ++g) {
        const size_t off = (size_t)g * (size_t)b->G;
        pick_one(b->x + off, b->h ? b->h + off : NULL, b->G, b->qmaxf, subq, radius, &st[g], s[g],
                 m[g], &cs_in[g], d[g], dmin[g], &sc[g], &mc[g], &cs[g], &err[g]);
    }
}

const aq_kernels_t aq_kernels_scalar = {
    .name = "scalar",
    .simd = AQ_SIMD_SCALAR,
    .convert = aq_convert_to_f32,
    .minmax = aq_minmax_f32,
    .encode_pack = aq_encode_pack_ref,
    .dequant = aq_dequant_ref,
    .err_sums = aq_err_sums_ref,
    .group_wsse = aq_group_wsse,
    .round2 = aq_round2_ref,
    .wconst = aq_wconst_ref,
    .mse_eval = aq_mse_eval_ref,
    .first_nonfinite = aq_first_nonfinite_ref,
    .rtn_params = aq_rtn_params_ref,
    .store_params = aq_store_params_ref,
    .encode_row = aq_encode_row_ref,
    .dq_targets = aq_dq_targets_ref,
    .dq_pick = aq_dq_pick_ref,
};
