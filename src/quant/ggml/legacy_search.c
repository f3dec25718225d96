/*
 * aq-mpi — the block search of the ggml legacy encoders (include/aq/ggml_legacy.h), shared
 * by every ISA: only the candidate evaluators differ (lg_kernels), and they are bit-identical,
 * so the choices made here — all scalar, all deterministic — are too.
 *
 * Per block (weights w_j of ggml_weights.h: h_j, or sqrt(1 + x_j^2 / ms) without h):
 *   symmetric (codes [-N, N-1], Q8_0 [-127, 127] as ggml's own; max = the element of largest
 *   magnitude, signed):
 *     batch 1: inverse steps is = -t / max, t = N + st (c - 4), c = 0..15 (max -> code -t;
 *              t > N clips the extreme, t < N leaves room on its side);
 *     batch 2: t* + st k / 8, k = +-1..+-7 around the best t* of batch 1, the assign/refit
 *              (Lloyd) step of batch 1's best (is = 1 / d*), and max -> the top code (the
 *              positive end);
 *   asymmetric (codes [0, N]; range [min, max]):
 *     batch 1: lo = min + a r, hi = max - b r, r = max - min, a, b in {0, 1, 2, 3} st,
 *              is = N / (hi - lo);
 *     batch 2: a* + st {-3, -1, 1, 3} / 4 x the same for b* (4 x 4), the last corner replaced
 *              by the Lloyd step of batch 1's best;
 *   then ggml's reference rule
 *   (Q8_0 d = amax / 127, Q4_0 / Q5_0 d = max / -N, Q4_1 / Q5_1 d = r / N and m = min; for
 *   asymmetric also the constant d = 0, m = weighted mean) scored with nearest codes.
 * The grid steps st per format were chosen with aq-bench-ggml (seed 42: Student-t nu = 5
 * rows, log-normal importance): steps from 0.4x to 3x of these were tried; wider grids helped,
 * mostly with importance, up to these values and were flat beyond.  Two further scalar Lloyd
 * steps after batch 2 were dropped: < 0.02 dB there, and they cost as much as a vector batch.
 */
#include "legacy_impl.h"

#include <math.h>
#include <string.h>

#include "aq/dtype.h"
#include "ggml_weights.h"

typedef struct {
    int asym;        /* 0: y = l d, l in [lo, hi];  1: y = l d + m, l in [0, hi] */
    float lo, hi;    /* code range */
    float off;       /* stored code = code + off (unsigned; Q8_0's int8 byte = stored - 128) */
    float st;        /* grid step: of t (symmetric), of the pull fractions (asymmetric) */
    int block_bytes; /* bytes of one stored block (the search does not read the descriptor
                        table of legacy_info.c, which names the twins that call it) */
} lg_spec;

static const lg_spec k_spec[AQ_GGML_LEGACY_COUNT] = {
    [AQ_GGML_LEGACY_Q8_0] = {0, -127.0f, 127.0f, 128.0f, 8.0f, AQ_GGML_Q8_0_BYTES},
    [AQ_GGML_LEGACY_Q4_0] = {0, -8.0f, 7.0f, 8.0f, 0.9f, AQ_GGML_Q4_0_BYTES},
    [AQ_GGML_LEGACY_Q4_1] = {1, 0.0f, 15.0f, 0.0f, 0.07f, AQ_GGML_Q4_1_BYTES},
    [AQ_GGML_LEGACY_Q5_0] = {0, -16.0f, 15.0f, 16.0f, 1.6f, AQ_GGML_Q5_0_BYTES},
    [AQ_GGML_LEGACY_Q5_1] = {1, 0.0f, 31.0f, 0.0f, 0.04f, AQ_GGML_Q5_1_BYTES},
};

/* Earliest index of the smallest err (strict <: ties keep the first; NaN never wins). */
static int best_of(const lg_fit *f, int n) {
    int b = 0;
    float e = f[0].err;
    for (int i = 1; i < n; ++i) { /* selects, not branches: the outcome is data-random */
        const int better = f[i].err < e;
        b = better ? i : b;
        e = better ? f[i].err : e;
    }
    return b;
}

