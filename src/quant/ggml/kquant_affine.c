/*
 * aq-mpi — encoder of ggml's min-offset k-quants Q2_K, Q4_K, Q5_K (layouts and search in
 * include/aq/ggml_kquants.h).
 *
 * Decode of a group: y = (d * sc) * q - dmin * m, q in 0..nmax, (sc, m) in 0..subq.  This is
 * the dq decode of include/aq/dq.h (min + q * scale, one float rounding) with
 * min = -(dmin * m): the search below is the dq search run on the dq kernels (so it has
 * their AVX2 / AVX-512 twins), with its dmin negated when stored.  d * sc and dmin * m are
 * exact in float32 (11 + 6 significant bits), so the decode does not depend on where the
 * sign is applied.
 */
#include <math.h>
#include <string.h>

#include "ggml_weights.h"
#include "kquant_impl.h"

#define KQ_SB AQ_GGML_QK_K
#define KQ_CHUNK_SB 16                   /* super-blocks per chunk */
#define KQ_MAX_GROUPS (KQ_CHUNK_SB * 16) /* G >= 16 */
#define KQ_REFINE 3                      /* refinement passes, each kept only when better */

typedef struct {
    int G, nmax, subq, bytes;
    float step; /* clipping grid step of the group targets */
} kq_affine_fmt;

/* Clipping steps tuned as dq's per code width (coarse codes want strong clipping). */
static kq_affine_fmt affine_fmt(int fmt) {
    switch (fmt) {
    case 2:
        return (kq_affine_fmt){16, 3, 15, AQ_GGML_Q2_K_BYTES, 0.35f};
    case 4:
        return (kq_affine_fmt){32, 15, 63, AQ_GGML_Q4_K_BYTES, 0.15f};
    default:
        return (kq_affine_fmt){32, 31, 63, AQ_GGML_Q5_K_BYTES, 0.1f};
    }
}

/* One chunk: nsb super-blocks, searched phase by phase over all their groups so that the
 * kernels see long runs of groups. */
typedef struct {
    const aq_kernels_t *k;
    const float *x, *h;
    kq_affine_fmt f;
    int nsb, ng, gpb;
    aq_dq_gstat st[KQ_MAX_GROUPS];
    float s[KQ_MAX_GROUPS], m[KQ_MAX_GROUPS];
    aq_dq_csums cs[KQ_MAX_GROUPS];
    float dg[KQ_MAX_GROUPS], mg[KQ_MAX_GROUPS];
    uint8_t sc[KQ_MAX_GROUPS], mc[KQ_MAX_GROUPS];
    double err[KQ_MAX_GROUPS];
    float d[KQ_CHUNK_SB], dmin[KQ_CHUNK_SB]; /* dq sign: min = dmin * mc */
} kq_chunk;

/* Scratch of a refinement pass. */
typedef struct {
    float s[KQ_MAX_GROUPS], m[KQ_MAX_GROUPS], dg[KQ_MAX_GROUPS], mg[KQ_MAX_GROUPS];
    uint8_t sc[KQ_MAX_GROUPS], mc[KQ_MAX_GROUPS];
    aq_dq_csums cs[KQ_MAX_GROUPS];
    double err[KQ_MAX_GROUPS];
    float d[KQ_CHUNK_SB], dmin[KQ_CHUNK_SB];
} kq_refine;

static aq_dq_batch batch(const kq_chunk *c) {
    return (aq_dq_batch){c->x, c->h, c->f.G, c->ng, (float)c->f.nmax};
}

static int clampq(float v, int q) {
    v = v > 0.0f ? v : 0.0f;
    v = v < (float)q ? v : (float)q;
    return (int)v;
}

static float f16_round(float v) {
    return aq_f16_to_f32(aq_f32_to_f16(v));
}

/* Nearest (sc, mc) of the groups of super-block sb for targets s, m under (d, dmin). */
static void pick_near(const kq_chunk *c, int sb, const float *s, const float *m, float d,
                      float dmin, uint8_t *sc, uint8_t *mc) {
    const float id = d > 0.0f ? 1.0f / d : 0.0f, im = dmin != 0.0f ? 1.0f / dmin : 0.0f;
    for (int g = sb * c->gpb; g < (sb + 1) * c->gpb; ++g) {
        sc[g] = (uint8_t)clampq(s[g] * id + 0.5f, c->f.subq);
        mc[g] = (uint8_t)clampq(m[g] * im + 0.5f, c->f.subq);
    }
}

