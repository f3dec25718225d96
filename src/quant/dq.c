/*
 * aq-mpi — double-quantized group parameters (layout and search in include/aq/dq.h).
 *
 * Every error used to decide is the closed-form weighted squared error of a group for fixed
 * codes, from the group's sums (gsums); the codes themselves always come from the exact
 * encoding rule for the parameters that are stored.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dq.h"
#include "quant_impl.h"

#define DQ_MIN_GROUP 16
#define NG (AQ_DQ_SUPER / DQ_MIN_GROUP) /* most groups per super-block */
#define AQ_DQ_ITERS 2

/*-*********************************************
 *  Layout
 ***********************************************/

aq_dq_layout aq_dq_default_layout(int bits) {
    switch (bits) {
    case 2: return (aq_dq_layout){2, 16, 4};
    case 3: return (aq_dq_layout){3, 32, 5};
    case 4: return (aq_dq_layout){4, 32, 6};
    case 8: return (aq_dq_layout){8, 32, 6};
    default: return (aq_dq_layout){bits, 32, 6};
    }
}

aq_status aq_dq_layout_check(const aq_dq_layout *L, aq_err *err) {
    if (!L) return aq_err_set(err, AQ_E_CONFIG, "dq: no layout given");
    if (L->bits != 2 && L->bits != 3 && L->bits != 4 && L->bits != 8)
        return aq_err_set(err, AQ_E_CONFIG, "dq: bits = %d: must be 2, 3, 4 or 8", L->bits);
    const int g = L->group_size;
    if (g != 16 && g != 32 && g != 64 && g != 128 && g != 256)
        return aq_err_set(err, AQ_E_CONFIG,
                          "dq: group_size = %d: must be 16, 32, 64, 128 or 256", g);
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
    const double bytes = (double)aq_packed_row_bytes(cols, L->bits) +
                         (double)aq_dq_sub_row_bytes(cols, L);
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
 *  Search of one super-block
 ***********************************************/

/* Weighted sums of one group for fixed codes l: E(s, m) = sum h (x - m - s l)^2. */
typedef struct {
    double sh, shx, shxx, shl, shll, shxl;
} gsums;

/* One super-block being searched. */
typedef struct {
    const float *x, *h;
    int n, ng, G, bits, subq; /* subq = 2^S - 1 */
    float s[NG], m[NG];       /* per-group LS targets */
    uint8_t q[AQ_DQ_SUPER];   /* codes */
    gsums gs[NG];
    uint8_t sc[NG], mc[NG];
    float d, dmin;
} sblock;

static int group_len(const sblock *b, int g) {
    const int r = b->n - g * b->G;
    return r < b->G ? r : b->G;
}

static const float *hoff(const sblock *b, int g) {
    return b->h ? b->h + g * b->G : NULL;
}

static gsums group_sums(const float *x, const float *h, int n, const uint8_t *q) {
    gsums s = {0};
    for (int j = 0; j < n; ++j) {
        const double hj = h ? h[j] : 1.0, xj = x[j], l = q[j];
        s.sh += hj;
        s.shx += hj * xj;
        s.shxx += hj * xj * xj;
        s.shl += hj * l;
        s.shll += hj * l * l;
        s.shxl += hj * xj * l;
    }
    return s;
}

static double group_err(const gsums *c, double s, double m) {
    const double e = c->shxx - 2.0 * m * c->shx - 2.0 * s * c->shxl + m * m * c->sh +
                     2.0 * m * s * c->shl + s * s * c->shll;
    return e > 0.0 ? e : 0.0;
}

/* LS (s, m) for the group's codes; keeps *s (refits m) when the codes are all equal. */
static void group_ls(const gsums *c, float *s, float *m) {
    const double det = c->sh * c->shll - c->shl * c->shl;
    if (det > 1e-9 * c->sh * c->shll && det > 0.0) {
        *s = (float)((c->sh * c->shxl - c->shl * c->shx) / det);
        *m = (float)((c->shll * c->shx - c->shl * c->shxl) / det);
    } else if (c->sh > 0.0) {
        *m = (float)((c->shx - (double)*s * c->shl) / c->sh);
    }
}

static int clampq(float v, int q) {
    return v > 0.0f ? (v < (float)q ? (int)v : q) : 0;
}

/* Best of the floor/ceil (sc, mc) pairs for target (s, m) under (d, dmin). */
static double pick_group(const gsums *c, int q, float rs, float rm, float d, float dmin,
                         uint8_t *sc, uint8_t *mc) {
    const int s0 = clampq(rs, q), m0 = clampq(rm, q); /* truncation = floor for rs, rm >= 0 */
    double best = INFINITY;
    for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
            const int si = s0 + a > q ? q : s0 + a, mi = m0 + b > q ? q : m0 + b;
            const double e = group_err(c, (double)(d * (float)si), (double)(dmin * (float)mi));
            if (e < best) {
                best = e;
                *sc = (uint8_t)si;
                *mc = (uint8_t)mi;
            }
        }
    return best;
}

