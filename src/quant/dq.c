/*
 * aq-mpi — double-quantized group parameters (layout and search in include/aq/dq.h).
 *
 * Every error used to decide is the closed-form weighted squared error of a group for fixed
 * codes, from the group's sums (gsums); the codes themselves always come from the exact
 * encoding rule for the parameters that are stored.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dq.h"
#include "quant_impl.h"

/*-*********************************************
 *  Layout
 ***********************************************/

aq_dq_layout aq_dq_default_layout(int bits) {
    switch (bits) {
    case 2:
        return (aq_dq_layout){2, 16, 4};
    case 3:
        return (aq_dq_layout){3, 32, 5};
    case 4:
        return (aq_dq_layout){4, 32, 6};
    case 8:
        return (aq_dq_layout){8, 32, 6};
    default:
        return (aq_dq_layout){bits, 32, 6};
    }
}

aq_status aq_dq_layout_check(const aq_dq_layout *L, aq_err *err) {
    if (!L) return aq_err_set(err, AQ_E_CONFIG, "dq: no layout given");
    if (L->bits != 2 && L->bits != 3 && L->bits != 4 && L->bits != 8)
        return aq_err_set(err, AQ_E_CONFIG, "dq: bits = %d: must be 2, 3, 4 or 8", L->bits);
    const int g = L->group_size;
    if (g != 16 && g != 32 && g != 64 && g != 128 && g != 256)
        return aq_err_set(err, AQ_E_CONFIG, "dq: group_size = %d: must be 16, 32, 64, 128 or 256",
                          g);
    if (L->sub_bits < 4 || L->sub_bits > 8)
        return aq_err_set(err, AQ_E_CONFIG, "dq: sub_bits = %d: must be 4..8", L->sub_bits);
    return AQ_OK;
}

int64_t aq_dq_groups(int64_t cols, const aq_dq_layout *L) {
    return (cols + L->group_size - 1) / L->group_size;
}

size_t aq_dq_sub_row_bytes(int64_t cols, const aq_dq_layout *L) {
    return (size_t)((2 * aq_dq_groups(cols, L) * L->sub_bits + 7) / 8);
}

int64_t aq_dq_supers(int64_t cols) {
    return (cols + AQ_DQ_SUPER - 1) / AQ_DQ_SUPER;
}

double aq_dq_bits_per_weight(int64_t cols, const aq_dq_layout *L) {
    if (cols <= 0) return 0.0;
    const double bytes =
        (double)aq_packed_row_bytes(cols, L->bits) + (double)aq_dq_sub_row_bytes(cols, L);
    return (8.0 * bytes + 32.0 * (double)aq_dq_supers(cols)) / (double)cols;
}

/* Sub code i (0: sc_0, 1: mc_0, 2: sc_1, ...) at bit i * S, lsb first; S <= 8, so a code
 * spans at most two bytes.  The row's sub bytes are zeroed first, so codes are OR-ed in. */
static void sub_put(uint8_t *sub, int64_t i, int S, unsigned v) {
    const int64_t bit = i * S;
    const unsigned x = v << (bit & 7);
    sub[bit >> 3] |= (uint8_t)x;
    if ((bit & 7) + S > 8) sub[(bit >> 3) + 1] |= (uint8_t)(x >> 8);
}

static unsigned sub_get(const uint8_t *sub, int64_t i, int S) {
    const int64_t bit = i * S;
    unsigned x = sub[bit >> 3];
    if ((bit & 7) + S > 8) x |= (unsigned)sub[(bit >> 3) + 1] << 8;
    return (x >> (bit & 7)) & ((1u << S) - 1u);
}

/*-*********************************************
 *  Search of one chunk of a row
 ***********************************************/

/* Grid step of the target pull factors per code width (tuned on the docs/DESIGN.md §7 tensors,
 * bench/results/dq.md): coarse codes want strong clipping candidates. */
