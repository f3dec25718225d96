/*
 * aq-mpi — encoder of ggml's signed-scale k-quants Q3_K and Q6_K (layouts and search in
 * include/aq/ggml_kquants.h) and the reference of its two kernels (kquant_impl.h).
 *
 * Decode of a group: y = (d * s) * l with a signed scale code s and codes l in
 * [-nlo, nlo - 1] (Q3_K: s 6-bit in -32..31, l -4..3; Q6_K: s int8, l -32..31).  The code
 * range is asymmetric, so both signs of the scale are tried: the largest weight can sit on
 * the long end (-nlo) or on the short one (nlo - 1).
 */
#include <math.h>
#include <string.h>

#include "ggml_weights.h"
#include "kquant_impl.h"

#define KQ_SB AQ_GGML_QK_K
#define KQ_G AQ_KQ_SG  /* group size of both formats */
#define KQ_NG AQ_KQ_SG /* groups per super-block */

/*-*********************************************
 *  Group kernels (the sums are the ISA's; the decisions, scalar and shared)
 ***********************************************/

void aq_kq_ssums_ref(const aq_kq_sbatch *b, const float *inv, aq_kq_ssums *out) {
    const float lo = (float)-b->nlo, hi = (float)(b->nlo - 1);
    for (int g = 0; g < AQ_KQ_SG; ++g) {
        const float *x = b->x + AQ_KQ_SG * g, *h = b->h ? b->h + AQ_KQ_SG * g : NULL;
        aq_kq_ssums c = {0.0f, 0.0f};
        for (int j = 0; j < AQ_KQ_SG; ++j) {
            const float l = aq_kq_scode(x[j] * inv[g], lo, hi);
            const float hl = h ? h[j] * l : l;
            c.shll += hl * l;
            c.shxl += hl * x[j];
        }
        out[g] = c;
    }
}

/* err of the LS scale for fixed codes: shxx - shxl^2 / shll. */
static double ls_err(double shxx, const aq_kq_ssums *c) {
    const double e = shxx - (double)c->shxl * (double)c->shxl / (double)c->shll;
    return e > 0.0 ? e : 0.0;
}

/* Per group: shxx[g] = sum (h x) x in double, j order; the best signed scale s[g] of the
 * clipping grid (the largest |x| on code -nlo or on nlo - 1, scaled by 1 + step k, k = -K..K;
 * weighted LS scale for its codes), then one assign/refit step kept when better; s = 0 and
 * cs = 0 for a group of zeros. */
static void sym_targets(aq_kq_ssums_fn ssums, const aq_kq_sbatch *b, float step, double *shxx,
                        float *s, aq_kq_ssums *cs) {
    float xm[AQ_KQ_SG], inv[AQ_KQ_SG];
    double best[AQ_KQ_SG];
    int have[AQ_KQ_SG];
    aq_kq_ssums c[AQ_KQ_SG];
    for (int g = 0; g < AQ_KQ_SG; ++g) {
        const float *x = b->x + AQ_KQ_SG * g, *h = b->h ? b->h + AQ_KQ_SG * g : NULL;
        double sxx = 0.0;
        float am = 0.0f;
        xm[g] = 0.0f;
        for (int j = 0; j < AQ_KQ_SG; ++j) {
            const double hj = h ? (double)h[j] : 1.0, xj = x[j];
            sxx += (hj * xj) * xj;
            if (fabsf(x[j]) > am) {
                am = fabsf(x[j]);
                xm[g] = x[j];
            }
        }
        shxx[g] = sxx;
        have[g] = 0;
        best[g] = 0.0;
        s[g] = 0.0f;
        cs[g] = (aq_kq_ssums){0.0f, 0.0f};
    }
    const float lo = (float)-b->nlo, hi = (float)(b->nlo - 1);
    for (int a = 0; a < 2; ++a)
        for (int k = -AQ_KQ_SK; k <= AQ_KQ_SK; ++k) {
            const float t = (a ? hi : lo) * (1.0f + step * (float)k);
            for (int g = 0; g < AQ_KQ_SG; ++g)
                inv[g] = xm[g] != 0.0f ? t / xm[g] : 0.0f;
            ssums(b, inv, c);
            for (int g = 0; g < AQ_KQ_SG; ++g) {
                if (xm[g] == 0.0f || !(c[g].shll > 0.0f)) continue;
                const double e = ls_err(shxx[g], &c[g]);
                if (!have[g] || e < best[g]) {
                    have[g] = 1;
                    best[g] = e;
                    cs[g] = c[g];
                }
            }
        }
    for (int g = 0; g < AQ_KQ_SG; ++g) {
        if (have[g]) s[g] = (float)((double)cs[g].shxl / (double)cs[g].shll);
        inv[g] = have[g] ? 1.0f / s[g] : 0.0f;
    }
    ssums(b, inv, c); /* assign/refit step */
    for (int g = 0; g < AQ_KQ_SG; ++g)
        if (have[g] && c[g].shll > 0.0f && ls_err(shxx[g], &c[g]) < best[g]) {
            cs[g] = c[g];
            s[g] = (float)((double)c[g].shxl / (double)c[g].shll);
        }
}