static void pick_all(sblock *b, float d, float dmin) {
    const float id = d > 0.0f ? 1.0f / d : 0.0f, im = dmin != 0.0f ? 1.0f / dmin : 0.0f;
    for (int g = 0; g < b->ng; ++g)
        pick_group(&b->gs[g], b->subq, b->s[g] * id, b->m[g] * im, d, dmin, &b->sc[g],
                   &b->mc[g]);
}

/* Joint weighted LS of (d, dmin) for the chosen (sc, mc) and codes; unchanged if singular. */
static void refit_dd(const sblock *b, float *d, float *dmin) {
    double a = 0, bb = 0, c = 0, r1 = 0, r2 = 0;
    for (int g = 0; g < b->ng; ++g) {
        const gsums *s = &b->gs[g];
        const double u = b->sc[g], v = b->mc[g];
        a += u * u * s->shll;
        bb += u * v * s->shl;
        c += v * v * s->sh;
        r1 += u * s->shxl;
        r2 += v * s->shx;
    }
    const double det = a * c - bb * bb;
    if (!(det > 1e-12 * a * c) || !(a > 0.0) || !(c > 0.0)) return;
    const double nd = (r1 * c - bb * r2) / det, nm = (a * r2 - bb * r1) / det;
    if (nd > 0.0 && isfinite(nd) && isfinite(nm)) {
        *d = (float)nd;
        *dmin = (float)nm;
    }
}

/* Nearest (sc, mc) for every group under (d, dmin). */
static void pick_near(sblock *b, float d, float dmin) {
    const float id = d > 0.0f ? 1.0f / d : 0.0f, im = dmin != 0.0f ? 1.0f / dmin : 0.0f;
    for (int g = 0; g < b->ng; ++g) {
        b->sc[g] = (uint8_t)clampq(b->s[g] * id + 0.5f, b->subq);
        b->mc[g] = (uint8_t)clampq(b->m[g] * im + 0.5f, b->subq);
    }
}

/* (d, dmin) from the extreme targets, nearest (sc, mc), joint LS refit of (d, dmin). */
static void search_dd(sblock *b) {
    float smax = 0.0f, mlo = 0.0f, mhi = 0.0f;
    for (int g = 0; g < b->ng; ++g) {
        smax = b->s[g] > smax ? b->s[g] : smax;
        mlo = b->m[g] < mlo ? b->m[g] : mlo;
        mhi = b->m[g] > mhi ? b->m[g] : mhi;
    }
    const float qf = (float)b->subq;
    float d = smax / qf, dm = (-mlo >= mhi ? mlo : mhi) / qf;
    pick_near(b, d, dm);
    refit_dd(b, &d, &dm);
    b->d = d;
    b->dmin = dm;
}

/* float16 d/dmin, (sc, mc) for them, codes re-encoded; returns the error. */
static double store_and_encode(sblock *b) {
    b->d = aq_f16_to_f32(aq_f32_to_f16(b->d));
    b->dmin = aq_f16_to_f32(aq_f32_to_f16(b->dmin));
    if (!isfinite(b->d) || !isfinite(b->dmin)) return INFINITY;
    pick_all(b, b->d, b->dmin);
    double e = 0.0;
    for (int g = 0; g < b->ng; ++g) {
        const int off = g * b->G, n = group_len(b, g);
        const float s = b->d * (float)b->sc[g], m = b->dmin * (float)b->mc[g];
        aq_encode_group(b->x + off, n, b->bits, s, m, b->q + off);
        b->gs[g] = group_sums(b->x + off, hoff(b, g), n, b->q + off);
        e += group_err(&b->gs[g], (double)s, (double)m);
    }
    return e;
}

/* Per-group mse targets and their codes. */
static void init_groups(sblock *b, const aq_kernels_t *k) {
    for (int g = 0; g < b->ng; ++g) {
        const int off = g * b->G, n = group_len(b, g);
        aq_group_params_mse_k(k, b->x + off, hoff(b, g), n, b->bits, AQ_SCALE_F32, &b->s[g],
                              &b->m[g]);
        aq_encode_group(b->x + off, n, b->bits, b->s[g], b->m[g], b->q + off);
        b->gs[g] = group_sums(b->x + off, hoff(b, g), n, b->q + off);
    }
}