static float target_step(int bits) {
    return bits == 2 ? 0.35f : bits == 3 ? 0.2f : bits == 4 ? 0.15f : 0.05f;
}

#define DQ_CHUNK_SUPERS 16                       /* super-blocks per chunk */
#define DQ_CHUNK (DQ_CHUNK_SUPERS * AQ_DQ_SUPER) /* columns per chunk */
#define DQ_CHUNK_GROUPS (DQ_CHUNK / 16)          /* most groups per chunk (G = 16) */

/* One chunk of a row: up to 16 super-blocks, searched phase by phase over all its groups
 * so that the kernels see long runs of groups whatever G is. */
typedef struct {
    const aq_kernels_t *k;
    const float *x, *h;
    int n, G, ng, gpb, nsb, bits, subq; /* gpb: groups per full super-block */
    aq_dq_gstat st[DQ_CHUNK_GROUPS];
    float s[DQ_CHUNK_GROUPS], m[DQ_CHUNK_GROUPS];   /* targets */
    aq_dq_csums cs[DQ_CHUNK_GROUPS];                /* code sums of the current choice */
    float dg[DQ_CHUNK_GROUPS], mg[DQ_CHUNK_GROUPS]; /* per group copies of d, dmin */
    uint8_t sc[DQ_CHUNK_GROUPS], mc[DQ_CHUNK_GROUPS];
    double err[DQ_CHUNK_GROUPS];
    float d[DQ_CHUNK_SUPERS], dmin[DQ_CHUNK_SUPERS];
} dq_chunk;

/* Groups [g0, g1) of super-block sb. */
static void sb_groups(const dq_chunk *c, int sb, int *g0, int *g1) {
    *g0 = sb * c->gpb;
    *g1 = (sb + 1) * c->gpb < c->ng ? (sb + 1) * c->gpb : c->ng;
}

/* The chunk's full groups, and its short last group (a row's last chunk only): the kernels
 * run on the former, the reference on the latter, so short groups never reach a twin. */
static aq_dq_batch full_batch(const dq_chunk *c, int *nfull) {
    *nfull = c->n / c->G;
    return (aq_dq_batch){c->x, c->h, c->G, *nfull, (float)aq_qmax(c->bits)};
}

static aq_dq_batch tail_batch(const dq_chunk *c, int nfull) {
    const size_t off = (size_t)nfull * (size_t)c->G;
    return (aq_dq_batch){c->x + off, c->h ? c->h + off : NULL, c->n - (int)off, 1,
                         (float)aq_qmax(c->bits)};
}

static void run_targets(dq_chunk *c) {
    int nf;
    const aq_dq_batch b = full_batch(c, &nf);
    const float step = target_step(c->bits);
    if (nf > 0) c->k->dq_targets(&b, step, c->st, c->s, c->m, c->cs);
    if (nf < c->ng) {
        const aq_dq_batch t = tail_batch(c, nf);
        aq_dq_targets_ref(&t, step, &c->st[nf], &c->s[nf], &c->m[nf], &c->cs[nf]);
    }
}

static void run_pick(const dq_chunk *c, int radius, const float *s, const float *m,
                     const aq_dq_csums *cs_in, const float *dg, const float *mg, uint8_t *sc,
                     uint8_t *mc, aq_dq_csums *cs, double *err) {
    int nf;
    const aq_dq_batch b = full_batch(c, &nf);
    if (nf > 0) c->k->dq_pick(&b, c->subq, radius, c->st, s, m, cs_in, dg, mg, sc, mc, cs, err);
    if (nf < c->ng) {
        const aq_dq_batch t = tail_batch(c, nf);
        aq_dq_pick_ref(&t, c->subq, radius, &c->st[nf], &s[nf], &m[nf], &cs_in[nf], &dg[nf],
                       &mg[nf], &sc[nf], &mc[nf], &cs[nf], &err[nf]);
    }
}