/* Joint weighted LS of (d, dmin) of super-block sb for fixed (sc, mc) and the codes of cs;
 * unchanged when singular or when d would not be positive. */
static void refit_dd(const kq_chunk *c, int sb, const aq_dq_csums *cs, const uint8_t *sc,
                     const uint8_t *mc, float *d, float *dmin) {
    double a = 0.0, bb = 0.0, cc = 0.0, r1 = 0.0, r2 = 0.0;
    for (int g = sb * c->gpb; g < (sb + 1) * c->gpb; ++g) {
        const double u = sc[g], v = mc[g];
        a += u * u * (double)cs[g].shll;
        bb += u * v * (double)cs[g].shl;
        cc += v * v * c->st[g].sh;
        r1 += u * (double)cs[g].shxl;
        r2 += v * c->st[g].shx;
    }
    if (a > 0.0 && !(cc > 0.0)) { /* every m code 0: d alone */
        const double nd = r1 / a;
        if (nd > 0.0 && isfinite(nd)) *d = (float)nd;
        return;
    }
    const double det = a * cc - bb * bb;
    if (!(det > 1e-12 * a * cc) || !(a > 0.0) || !(cc > 0.0)) return;
    const double nd = (r1 * cc - bb * r2) / det, nm = (a * r2 - bb * r1) / det;
    if (nd > 0.0 && isfinite(nd) && isfinite(nm)) {
        *d = (float)nd;
        *dmin = (float)nm;
    }
}

static void spread(const kq_chunk *c, int sb, float d, float dmin, float *dg, float *mg) {
    for (int g = sb * c->gpb; g < (sb + 1) * c->gpb; ++g) {
        dg[g] = d;
        mg[g] = dmin;
    }
}

/* First (d, dmin) of super-block sb: extreme targets, nearest codes, joint LS, fp16. */
static void first_dd(kq_chunk *c, int sb) {
    float smax = 0.0f, mlo = 0.0f, mhi = 0.0f;
    for (int g = sb * c->gpb; g < (sb + 1) * c->gpb; ++g) {
        smax = c->s[g] > smax ? c->s[g] : smax;
        mlo = c->m[g] < mlo ? c->m[g] : mlo;
        mhi = c->m[g] > mhi ? c->m[g] : mhi;
    }
    const float qf = (float)c->f.subq;
    float d = smax / qf, dmin = (-mlo >= mhi ? mlo : mhi) / qf;
    pick_near(c, sb, c->s, c->m, d, dmin, c->sc, c->mc);
    refit_dd(c, sb, c->cs, c->sc, c->mc, &d, &dmin);
    c->d[sb] = f16_round(d);
    c->dmin[sb] = f16_round(dmin);
    spread(c, sb, c->d[sb], c->dmin[sb], c->dg, c->mg);
}

static double sb_err(const kq_chunk *c, const double *err, int sb) {
    double e = 0.0;
    for (int g = sb * c->gpb; g < (sb + 1) * c->gpb; ++g)
        e += err[g];
    return e;
}

/* Weighted LS (s, m) of one group for the codes of cs; unchanged when degenerate. */
static void group_ls(const aq_dq_gstat *g, const aq_dq_csums *cs, float *s, float *m) {
    const double shl = cs->shl, shll = cs->shll, shxl = cs->shxl;
    const double det = g->sh * shll - shl * shl;
    if (det > 1e-9 * g->sh * shll) {
        const double rd = 1.0 / det, ss = (g->sh * shxl - shl * g->shx) * rd;
        if (ss > 0.0 && ss < 1e30) {
            *s = (float)ss;
            *m = (float)((shll * g->shx - shl * shxl) * rd);
            return;
        }
    }
    if (g->sh > 0.0) *m = (float)((g->shx - (double)*s * shl) / g->sh);
}

/* One refinement pass (LS targets for the current codes, nearest codes, LS (d, dmin), fp16,
 * exact pick with radius 1), kept per super-block when it lowers the weighted error;
 * returns how many super-blocks improved. */