/* Per group with the stored super-block scale d: c0 = the nearest scale code of s / d in
 * [clo, chi] (0 when d == 0), then the codes c0 - radius .. c0 + radius inside the range with
 * the weights re-encoded; the first trial is taken, later ones when strictly better. */
static void sym_pick(aq_kq_ssums_fn ssums, const aq_kq_sbatch *b, int clo, int chi, int radius,
                     const double *shxx, const float *s, float d, int *sc, aq_kq_ssums *cs,
                     double *err) {
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int c0[AQ_KQ_SG], have[AQ_KQ_SG];
    float inv[AQ_KQ_SG];
    aq_kq_ssums t[AQ_KQ_SG];
    for (int g = 0; g < AQ_KQ_SG; ++g) {
        c0[g] = (int)aq_kq_scode(s[g] * id, (float)clo, (float)chi);
        have[g] = 0;
    }
    for (int a = -radius; a <= radius; ++a) {
        for (int g = 0; g < AQ_KQ_SG; ++g) {
            const float scale = d * (float)(c0[g] + a);
            inv[g] = scale != 0.0f ? 1.0f / scale : 0.0f;
        }
        ssums(b, inv, t);
        for (int g = 0; g < AQ_KQ_SG; ++g) {
            const int c = c0[g] + a;
            if (c < clo || c > chi) continue;
            const double e = aq_kq_serr(shxx[g], &t[g], (double)(d * (float)c));
            if (!have[g] || e < err[g]) {
                have[g] = 1;
                err[g] = e;
                sc[g] = c;
                cs[g] = t[g];
            }
        }
    }
}

/*-*********************************************
 *  Super-block search
 ***********************************************/

typedef struct {
    int nlo, clo, chi, bytes;
    float step;
} kq_sym_fmt;

static kq_sym_fmt sym_fmt(int fmt) {
    return fmt == 3 ? (kq_sym_fmt){4, -32, 31, AQ_GGML_Q3_K_BYTES, 0.06f}
                    : (kq_sym_fmt){32, -128, 127, AQ_GGML_Q6_K_BYTES, 0.015f};
}

/* Candidate d of a super-block: the extreme target on either end of the scale-code range,
 * each scaled by these factors. */
static const float k_dscale[] = {1.0f, 0.97f, 1.03f, 0.93f};
#define KQ_ND ((int)(sizeof k_dscale / sizeof k_dscale[0]))
#define KQ_REFINE 2

typedef struct {
    const aq_kq_kernels *k;
    kq_sym_fmt f;
    aq_kq_sbatch b; /* the super-block's 16 groups */
    double shxx[KQ_NG];
    float s[KQ_NG];
    aq_kq_ssums cs[KQ_NG];
} kq_sym_sb;