/* Nearest (sc, mc) of groups [g0, g1) for targets s, m under (d, dmin). */
static void pick_near(const dq_chunk *c, int g0, int g1, const float *s, const float *m, float d,
                      float dmin, uint8_t *sc, uint8_t *mc) {
    const float id = d > 0.0f ? 1.0f / d : 0.0f, im = dmin != 0.0f ? 1.0f / dmin : 0.0f;
    for (int g = g0; g < g1; ++g) {
        sc[g] = (uint8_t)aq_dq_clampq(s[g] * id + 0.5f, c->subq);
        mc[g] = (uint8_t)aq_dq_clampq(m[g] * im + 0.5f, c->subq);
    }
}

/* Joint weighted LS of (d, dmin) over groups [g0, g1) for fixed (sc, mc) and the codes of
 * cs; *d, *dmin unchanged when singular. */
static void refit_dd(const dq_chunk *c, int g0, int g1, const aq_dq_csums *cs, const uint8_t *sc,
                     const uint8_t *mc, float *d, float *dmin) {
    double a = 0.0, bb = 0.0, cc = 0.0, r1 = 0.0, r2 = 0.0;
    for (int g = g0; g < g1; ++g) {
        const double u = sc[g], v = mc[g];
        a += u * u * (double)cs[g].shll;
        bb += u * v * (double)cs[g].shl;
        cc += v * v * c->st[g].sh;
        r1 += u * (double)cs[g].shxl;
        r2 += v * c->st[g].shx;
    }
    const double det = a * cc - bb * bb;
    if (!(det > 1e-12 * a * cc) || !(a > 0.0) || !(cc > 0.0)) return;
    const double nd = (r1 * cc - bb * r2) / det, nm = (a * r2 - bb * r1) / det;
    if (nd > 0.0 && isfinite(nd) && isfinite(nm)) {
        *d = (float)nd;
        *dmin = (float)nm;
    }
}

static float f16_round(float v) {
    return aq_f16_to_f32(aq_f32_to_f16(v));
}

/* First (d, dmin) of super-block sb: from the extreme targets, nearest (sc, mc), joint LS
 * refit, float16.  0, or -1 when they do not fit float16. */
static int first_dd(dq_chunk *c, int sb) {
    int g0, g1;
    sb_groups(c, sb, &g0, &g1);
    float smax = 0.0f, mlo = 0.0f, mhi = 0.0f;
    for (int g = g0; g < g1; ++g) {
        smax = c->s[g] > smax ? c->s[g] : smax;
        mlo = c->m[g] < mlo ? c->m[g] : mlo;
        mhi = c->m[g] > mhi ? c->m[g] : mhi;
    }
    const float qf = (float)c->subq;
    float d = smax / qf, dmin = (-mlo >= mhi ? mlo : mhi) / qf;
    pick_near(c, g0, g1, c->s, c->m, d, dmin, c->sc, c->mc);
    refit_dd(c, g0, g1, c->cs, c->sc, c->mc, &d, &dmin);
    c->d[sb] = f16_round(d);
    c->dmin[sb] = f16_round(dmin);
    for (int g = g0; g < g1; ++g) {
        c->dg[g] = c->d[sb];
        c->mg[g] = c->dmin[sb];
    }
    return isfinite(c->d[sb]) && isfinite(c->dmin[sb]) ? 0 : -1;
}

static double sum_err(const double *err, int g0, int g1) {
    double e = 0.0;
    for (int g = g0; g < g1; ++g)
        e += err[g];
    return e;
}

/* Scratch of the refinement pass. */
typedef struct {
    float s[DQ_CHUNK_GROUPS], m[DQ_CHUNK_GROUPS], dg[DQ_CHUNK_GROUPS], mg[DQ_CHUNK_GROUPS];
    uint8_t sc[DQ_CHUNK_GROUPS], mc[DQ_CHUNK_GROUPS];
    aq_dq_csums cs[DQ_CHUNK_GROUPS];
    double err[DQ_CHUNK_GROUPS];
    float d[DQ_CHUNK_SUPERS], dmin[DQ_CHUNK_SUPERS];
    int ok[DQ_CHUNK_SUPERS];
} dq_refine;