static int refine(kq_chunk *c, kq_refine *r) {
    for (int g = 0; g < c->ng; ++g) {
        r->s[g] = c->s[g];
        r->m[g] = c->m[g];
        group_ls(&c->st[g], &c->cs[g], &r->s[g], &r->m[g]);
    }
    for (int sb = 0; sb < c->nsb; ++sb) {
        float d = c->d[sb], dmin = c->dmin[sb];
        pick_near(c, sb, r->s, r->m, d, dmin, r->sc, r->mc);
        refit_dd(c, sb, c->cs, r->sc, r->mc, &d, &dmin);
        r->d[sb] = f16_round(d);
        r->dmin[sb] = f16_round(dmin);
        if (!isfinite(r->d[sb]) || !isfinite(r->dmin[sb])) {
            r->d[sb] = c->d[sb];
            r->dmin[sb] = c->dmin[sb];
        }
        spread(c, sb, r->d[sb], r->dmin[sb], r->dg, r->mg);
    }
    const aq_dq_batch b = batch(c);
    c->k->dq_pick(&b, c->f.subq, 1, c->st, r->s, r->m, c->cs, r->dg, r->mg, r->sc, r->mc, r->cs,
                  r->err);
    int better = 0;
    for (int sb = 0; sb < c->nsb; ++sb) {
        if (!(sb_err(c, r->err, sb) < sb_err(c, c->err, sb))) continue;
        ++better;
        c->d[sb] = r->d[sb];
        c->dmin[sb] = r->dmin[sb];
        for (int g = sb * c->gpb; g < (sb + 1) * c->gpb; ++g) {
            c->sc[g] = r->sc[g];
            c->mc[g] = r->mc[g];
            c->cs[g] = r->cs[g];
            c->err[g] = r->err[g];
            c->s[g] = r->s[g];
            c->m[g] = r->m[g];
        }
    }
    return better;
}

static void search_chunk(kq_chunk *c, kq_refine *r) {
    const aq_dq_batch b = batch(c);
    c->k->dq_targets(&b, c->f.step, c->st, c->s, c->m, c->cs);
    for (int sb = 0; sb < c->nsb; ++sb)
        first_dd(c, sb);
    c->k->dq_pick(&b, c->f.subq, AQ_DQ_MAX_RADIUS, c->st, c->s, c->m, c->cs, c->dg, c->mg, c->sc,
                  c->mc, c->cs, c->err);
    for (int it = 0; it < KQ_REFINE; ++it)
        if (refine(c, r) == 0) break;
}

/*-*********************************************
 *  Packing
 ***********************************************/

static void put_f16(uint8_t *p, float v) {
    const uint16_t u = aq_f32_to_f16(v);
    p[0] = (uint8_t)(u & 0xff);
    p[1] = (uint8_t)(u >> 8);
}

/* Nearest codes of one super-block for the stored parameters: y = (d sc) q - (dmin m). */
static void final_codes(const float *x, int G, int gpb, int nmax, float d, float dmin_st,
                        const uint8_t *sc, const uint8_t *mc, uint8_t *L) {
    for (int g = 0; g < gpb; ++g) {
        const float scale = d * (float)sc[g], ml = dmin_st * (float)mc[g];
        for (int j = 0; j < G; ++j) {
            float y;
            L[g * G + j] = aq_kq_affine_code(scale, ml, nmax, x[g * G + j], &y);
        }
    }
}

/* 6-bit (sc, m) of 8 groups into Q4_K / Q5_K scales[12] (get_scale_min_k4's inverse). */
static void pack_scales_k4(const uint8_t *sc, const uint8_t *m, uint8_t *s) {
    memset(s, 0, 12);
    for (int g = 0; g < 8; ++g) {
        if (g < 4) {
            s[g] = sc[g];
            s[g + 4] = m[g];
        } else {
            s[g + 4] = (uint8_t)((sc[g] & 15) | (m[g] & 15) << 4);
            s[g - 4] |= (uint8_t)((sc[g] >> 4) << 6);
            s[g] |= (uint8_t)((m[g] >> 4) << 6);
        }
    }
}

static void emit_q2(const uint8_t *sc, const uint8_t *mc, const uint8_t *L, uint8_t *b) {
    for (int g = 0; g < 16; ++g)
        b[g] = (uint8_t)(sc[g] | mc[g] << 4);
    for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
            const uint8_t *q = L + 128 * h + l;
            b[16 + 32 * h + l] = (uint8_t)(q[0] | q[32] << 2 | q[64] << 4 | q[96] << 6);
        }
}

static void emit_q45(const uint8_t *sc, const uint8_t *mc, const uint8_t *L, uint8_t *b, int five) {
    pack_scales_k4(sc, mc, b + 4);
    uint8_t *qh = five ? b + 16 : NULL, *qs = b + (five ? 48 : 16);
    if (qh) memset(qh, 0, 32);
    for (int ch = 0; ch < 4; ++ch)
        for (int l = 0; l < 32; ++l) {
            const int q0 = L[64 * ch + l], q1 = L[64 * ch + 32 + l];
            qs[32 * ch + l] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
            if (qh) qh[l] |= (uint8_t)((q0 >> 4) << (2 * ch) | (q1 >> 4) << (2 * ch + 1));
        }
}