static void keep_better(lg_fit *best, const lg_fit *cand) {
    if (cand->err < best->err) *best = *cand;
}

/* Exact error of fixed fp16 parameters with nearest codes (Pass B of the evaluators). */
static lg_fit err_at(const lg_spec *s, const lg_block *b, float d, float m) {
    const float lo = s->asym ? 0.0f : s->lo;
    const float id = (s->asym ? d > 0.0f : d != 0.0f) ? 1.0f / d : 0.0f;
    float err = 0.0f;
    for (int j = 0; j < LG_QK; ++j) {
        const float l = lg_code((b->x[j] - m) * id, lo, s->hi);
        const float e = b->x[j] - (l * d + m);
        err = err + b->w[j] * (e * e);
    }
    return (lg_fit){d, m, err};
}

static float f16_param(float v) {
    return lg_f16_round(lg_min(lg_max(v, -LG_F16_MAX), LG_F16_MAX));
}

static lg_fit search_sym(aq_ggml_legacy_fmt fmt, const lg_spec *s, const lg_kernels *k,
                         const lg_block *b) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < LG_QK; ++j) {
        const float a = fabsf(b->x[j]);
        const int bigger = a > amax;
        max = bigger ? b->x[j] : max;
        amax = bigger ? a : amax;
    }
    if (amax < 0x1p-30f) return (lg_fit){0.0f, 0.0f, 0.0f}; /* every fp16 d would be 0 */
    const float nmax = -s->lo, inv = -1.0f / max;
    float t[LG_BATCH], is[LG_BATCH];
    lg_fit f[LG_BATCH];
    for (int c = 0; c < LG_BATCH; ++c) {
        t[c] = nmax + s->st * (float)(c - 4);
        is[c] = t[c] * inv;
    }
    k->sym(b, s->lo, s->hi, is, LG_BATCH, f);
    const int b1 = best_of(f, LG_BATCH);
    lg_fit best = f[b1];
    const float tb = t[b1];
    for (int c = 0; c < 14; ++c) {
        const int kk = c < 7 ? c - 7 : c - 6; /* -7..-1, 1..7 */
        is[c] = (tb + s->st * (float)kk / 8.0f) * inv;
    }
    is[14] = best.d != 0.0f ? 1.0f / best.d : is[0];
    is[15] = -s->hi * inv;
    k->sym(b, s->lo, s->hi, is, LG_BATCH, f);
    keep_better(&best, &f[best_of(f, LG_BATCH)]);
    const float dg = fmt == AQ_GGML_LEGACY_Q8_0 ? amax / 127.0f : max / s->lo;
    lg_fit g = err_at(s, b, f16_param(dg), 0.0f);
    keep_better(&best, &g);
    return best;
}

static lg_fit search_asym(const lg_spec *s, const lg_kernels *k, const lg_block *b) {
    float mn = b->x[0], mx = b->x[0];
    for (int j = 1; j < LG_QK; ++j) {
        mn = lg_min(b->x[j], mn);
        mx = lg_max(b->x[j], mx);
    }
    const float r = mx - mn;
    lg_fit best = err_at(s, b, 0.0f, f16_param(b->sx / b->sw)); /* the constant block */
    if (!(r >= 0x1p-24f)) return best;
    float pa[LG_BATCH], pb[LG_BATCH], lo[LG_BATCH], is[LG_BATCH];
    lg_fit f[LG_BATCH];
    for (int c = 0; c < LG_BATCH; ++c) {
        pa[c] = s->st * (float)(c / 4);
        pb[c] = s->st * (float)(c % 4);
    }
    for (int round = 0; round < 2; ++round) {
        for (int c = 0; c < LG_BATCH; ++c) {
            lo[c] = mn + pa[c] * r;
            is[c] = s->hi / ((mx - pb[c] * r) - lo[c]);
        }
        if (round == 1 && best.d > 0.0f) { /* Lloyd step of batch 1's best */
            lo[LG_BATCH - 1] = best.m;
            is[LG_BATCH - 1] = 1.0f / best.d;
        }
        k->asym(b, s->hi, lo, is, LG_BATCH, f);
        const int bi = best_of(f, LG_BATCH);
        keep_better(&best, &f[bi]);
        if (round == 0) {
            const float a0 = pa[bi], b0 = pb[bi];
            for (int c = 0; c < LG_BATCH; ++c) {
                pa[c] = a0 + s->st * (float)(2 * (c / 4) - 3) / 4.0f;
                pb[c] = b0 + s->st * (float)(2 * (c % 4) - 3) / 4.0f;
            }
        }
    }
    lg_fit g = err_at(s, b, f16_param(r / s->hi), f16_param(mn));
    keep_better(&best, &g);
    return best;
}