/* Weighted LS (s, m) for the codes of cs; keeps *s and refits *m when the fit is degenerate
 * or gives no positive scale (all codes equal, ...). */
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

/* One refinement pass: per group LS targets for the current codes, per super-block nearest
 * (sc, mc) and LS (d, dmin), float16, one exact pick; kept per super-block when its error
 * is lower. */
static void refine(dq_chunk *c, dq_refine *r) {
    for (int g = 0; g < c->ng; ++g) {
        r->s[g] = c->s[g];
        r->m[g] = c->m[g];
        group_ls(&c->st[g], &c->cs[g], &r->s[g], &r->m[g]);
    }
    for (int sb = 0; sb < c->nsb; ++sb) {
        int g0, g1;
        sb_groups(c, sb, &g0, &g1);
        float d = c->d[sb], dmin = c->dmin[sb];
        pick_near(c, g0, g1, r->s, r->m, d, dmin, r->sc, r->mc);
        refit_dd(c, g0, g1, c->cs, r->sc, r->mc, &d, &dmin);
        r->d[sb] = f16_round(d);
        r->dmin[sb] = f16_round(dmin);
        r->ok[sb] = isfinite(r->d[sb]) && isfinite(r->dmin[sb]);
        for (int g = g0; g < g1; ++g) {
            r->dg[g] = r->ok[sb] ? r->d[sb] : c->d[sb];
            r->mg[g] = r->ok[sb] ? r->dmin[sb] : c->dmin[sb];
        }
    }
    run_pick(c, 0, r->s, r->m, c->cs, r->dg, r->mg, r->sc, r->mc, r->cs, r->err);
    for (int sb = 0; sb < c->nsb; ++sb) {
        int g0, g1;
        sb_groups(c, sb, &g0, &g1);
        if (!r->ok[sb] || !(sum_err(r->err, g0, g1) < sum_err(c->err, g0, g1))) continue;
        c->d[sb] = r->d[sb];
        c->dmin[sb] = r->dmin[sb];
        for (int g = g0; g < g1; ++g) {
            c->sc[g] = r->sc[g];
            c->mc[g] = r->mc[g];
            c->cs[g] = r->cs[g];
            c->err[g] = r->err[g];
        }
    }
}

/* The search of one chunk; -1 - (first column of a super-block whose d/dmin overflow
 * float16), or 0. */
static int64_t search_chunk(dq_chunk *c, dq_refine *r) {
    run_targets(c);
    for (int sb = 0; sb < c->nsb; ++sb)
        if (first_dd(c, sb) != 0) return -1 - (int64_t)sb * AQ_DQ_SUPER;
    run_pick(c, AQ_DQ_MAX_RADIUS, c->s, c->m, c->cs, c->dg, c->mg, c->sc, c->mc, c->cs, c->err);
    refine(c, r);
    return 0;
}

/*-*********************************************
 *  Row level
 ***********************************************/

/* Row outputs. */
typedef struct {
    uint8_t *codes, *sub;
    uint16_t *d, *dmin;
} dq_row_out;

/* Stored arrays of the chunk starting at column c0; codes by the exact rule for the stored
 * parameters, their error sums added to `lanes`. */