void aq_kq_pack_affine(int fmt, float d, float dmin, const uint8_t *sc, const uint8_t *mc,
                       const uint8_t *L, uint8_t *b) {
    uint8_t *pd = fmt == 2 ? b + 80 : b;
    put_f16(pd, d);
    put_f16(pd + 2, dmin);
    if (fmt == 2)
        emit_q2(sc, mc, L, b);
    else
        emit_q45(sc, mc, L, b, fmt == 5);
}

/* The stored d and dmin (ggml's sign) of super-block sb. */
static void stored_dd(const kq_chunk *c, int sb, float *d, float *dmin_st) {
    *d = aq_f16_to_f32(aq_f32_to_f16(c->d[sb]));
    *dmin_st = aq_f16_to_f32(aq_f32_to_f16(-c->dmin[sb]));
}

static void emit_chunk(const kq_chunk *c, int fmt, uint8_t *out) {
    for (int sb = 0; sb < c->nsb; ++sb) {
        uint8_t *b = out + (size_t)sb * (size_t)c->f.bytes, L[KQ_SB];
        float d, dmin_st;
        stored_dd(c, sb, &d, &dmin_st);
        const uint8_t *sc = c->sc + sb * c->gpb, *mc = c->mc + sb * c->gpb;
        final_codes(c->x + (size_t)sb * KQ_SB, c->f.G, c->gpb, c->f.nmax, d, dmin_st, sc, mc, L);
        aq_kq_pack_affine(fmt, d, dmin_st, sc, mc, L, b);
    }
}

typedef struct {
    kq_chunk c;
    kq_refine r;
    float w[KQ_CHUNK_SB * KQ_SB]; /* error weights of the chunk (ggml_weights.h) */
} kq_scratch;

int aq_kq_affine_nmax(int fmt) {
    return affine_fmt(fmt).nmax;
}

int aq_kq_affine_group(int fmt) {
    return affine_fmt(fmt).G;
}

void aq_kq_fit_affine(const aq_kq_kernels *k, int fmt, const float *x, const float *h, float *d,
                      float *dmin, uint8_t *sc, uint8_t *mc) {
    kq_scratch s; /* ~40 KB: the search is the chunk search with one super-block */
    kq_chunk *c = &s.c;
    c->k = k->dq;
    c->f = affine_fmt(fmt);
    c->gpb = KQ_SB / c->f.G;
    c->nsb = 1;
    c->ng = c->gpb;
    c->x = x;
    if (!aq_ggml_weights(AQ_GGML_W_KQUANT, x, h, KQ_SB, s.w)) /* as the row function does */
        for (int j = 0; j < KQ_SB; ++j)
            s.w[j] = 1.0f;
    c->h = s.w;
    search_chunk(c, &s.r);
    stored_dd(c, 0, d, dmin);
    memcpy(sc, c->sc, (size_t)c->gpb);
    memcpy(mc, c->mc, (size_t)c->gpb);
}

void aq_kq_quantize_affine(const aq_kq_kernels *k, int fmt, const float *x, const float *h,
                           int64_t n, uint8_t *blocks) {
    kq_scratch s; /* ~56 KB on the stack: the row function cannot fail for memory */
    kq_chunk *c = &s.c;
    c->k = k->dq;
    c->f = affine_fmt(fmt);
    c->gpb = KQ_SB / c->f.G;
    const int64_t nsb = n / KQ_SB;
    for (int64_t sb0 = 0; sb0 < nsb; sb0 += KQ_CHUNK_SB) {
        c->nsb = (int)(nsb - sb0 < KQ_CHUNK_SB ? nsb - sb0 : KQ_CHUNK_SB);
        c->ng = c->nsb * c->gpb;
        c->x = x + sb0 * KQ_SB;
        for (int sb = 0; sb < c->nsb; ++sb) {
            const float *xs = x + (sb0 + sb) * KQ_SB, *hs = h ? h + (sb0 + sb) * KQ_SB : NULL;
            float *ws = s.w + (size_t)sb * KQ_SB;
            if (!aq_ggml_weights(AQ_GGML_W_KQUANT, xs, hs, KQ_SB, ws))
                for (int j = 0; j < KQ_SB; ++j)
                    ws[j] = 1.0f;
        }
        c->h = s.w;
        search_chunk(c, &s.r);
        emit_chunk(c, fmt, blocks + (size_t)sb0 * (size_t)c->f.bytes);
    }
}