/* Copies block x (importance h, NULL without) into `b` with the error weights of
 * ggml_weights.h and the weighted sums. */
static void prepare(const float *x, const float *h, lg_block *b) {
    memcpy(b->x, x, sizeof b->x);
    const int weighted = aq_ggml_weights(AQ_GGML_W_LEGACY, x, h, LG_QK, b->w);
    b->sw = 0.0f;
    b->sx = 0.0f;
    for (int j = 0; j < LG_QK; ++j) {
        b->w[j] = weighted ? b->w[j] : 1.0f;
        b->sw = b->sw + b->w[j];
        b->sx = b->sx + b->w[j] * b->x[j];
    }
}

/* The code rule of the encoder: the nearest code of x for the stored (d, m), plus the
 * offset of the stored byte / nibble. */
static uint8_t code_of(const lg_spec *s, float d, float m, float x) {
    const float lo = s->asym ? 0.0f : s->lo;
    const float id = (s->asym ? d > 0.0f : d != 0.0f) ? 1.0f / d : 0.0f;
    return (uint8_t)(int)(lg_code((x - m) * id, lo, s->hi) + s->off);
}

static void encode(aq_ggml_legacy_fmt fmt, const lg_spec *s, const lg_block *b, lg_fit p,
                   unsigned char *out) {
    uint8_t q[LG_QK];
    for (int j = 0; j < LG_QK; ++j)
        q[j] = code_of(s, p.d, p.m, b->x[j]);
    lg_pack_block(fmt, aq_f32_to_f16(p.d), aq_f32_to_f16(p.m), q, out);
}

void lg_fit_block(aq_ggml_legacy_fmt fmt, const lg_kernels *k, const float *x, const float *h,
                  float *d, float *m) {
    const lg_spec *s = &k_spec[fmt];
    lg_block b;
    prepare(x, h, &b);
    const lg_fit p = s->asym ? search_asym(s, k, &b) : search_sym(fmt, s, k, &b);
    *d = p.d;
    *m = p.m;
}

uint8_t lg_code_at(aq_ggml_legacy_fmt fmt, float d, float m, float x, float *y) {
    const lg_spec *s = &k_spec[fmt];
    const uint8_t q = code_of(s, d, m, x);
    const float v = (float)((int)q - (int)s->off) * d; /* the decode's product ... */
    *y = s->asym ? v + m : v;                          /* ... and sum, rounded apart */
    return q;
}

int lg_quantize_row(aq_ggml_legacy_fmt fmt, const lg_kernels *k, const float *x, const float *h,
                    int64_t n, void *blocks) {
    if ((unsigned)fmt >= AQ_GGML_LEGACY_COUNT || n < 0 || n % LG_QK != 0) return -1;
    const lg_spec *s = &k_spec[fmt];
    unsigned char *out = blocks;
    for (int64_t i = 0; i < n / LG_QK; ++i) {
        lg_block b;
        prepare(x + i * LG_QK, h ? h + i * LG_QK : NULL, &b);
        const lg_fit p = s->asym ? search_asym(s, k, &b) : search_sym(fmt, s, k, &b);
        encode(fmt, s, &b, p, out + i * s->block_bytes);
    }
    return 0;
}