static void emit_chunk(const dq_chunk *c, int64_t c0, int S, const dq_row_out *o,
                       double lanes[AQ_ES_N][AQ_LANES]) {
    float s[DQ_CHUNK_GROUPS], m[DQ_CHUNK_GROUPS];
    const int64_t g0 = c0 / c->G;
    for (int g = 0; g < c->ng; ++g) {
        const int sb = g / c->gpb;
        s[g] = c->d[sb] * (float)c->sc[g];
        m[g] = c->dmin[sb] * (float)c->mc[g];
        sub_put(o->sub, 2 * (g0 + g), S, c->sc[g]);
        sub_put(o->sub, 2 * (g0 + g) + 1, S, c->mc[g]);
    }
    c->k->encode_row(c->x, c->n, c->G, c->bits, c->h, s, m, o->codes + c0 * c->bits / 8, lanes);
    for (int sb = 0; sb < c->nsb; ++sb) {
        o->d[c0 / AQ_DQ_SUPER + sb] = aq_f32_to_f16(c->d[sb]);
        o->dmin[c0 / AQ_DQ_SUPER + sb] = aq_f32_to_f16(c->dmin[sb]);
    }
}

/* Scratch of one row search (about 30 KB; the tensor driver keeps one per thread). */
typedef struct {
    dq_chunk c;
    dq_refine r;
} dq_scratch;

/* Row with a kernel table; returns -1 - (first column of the overflowing super-block) on a
 * float16 overflow, 0 otherwise.  Inputs are finite, the layout valid.  The error sums of
 * the stored result are added to `lanes`. */
static int64_t dq_row_k(const aq_kernels_t *k, const aq_dq_layout *L, const float *w, int64_t cols,
                        const float *h, const dq_row_out *o, dq_scratch *sc,
                        double lanes[AQ_ES_N][AQ_LANES]) {
    memset(o->sub, 0, aq_dq_sub_row_bytes(cols, L));
    dq_chunk *c = &sc->c;
    for (int64_t c0 = 0; c0 < cols; c0 += DQ_CHUNK) {
        c->k = k;
        c->x = w + c0;
        c->h = h ? h + c0 : NULL;
        c->n = (int)(cols - c0 < DQ_CHUNK ? cols - c0 : DQ_CHUNK);
        c->G = L->group_size;
        c->ng = (c->n + c->G - 1) / c->G;
        c->gpb = AQ_DQ_SUPER / c->G;
        c->nsb = (c->n + AQ_DQ_SUPER - 1) / AQ_DQ_SUPER;
        c->bits = L->bits;
        c->subq = (1 << L->sub_bits) - 1;
        const int64_t bad = search_chunk(c, &sc->r);
        if (bad < 0) return bad - c0;
        emit_chunk(c, c0, L->sub_bits, o, lanes);
    }
    return 0;
}

static const aq_kernels_t *or_auto(const aq_kernels *k) {
    return k ? k : aq_kernels_select(0);
}

aq_status aq_dq_quantize_row(const aq_kernels *k, const aq_dq_layout *L, const float *w,
                             int64_t cols, const float *h, uint8_t *codes, uint8_t *sub,
                             uint16_t *d, uint16_t *dmin, aq_err *err) {
    const aq_status st = aq_dq_layout_check(L, err);
    if (st != AQ_OK) return st;
    if (cols <= 0) return AQ_OK;
    const aq_kernels_t *kt = or_auto(k);
    const int64_t bad = kt->first_nonfinite(w, cols);
    if (bad >= 0)
        return aq_err_set(err, AQ_E_VALUE, "dq: non-finite weight %g at column %lld",
                          (double)w[bad], (long long)bad);
    dq_scratch s; /* about 30 KB: on the stack, so the row function cannot fail for memory */
    const dq_row_out o = {codes, sub, d, dmin};
    double lanes[AQ_ES_N][AQ_LANES] = {{0}};
    const int64_t r = dq_row_k(kt, L, w, cols, h, &o, &s, lanes);
    if (r < 0)
        return aq_err_set(err, AQ_E_VALUE,
                          "dq: super-block at column %lld: d/dmin do not fit float16",
                          (long long)(-1 - r));
    return AQ_OK;
}