/* Result of one candidate d. */
typedef struct {
    float d;
    int sc[KQ_NG];
    aq_kq_ssums cs[KQ_NG];
    double err[KQ_NG], total;
} kq_sym_try;

static float f16_round(float v) {
    return aq_f16_to_f32(aq_f32_to_f16(v));
}

/* From start d0 and targets s (code sums cs of the targets' codes): nearest scale codes, LS
 * d for them, fp16, exact pick with radius 1. */
static void try_d(const kq_sym_sb *p, const float *s, const aq_kq_ssums *cs, float d0,
                  kq_sym_try *t) {
    const float id = 1.0f / d0;
    double num = 0.0, den = 0.0;
    for (int g = 0; g < KQ_NG; ++g) {
        const double c = aq_kq_scode(s[g] * id, (float)p->f.clo, (float)p->f.chi);
        num += c * (double)cs[g].shxl;
        den += c * c * (double)cs[g].shll;
    }
    float d = den > 0.0 ? (float)(num / den) : d0;
    d = f16_round(d);
    if (!isfinite(d) || d == 0.0f) d = f16_round(d0);
    sym_pick(p->k->ssums, &p->b, p->f.clo, p->f.chi, 1, p->shxx, s, d, t->sc, t->cs, t->err);
    t->d = d;
    t->total = 0.0;
    for (int g = 0; g < KQ_NG; ++g)
        t->total += t->err[g];
}

static void search_sb(kq_sym_sb *p, kq_sym_try *best) {
    sym_targets(p->k->ssums, &p->b, p->f.step, p->shxx, p->s, p->cs);
    float se = 0.0f;
    for (int g = 0; g < KQ_NG; ++g)
        se = fabsf(p->s[g]) > fabsf(se) ? p->s[g] : se;
    best->d = 0.0f;
    best->total = INFINITY;
    if (se == 0.0f) return; /* all weights 0 (or no importance anywhere) */
    kq_sym_try t;
    for (int a = 0; a < 2; ++a)
        for (int i = 0; i < KQ_ND; ++i) {
            const float d0 = se / (float)(a ? p->f.chi : p->f.clo) * k_dscale[i];
            try_d(p, p->s, p->cs, d0, &t);
            if (t.total < best->total) *best = t;
        }
    for (int it = 0; it < KQ_REFINE; ++it) { /* LS targets for the winner's codes */
        float s2[KQ_NG];
        for (int g = 0; g < KQ_NG; ++g)
            s2[g] = best->cs[g].shll > 0.0f
                        ? (float)((double)best->cs[g].shxl / (double)best->cs[g].shll)
                        : best->d * (float)best->sc[g];
        try_d(p, s2, best->cs, best->d, &t);
        if (!(t.total < best->total)) break;
        *best = t;
    }
}

/*-*********************************************
 *  Packing
 ***********************************************/

static void put_f16(uint8_t *p, float v) {
    const uint16_t u = aq_f32_to_f16(v);
    p[0] = (uint8_t)(u & 0xff);
    p[1] = (uint8_t)(u >> 8);
}

/* Nearest codes (offset by nlo, so 0..2 nlo - 1) for the stored d and scale codes. */
static void final_codes(const float *x, int nlo, float d, const int *sc, uint8_t *L) {
    for (int e = 0; e < KQ_SB; ++e) {
        float y;
        L[e] = aq_kq_sym_code(d * (float)sc[e / KQ_G], nlo, x[e], &y);
    }
}