/* The whole search of one super-block; 0, or -1 when d/dmin overflow float16. */
static int search_block(sblock *b, const aq_kernels_t *k) {
    init_groups(b, k);
    search_dd(b);
    double err = store_and_encode(b);
    if (!isfinite(err)) return -1;
    for (int it = 0; it < AQ_DQ_ITERS; ++it) {
        sblock t = *b;
        for (int g = 0; g < t.ng; ++g) group_ls(&t.gs[g], &t.s[g], &t.m[g]);
        pick_near(&t, t.d, t.dmin);
        refit_dd(&t, &t.d, &t.dmin);
        const double e = store_and_encode(&t);
        if (!(e < err)) break;
        *b = t;
        err = e;
    }
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

static void emit_block(const sblock *b, int64_t c0, int S, const dq_row_out *o) {
    const int64_t sb = c0 / AQ_DQ_SUPER, g0 = c0 / b->G;
    aq_pack_codes(b->q, b->n, b->bits, o->codes + c0 * b->bits / 8);
    for (int g = 0; g < b->ng; ++g) {
        sub_put(o->sub, 2 * (g0 + g), S, b->sc[g]);
        sub_put(o->sub, 2 * (g0 + g) + 1, S, b->mc[g]);
    }
    o->d[sb] = aq_f32_to_f16(b->d);
    o->dmin[sb] = aq_f32_to_f16(b->dmin);
}

/* Row with a kernel table; returns -1 - (first column of the overflowing super-block) on a
 * float16 overflow, 0 otherwise.  Inputs are finite, the layout valid. */
static int64_t dq_row_k(const aq_kernels_t *k, const aq_dq_layout *L, const float *w,
                        int64_t cols, const float *h, const dq_row_out *o) {
    memset(o->sub, 0, aq_dq_sub_row_bytes(cols, L));
    for (int64_t c0 = 0; c0 < cols; c0 += AQ_DQ_SUPER) {
        sblock b;
        b.x = w + c0;
        b.h = h ? h + c0 : NULL;
        b.n = (int)(cols - c0 < AQ_DQ_SUPER ? cols - c0 : AQ_DQ_SUPER);
        b.G = L->group_size;
        b.ng = (b.n + b.G - 1) / b.G;
        b.bits = L->bits;
        b.subq = (1 << L->sub_bits) - 1;
        if (search_block(&b, k) != 0) return -1 - c0;
        emit_block(&b, c0, L->sub_bits, o);
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
    const dq_row_out o = {codes, sub, d, dmin};
    const int64_t r = dq_row_k(kt, L, w, cols, h, &o);
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
 *  Tensor driver
 ***********************************************/

typedef struct {
    double l[AQ_ES_N];
    int64_t bad_col; /* first non-finite weight, -1 none */
    int64_t bad_sb;  /* first column of an overflowing super-block, -1 none */
    float bad_val;
} dq_row_stats;

typedef struct {
    const aq_kernels_t *k;
    const aq_dq_layout *L;
    aq_dtype dt;
    const unsigned char *src;
    int64_t cols;
    const float *h;
    uint8_t *codes, *sub;
    uint16_t *d, *dmin;
    dq_row_stats *rs;
} dq_job;

static void dq_process_row(const dq_job *t, int64_t r, float *w, float *wh) {
    dq_row_stats *st = &t->rs[r];
    memset(st, 0, sizeof *st);
    st->bad_sb = -1;
    t->k->convert(t->dt, t->src + (size_t)r * (size_t)t->cols * aq_dtype_size(t->dt),
                  (size_t)t->cols, w);
    st->bad_col = t->k->first_nonfinite(w, t->cols);
    if (st->bad_col >= 0) {
        st->bad_val = w[st->bad_col];
        return;
    }
    const int64_t supers = aq_dq_supers(t->cols);
    const dq_row_out o = {t->codes + (size_t)r * aq_packed_row_bytes(t->cols, t->L->bits),
                          t->sub + (size_t)r * aq_dq_sub_row_bytes(t->cols, t->L),
                          t->d + r * supers, t->dmin + r * supers};
    const int64_t bad = dq_row_k(t->k, t->L, w, t->cols, t->h, &o);
    if (bad < 0) {
        st->bad_sb = -1 - bad;
        return;
    }
    aq_dq_dequantize_row(t->L, o.codes, o.sub, o.d, o.dmin, t->cols, wh);
    double lanes[AQ_ES_N][AQ_LANES] = {{0}};
    t->k->err_sums(w, wh, t->h, t->cols, lanes);
    for (int i = 0; i < AQ_ES_N; ++i) st->l[i] = aq_lanes_sum(lanes[i]);
}

static int dq_run_rows(const dq_job *t, int64_t rows) {
    int nomem = 0;
#pragma omp parallel
    {
        float *w = malloc((size_t)t->cols * sizeof *w), *wh = malloc((size_t)t->cols * sizeof *wh);
        if (!w || !wh) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t r = 0; r < rows; ++r)
            if (w && wh) dq_process_row(t, r, w, wh);
        free(w);
        free(wh);
    }
    return nomem ? -1 : 0;
}

static double ratio(double num, double den) {
    return den > 0.0 ? num / den : (num == 0.0 ? 0.0 : INFINITY);
}

static aq_status dq_finish(const dq_job *t, int64_t rows, const char *name,
                           aq_quant_metrics *m, aq_err *err) {
    double s[AQ_ES_N] = {0};
    for (int64_t r = 0; r < rows; ++r) {
        const dq_row_stats *st = &t->rs[r];
        if (st->bad_col >= 0)
            return aq_err_set(err, AQ_E_VALUE, "tensor %s: non-finite weight %g at [%lld, %lld]",
                              name, (double)st->bad_val, (long long)r, (long long)st->bad_col);
        if (st->bad_sb >= 0)
            return aq_err_set(err, AQ_E_VALUE,
                              "tensor %s: row %lld, super-block at column %lld: d/dmin do not "
                              "fit float16 (weights too large)",
                              name, (long long)r, (long long)st->bad_sb);
        for (int i = 0; i < AQ_ES_N; ++i) s[i] += st->l[i]; /* row order */
    }
    if (!m) return AQ_OK;
    m->rel_mse = ratio(s[AQ_ES_E2], s[AQ_ES_W2]);
    m->sqnr_db = m->rel_mse == 0.0 ? INFINITY : -10.0 * log10(m->rel_mse);
    const double w2 = s[AQ_ES_W2], v2 = s[AQ_ES_V2];
    m->cosine = (w2 == 0.0 && v2 == 0.0) ? 1.0
                : (w2 == 0.0 || v2 == 0.0) ? 0.0
                                           : s[AQ_ES_WV] / sqrt(w2 * v2);
    m->weighted_rel_err = ratio(s[AQ_ES_HE2], s[AQ_ES_HW2]);
    return AQ_OK;
}

static aq_status dq_check(const aq_dq_layout *L, int64_t rows, int64_t cols, const float *h,
                          const char *name, aq_err *err) {
    aq_err e = {0};
    if (aq_dq_layout_check(L, &e) != AQ_OK)
        return aq_err_set(err, AQ_E_CONFIG, "tensor %s: %s", name, e.msg);
    if (rows < 0 || cols < 0 || cols > INT64_MAX / 8 / (rows > 0 ? rows : 1))
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: bad shape [%lld, %lld]", name,
                          (long long)rows, (long long)cols);
    for (int64_t j = 0; h && j < cols; ++j)
        if (!(h[j] >= 0.0f) || !isfinite(h[j]))
            return aq_err_set(err, AQ_E_VALUE,
                              "tensor %s: importance h[%lld] = %g is negative or non-finite",
                              name, (long long)j, (double)h[j]);
    return AQ_OK;
}

aq_status aq_dq_quantize_tensor(const aq_kernels *k, const aq_dq_layout *L, aq_dtype src_dtype,
                                const void *src, int64_t rows, int64_t cols, const float *h,
                                const char *name, uint8_t *codes, uint8_t *sub, uint16_t *d,
                                uint16_t *dmin, aq_quant_metrics *metrics, aq_err *err) {
    if (!name) name = "(unnamed)";
    aq_status st = dq_check(L, rows, cols, h, name, err);
    if (st != AQ_OK) return st;
    dq_job t = {or_auto(k), L, src_dtype, src, cols, h, codes, sub, d, dmin, NULL};
    if (rows == 0 || cols == 0) return dq_finish(&t, 0, name, metrics, err);
    if (!src || !codes || !sub || !d || !dmin)
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: missing input or output buffer", name);
    t.rs = malloc((size_t)rows * sizeof *t.rs);
    if (!t.rs || dq_run_rows(&t, rows) != 0) {
        free(t.rs);
        return aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory for %lld x %lld", name,
                          (long long)rows, (long long)cols);
    }
    st = dq_finish(&t, rows, name, metrics, err);
    free(t.rs);
    return st;
}