void aq_dq_dequantize_row(const aq_dq_layout *L, const uint8_t *codes, const uint8_t *sub,
                          const uint16_t *d, const uint16_t *dmin, int64_t cols, float *out) {
    const int G = L->group_size, bits = L->bits, S = L->sub_bits;
    for (int64_t off = 0, g = 0; off < cols; off += G, ++g) {
        const int n = (int)(cols - off < G ? cols - off : G);
        const int64_t sb = off / AQ_DQ_SUPER;
        const float s = aq_f16_to_f32(d[sb]) * (float)sub_get(sub, 2 * g, S);
        const float m = aq_f16_to_f32(dmin[sb]) * (float)sub_get(sub, 2 * g + 1, S);
        aq_dequant_ref(codes + off * bits / 8, n, bits, s, m, out + off);
    }
}

/*-*********************************************
 *  The "dq" row of the format table (qformat.c)
 ***********************************************/

aq_dq_layout aq_quant_dq_layout(const aq_quant_params *p) {
    aq_dq_layout L = aq_dq_default_layout(p->bits);
    L.group_size = p->group_size;
    if (p->dq_bits) L.sub_bits = p->dq_bits;
    return L;
}

size_t aq_dq_scratch_bytes(const aq_quant_params *p, int64_t cols) {
    (void)p;
    (void)cols;
    return sizeof(dq_scratch);
}

/* Arrays in table order: codes, sub, super_scale (d), super_min (dmin). */
int64_t aq_dq_quantize_row_qf(const aq_qf_env *e, const float *w, const float *h, int64_t cols,
                              void *const *arr, aq_qf_sums *s) {
    const aq_dq_layout L = aq_quant_dq_layout(e->p);
    const dq_row_out o = {arr[0], arr[1], arr[2], arr[3]};
    const int64_t bad = dq_row_k(e->k, &L, w, cols, h, &o, e->scratch, s->lanes);
    return bad < 0 ? -1 - bad : -1;
}

void aq_dq_dequantize_row_qf(const aq_qformat *f, const aq_quant_params *p, const void *const *arr,
                             int64_t cols, float *out) {
    (void)f;
    const aq_dq_layout L = aq_quant_dq_layout(p);
    aq_dq_dequantize_row(&L, arr[0], arr[1], arr[2], arr[3], cols, out);
}

void aq_dq_overflow_msg(const aq_quant_params *p, int64_t col, char *buf, size_t size) {
    (void)p;
    snprintf(buf, size, "super-block at column %lld: d/dmin do not fit float16 (weights too large)",
             (long long)col);
}

/*-*********************************************
 *  One super-block at a time (GPTQ, src/quant/gptq_formats.c)
 ***********************************************/

void aq_dq_sub_put(uint8_t *sub, int64_t i, int S, unsigned v) {
    sub_put(sub, i, S, v);
}

/* The chunk search is per super-block (targets and picks per group, d/dmin and the
 * refinement per super-block), so a chunk of one super-block chooses what the row search
 * chooses for it. */
int aq_dq_fit_super(const aq_kernels_t *k, const aq_dq_layout *L, const float *x, const float *h,
                    int n, float *d, float *dmin, uint8_t *sc, uint8_t *mc) {
    dq_scratch s; /* about 30 KB, as aq_dq_quantize_row() */
    dq_chunk *c = &s.c;
    c->k = k;
    c->x = x;
    c->h = h;
    c->n = n < AQ_DQ_SUPER ? n : AQ_DQ_SUPER;
    c->G = L->group_size;
    c->ng = (c->n + c->G - 1) / c->G;
    c->gpb = AQ_DQ_SUPER / c->G;
    c->nsb = 1;
    c->bits = L->bits;
    c->subq = (1 << L->sub_bits) - 1;
    if (search_chunk(c, &s.r) != 0) return -1;
    *d = c->d[0];
    *dmin = c->dmin[0];
    memcpy(sc, c->sc, (size_t)c->ng);
    memcpy(mc, c->mc, (size_t)c->ng);
    return 0;
}