static void emit_q3(float d, const int *tsc, const uint8_t *L, uint8_t *b) {
    uint8_t *hm = b, *qs = b + 32, *sc = b + 96;
    memset(b, 0, AQ_GGML_Q3_K_BYTES);
    for (int g = 0; g < KQ_NG; ++g) {
        const int v = tsc[g] + 32;
        if (g < 8)
            sc[g] |= (uint8_t)(v & 15);
        else
            sc[g - 8] |= (uint8_t)((v & 15) << 4);
        sc[8 + g % 4] |= (uint8_t)((v >> 4) << (2 * (g / 4)));
    }
    for (int e = 0; e < KQ_SB; ++e) {
        const int h = e / 128, j = (e / 32) % 4, l = e % 32;
        if (L[e] > 3) hm[l] |= (uint8_t)(1u << (4 * h + j));
        qs[32 * h + l] |= (uint8_t)((L[e] & 3) << (2 * j));
    }
    put_f16(b + 108, d);
}

static void emit_q6(float d, const int *tsc, const uint8_t *L, uint8_t *b) {
    uint8_t *ql = b, *qh = b + 128;
    memset(b, 0, AQ_GGML_Q6_K_BYTES);
    for (int g = 0; g < KQ_NG; ++g)
        b[192 + g] = (uint8_t)(int8_t)tsc[g];
    for (int e = 0; e < KQ_SB; ++e) {
        const int h = e / 128, k = (e / 32) % 4, l = e % 32;
        ql[64 * h + 32 * (k & 1) + l] |= (uint8_t)((L[e] & 15) << (4 * (k >> 1)));
        qh[32 * h + l] |= (uint8_t)((L[e] >> 4) << (2 * k));
    }
    put_f16(b + 208, d);
}

void aq_kq_pack_sym(int fmt, float d, const int *sc, const uint8_t *L, uint8_t *b) {
    if (fmt == 3)
        emit_q3(d, sc, L, b);
    else
        emit_q6(d, sc, L, b);
}

int aq_kq_sym_nlo(int fmt) {
    return sym_fmt(fmt).nlo;
}

void aq_kq_fit_sym(const aq_kq_kernels *k, int fmt, const float *xs, const float *hs, float *d,
                   int *sc) {
    kq_sym_sb p;
    p.k = k;
    p.f = sym_fmt(fmt);
    float ws[KQ_SB]; /* error weights (ggml_weights.h) */
    if (!aq_ggml_weights(AQ_GGML_W_KQUANT, xs, hs, KQ_SB, ws))
        for (int j = 0; j < KQ_SB; ++j)
            ws[j] = 1.0f;
    float xt[KQ_SB], ht[KQ_SB]; /* transposed for the twins: element j of group g at 16 j + g */
    for (int g = 0; g < KQ_NG; ++g)
        for (int j = 0; j < KQ_G; ++j) {
            xt[KQ_NG * j + g] = xs[KQ_G * g + j];
            ht[KQ_NG * j + g] = ws[KQ_G * g + j];
        }
    p.b = (aq_kq_sbatch){xs, ws, xt, ht, p.f.nlo};
    kq_sym_try best;
    search_sb(&p, &best);
    if (best.d == 0.0f || !isfinite(best.total)) { /* nothing to represent */
        best.d = 0.0f;
        memset(best.sc, 0, sizeof best.sc);
    }
    *d = best.d;
    memcpy(sc, best.sc, sizeof best.sc);
}

void aq_kq_quantize_sym(const aq_kq_kernels *k, int fmt, const float *x, const float *h, int64_t n,
                        uint8_t *blocks) {
    const kq_sym_fmt f = sym_fmt(fmt);
    for (int64_t i = 0; i < n / KQ_SB; ++i) {
        const float *xs = x + i * KQ_SB;
        float d;
        int sc[KQ_NG];
        aq_kq_fit_sym(k, fmt, xs, h ? h + i * KQ_SB : NULL, &d, sc);
        uint8_t L[KQ_SB];
        final_codes(xs, f.nlo, d, sc, L);
        aq_kq_pack_sym(fmt, d, sc, L, blocks + (size_t)i * (size_t)f.bytes);
    }
}
