/*
 * aq-mpi — AVX-512 (F, BW, VL, DQ) twins of the scalar kernels of src/quant (quant_impl.h).
 *
 * Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mf16c -ffp-contract=off
 * (CMakeLists.txt); only called after aq_kernels_select() checked the CPU.  Every kernel performs
 * the scalar reference's IEEE operations in the same order per element (no FMA contraction, true
 * division for the codes) and accumulates doubles in the AQ_LANES lane order, so its results
 * are bit-identical to the reference.  Tails shorter than a vector go to the reference.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "quant_impl.h"

/* Rounding immediate of the f16 conversions: a macro, not a variable, because the
 * intrinsics need a compile-time constant even at -O0 (the sanitizer build). */
#define AQ_RM (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

#define MAGIC 12582912.0f /* 1.5 * 2^23, aq_code_of() */

/* aq_code_of() on 16 lanes, as floats. */
static inline __m512 code_of16(__m512 v, __m512 qmax) {
    const __m512 magic = _mm512_set1_ps(MAGIC);
    v = _mm512_max_ps(v, _mm512_setzero_ps()); /* v > 0 ? v : 0, NaN -> 0 */
    v = _mm512_min_ps(v, qmax);                /* v < qmax ? v : qmax */
    return _mm512_sub_ps(_mm512_add_ps(v, magic), magic);
}

/* The same with one rounding instruction: after the clamp v is in [0, qmax], where
 * round-to-nearest-even to an integer is exactly what the magic addition does. */
static inline __m512 round16(__m512 v, __m512 qmax) {
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), qmax);
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/*-------------------------------- conversion --------------------------------*/

static void convert(aq_dtype dt, const void *src, size_t n, float *dst) {
    const unsigned char *s = src;
    size_t i = 0;
    if (dt == AQ_DT_BF16) {
        for (; i + 16 <= n; i += 16) {
            __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(s + 2 * i)));
            _mm512_storeu_si512(dst + i, _mm512_slli_epi32(u, 16));
        }
    } else if (dt == AQ_DT_F16) {
        const __m512i m7fff = _mm512_set1_epi32(0x7fff), bias = _mm512_set1_epi32(112 << 23);
        const __m512i sgn = _mm512_set1_epi32(0x8000), einf = _mm512_set1_epi32(0x7c00);
        const __m512i m3ff = _mm512_set1_epi32(0x3ff), inf32 = _mm512_set1_epi32(0x7f800000);
        const __m512 tiny = _mm512_set1_ps(0x1p-24f);
        for (; i + 16 <= n; i += 16) {
            __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(s + 2 * i)));
            __m512i sign = _mm512_slli_epi32(_mm512_and_si512(h, sgn), 16);
            __m512i mag = _mm512_slli_epi32(_mm512_and_si512(h, m7fff), 13);
            __m512i e = _mm512_and_si512(h, einf);
            __m512i normal = _mm512_add_epi32(mag, bias);
            __m512i special = _mm512_or_si512(mag, inf32);
            __m512i sub = _mm512_castps_si512(
                _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(h, m3ff)), tiny));
            __m512i r = normal;
            r = _mm512_mask_mov_epi32(r, _mm512_cmpeq_epi32_mask(e, einf), special);
            r = _mm512_mask_mov_epi32(r, _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()), sub);
            _mm512_storeu_si512(dst + i, _mm512_or_si512(r, sign));
        }
    } else {
        memcpy(dst, s, n * 4);
        return;
    }
    if (i < n) aq_convert_to_f32(dt, s + i * 2, n - i, dst + i);
}

/*-------------------------------- min / max --------------------------------*/

static void minmax(const float *x, int n, float *lo, float *hi) {
    if (n < 16) {
        aq_minmax_f32(x, n, lo, hi);
        return;
    }
    __m512 a = _mm512_loadu_ps(x), b = a;
    int j = 16;
    for (; j + 16 <= n; j += 16) {
        __m512 v = _mm512_loadu_ps(x + j);
        a = _mm512_min_ps(a, v);
        b = _mm512_max_ps(b, v);
    }
    if (j < n) { /* overlapping last vector: the set of values is the same */
        __m512 v = _mm512_loadu_ps(x + n - 16);
        a = _mm512_min_ps(a, v);
        b = _mm512_max_ps(b, v);
    }
    /* Finite inputs: min/max as a set; only the sign of zero could depend on the order,
     * and + 0.0f removes it exactly as the reference does. */
    *lo = _mm512_reduce_min_ps(a) + 0.0f;
    *hi = _mm512_reduce_max_ps(b) + 0.0f;
}

/*-------------------------------- encode + pack --------------------------------*/

/* 16 codes as bytes. */
static inline __m128i codes16(const float *x, __m512 vmin, __m512 vscale, __m512 qmax) {
    __m512 v = _mm512_div_ps(_mm512_sub_ps(_mm512_loadu_ps(x), vmin), vscale);
    return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(code_of16(v, qmax)));
}

/* 16 byte codes (0..7) -> 6 bytes at 3 bits each, code i at bit 3 i. */
static inline void store_packed16_3(__m128i b, uint8_t *out) {
    __m128i p = _mm_maddubs_epi16(b, _mm_set1_epi16(0x0801)); /* b0 + 8 b1: 6 bits */
    p = _mm_madd_epi16(p, _mm_set1_epi32(0x00400001));        /* + 64 (...): 12 bits */
    p = _mm_or_si128(p, _mm_srli_epi64(p, 20));               /* 24 bits per 64-bit half */
    p = _mm_shuffle_epi8(p,
                         _mm_setr_epi8(0, 1, 2, 8, 9, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
    uint8_t t[16];
    _mm_storeu_si128((__m128i *)t, p);
    memcpy(out, t, 6);
}

/* 16 byte codes -> 4 (2-bit), 8 (4-bit) or 16 (8-bit) packed bytes at out. */
static inline void store_packed16(__m128i b, int bits, uint8_t *out) {
    if (bits == 8) {
        _mm_storeu_si128((__m128i *)out, b);
    } else if (bits == 3) {
        store_packed16_3(b, out);
    } else if (bits == 4) {
        __m128i p = _mm_maddubs_epi16(b, _mm_set1_epi16(0x1001)); /* b0 + 16 b1 */
        _mm_storel_epi64((__m128i *)out, _mm_packus_epi16(p, p));
    } else {
        __m128i p = _mm_maddubs_epi16(b, _mm_set1_epi16(0x0401)); /* b0 + 4 b1 */
        p = _mm_madd_epi16(p, _mm_set1_epi32(0x00100001));        /* + 16 (b2 + 4 b3) */
        p = _mm_packus_epi32(p, p);
        p = _mm_packus_epi16(p, p);
        int32_t w = _mm_cvtsi128_si32(p);
        memcpy(out, &w, 4);
    }
}

static void encode_pack(const float *x, int n, int bits, float scale, float min, uint8_t *packed) {
    if (scale == 0.0f) {
        memset(packed, 0, aq_packed_row_bytes(n, bits));
        return;
    }
    const __m512 vmin = _mm512_set1_ps(min), vs = _mm512_set1_ps(scale);
    const __m512 qmax = _mm512_set1_ps((float)aq_qmax(bits));
    int j = 0;
    for (; j + 16 <= n; j += 16)
        store_packed16(codes16(x + j, vmin, vs, qmax), bits, packed + j * bits / 8);
    if (j < n) aq_encode_pack_ref(x + j, n - j, bits, scale, min, packed + j * bits / 8);
}

/*-------------------------------- dequantize --------------------------------*/

static inline __m512i unpack16(const uint8_t *p, int bits) {
    if (bits == 8) return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
    if (bits == 4) {
        __m128i b = _mm_loadl_epi64((const __m128i *)p);
        __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
        return _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));
    }
    int32_t w;
    memcpy(&w, p, 4);
    const __m512i sh = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(w), sh), _mm512_set1_epi32(3));
}

static void dequant(const uint8_t *packed, int n, int bits, float scale, float min, float *out) {
    if (bits != 2 && bits != 4 && bits != 8) { /* 3 bits (dq): the reference */
        aq_dequant_ref(packed, n, bits, scale, min, out);
        return;
    }
    const __m512 vmin = _mm512_set1_ps(min), vs = _mm512_set1_ps(scale);
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 q = _mm512_cvtepi32_ps(unpack16(packed + j * bits / 8, bits));
        _mm512_storeu_ps(out + j, _mm512_add_ps(vmin, _mm512_mul_ps(q, vs)));
    }
    if (j < n) aq_dequant_ref(packed + j * bits / 8, n - j, bits, scale, min, out + j);
}

/*-------------------------------- error sums --------------------------------*/

#define ACC(i, t) acc[i] = _mm512_add_pd(acc[i], t)

static void err_sums(const float *w, const float *wh, const float *h, int64_t n,
                     double lanes[AQ_ES_N][AQ_LANES]) {
    __m512d acc[AQ_ES_N];
    for (int i = 0; i < AQ_ES_N; ++i)
        acc[i] = _mm512_loadu_pd(lanes[i]);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512d a = _mm512_cvtps_pd(_mm256_loadu_ps(w + j));
        __m512d b = _mm512_cvtps_pd(_mm256_loadu_ps(wh + j));
        __m512d d = _mm512_sub_pd(a, b), dd = _mm512_mul_pd(d, d), aa = _mm512_mul_pd(a, a);
        ACC(AQ_ES_E2, dd);
        ACC(AQ_ES_W2, aa);
        ACC(AQ_ES_WV, _mm512_mul_pd(a, b));
        ACC(AQ_ES_V2, _mm512_mul_pd(b, b));
        if (h) {
            __m512d hj = _mm512_cvtps_pd(_mm256_loadu_ps(h + j));
            ACC(AQ_ES_HE2, _mm512_mul_pd(_mm512_mul_pd(hj, d), d));
            ACC(AQ_ES_HW2, _mm512_mul_pd(_mm512_mul_pd(hj, a), a));
        } else { /* (1.0 * d) * d == d * d exactly */
            ACC(AQ_ES_HE2, dd);
            ACC(AQ_ES_HW2, aa);
        }
    }
    for (int i = 0; i < AQ_ES_N; ++i)
        _mm512_storeu_pd(lanes[i], acc[i]);
    if (j < n) aq_err_sums_ref(w + j, wh + j, h ? h + j : NULL, n - j, lanes);
}

/*-------------------------------- group wsse --------------------------------*/

static double group_wsse(const float *x, const float *h, int n, int bits, float scale, float min) {
    const __m512 vmin = _mm512_set1_ps(min), vs = _mm512_set1_ps(scale);
    const __m512 qmax = _mm512_set1_ps((float)aq_qmax(bits));
    __m512d acc = _mm512_setzero_pd();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 xv = _mm512_loadu_ps(x + j);
        __m512 q = scale == 0.0f ? _mm512_setzero_ps()
                                 : code_of16(_mm512_div_ps(_mm512_sub_ps(xv, vmin), vs), qmax);
        __m512 xh = _mm512_add_ps(vmin, _mm512_mul_ps(q, vs));
        __m512 df[2] = {xv, xh};
        for (int half = 0; half < 2; ++half) {
            __m256 xa = half ? _mm512_extractf32x8_ps(df[0], 1) : _mm512_castps512_ps256(df[0]);
            __m256 xb = half ? _mm512_extractf32x8_ps(df[1], 1) : _mm512_castps512_ps256(df[1]);
            __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(xa), _mm512_cvtps_pd(xb));
            if (h)
                d = _mm512_mul_pd(
                    _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(h + j + 8 * half)), d), d);
            else
                d = _mm512_mul_pd(d, d);
            acc = _mm512_add_pd(acc, d);
        }
    }
    double lanes[AQ_LANES];
    _mm512_storeu_pd(lanes, acc);
    if (j < n) { /* the reference's terms, lanes continue at j % AQ_LANES == 0 */
        uint8_t q[AQ_MAX_GROUP];
        for (int j0 = j; j0 < n; j0 += AQ_MAX_GROUP) {
            int m = n - j0 < AQ_MAX_GROUP ? n - j0 : AQ_MAX_GROUP;
            aq_encode_group(x + j0, m, bits, scale, min, q);
            for (int k = 0; k < m; ++k) {
                float xh = min + (float)q[k] * scale;
                double dlt = (double)x[j0 + k] - (double)xh;
                lanes[(j0 + k) % AQ_LANES] += (h ? (double)h[j0 + k] : 1.0) * dlt * dlt;
            }
        }
    }
    return aq_lanes_sum(lanes);
}

/*-------------------------------- mse candidates --------------------------------*/

/* aq_round_param() of two values with the F16C instructions (round to nearest even,
 * overflow to Inf, subnormals exact: the same bits as the reference's conversion). */
static void round2(float *s, float *m, aq_scale_dtype d) {
    if (d != AQ_SCALE_F16) return;
    const __m128 v = _mm_setr_ps(*s, *m, 0.0f, 0.0f);
    const __m128 r = _mm_cvtph_ps(_mm_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    *s = _mm_cvtss_f32(r);
    *m = _mm_cvtss_f32(_mm_shuffle_ps(r, r, 1));
}

static void wconst(const float *x, const float *h, int n, aq_wconst *out) {
    __m512d sh = _mm512_setzero_pd(), shx = sh, shxx = sh;
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m512d xj = _mm512_cvtps_pd(_mm256_loadu_ps(x + j));
        const __m512d hj = h ? _mm512_cvtps_pd(_mm256_loadu_ps(h + j)) : _mm512_set1_pd(1.0);
        const __m512d hx = _mm512_mul_pd(hj, xj);
        sh = _mm512_add_pd(sh, hj);
        shx = _mm512_add_pd(shx, hx);
        shxx = _mm512_add_pd(shxx, _mm512_mul_pd(hx, xj));
    }
    double a[AQ_LANES], b[AQ_LANES], c[AQ_LANES];
    _mm512_storeu_pd(a, sh);
    _mm512_storeu_pd(b, shx);
    _mm512_storeu_pd(c, shxx);
    for (; j < n; ++j) {
        const double hj = h ? h[j] : 1.0, xj = x[j];
        a[j % AQ_LANES] += hj;
        b[j % AQ_LANES] += hj * xj;
        c[j % AQ_LANES] += hj * xj * xj;
    }
    *out = (aq_wconst){aq_lanes_sum(a), aq_lanes_sum(b), aq_lanes_sum(c)};
}

/* aq_mse_fit() on 8 candidates in double lanes: the same operations in the same order;
 * the guarded branch is computed everywhere and selected, which changes no value. */
static inline void fit8(const aq_wconst *c, __m256 lo, __m256 rinv, __m256 fshl, __m256 fshll,
                        __m256 fshxl, double *os, double *om, double *oe) {
    const __m512d sh = _mm512_set1_pd(c->sh), shx = _mm512_set1_pd(c->shx);
    const __m512d shxx = _mm512_set1_pd(c->shxx), two = _mm512_set1_pd(2.0);
    const __m512d shl = _mm512_cvtps_pd(fshl), shll = _mm512_cvtps_pd(fshll);
    const __m512d shxl = _mm512_cvtps_pd(fshxl);
    __m512d s0 = _mm512_cvtps_pd(rinv);
    __m512d m0 = _mm512_cvtps_pd(lo);
    const __m512d det = _mm512_sub_pd(_mm512_mul_pd(sh, shll), _mm512_mul_pd(shl, shl));
    const __m512d thr = _mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(1e-9), sh), shll);
    const __m512d rdet = _mm512_div_pd(_mm512_set1_pd(1.0), det);
    const __m512d s =
        _mm512_mul_pd(_mm512_sub_pd(_mm512_mul_pd(sh, shxl), _mm512_mul_pd(shl, shx)), rdet);
    const __m512d m =
        _mm512_mul_pd(_mm512_sub_pd(_mm512_mul_pd(shll, shx), _mm512_mul_pd(shl, shxl)), rdet);
    __mmask8 ok = _mm512_cmp_pd_mask(det, thr, _CMP_GT_OQ) &
                  _mm512_cmp_pd_mask(s, _mm512_setzero_pd(), _CMP_GT_OQ) &
                  _mm512_cmp_pd_mask(s, _mm512_set1_pd((double)INFINITY), _CMP_LT_OQ);
    s0 = _mm512_mask_mov_pd(s0, ok, s);
    m0 = _mm512_mask_mov_pd(m0, ok, m);
    const __m512d m2 = _mm512_mul_pd(two, m0);
    __m512d e = _mm512_sub_pd(shxx, _mm512_mul_pd(m2, shx));
    e = _mm512_sub_pd(e, _mm512_mul_pd(_mm512_mul_pd(two, s0), shxl));
    e = _mm512_add_pd(e, _mm512_mul_pd(_mm512_mul_pd(m0, m0), sh));
    e = _mm512_add_pd(e, _mm512_mul_pd(_mm512_mul_pd(m2, s0), shl));
    e = _mm512_add_pd(e, _mm512_mul_pd(_mm512_mul_pd(s0, s0), shll));
    e = _mm512_max_pd(e, _mm512_setzero_pd()); /* e > 0 ? e : 0 */
    _mm512_storeu_pd(os, s0);
    _mm512_storeu_pd(om, m0);
    _mm512_storeu_pd(oe, e);
}

static inline void fit16(const aq_wconst *c, __m512 lo, __m512 inv, __m512 shl, __m512 shll,
                         __m512 shxl, int live, aq_fit *fit) {
    double s[16], m[16], e[16];
    const __m512 rinv = _mm512_div_ps(_mm512_set1_ps(1.0f), inv); /* 1.0f / inv */
    fit8(c, _mm512_castps512_ps256(lo), _mm512_castps512_ps256(rinv), _mm512_castps512_ps256(shl),
         _mm512_castps512_ps256(shll), _mm512_castps512_ps256(shxl), s, m, e);
    if (live > 8)
        fit8(c, _mm512_extractf32x8_ps(lo, 1), _mm512_extractf32x8_ps(rinv, 1),
             _mm512_extractf32x8_ps(shl, 1), _mm512_extractf32x8_ps(shll, 1),
             _mm512_extractf32x8_ps(shxl, 1), s + 8, m + 8, e + 8);
    for (int i = 0; i < live; ++i)
        fit[i] = (aq_fit){s[i], m[i], e[i]};
}

/* 16 candidates per vector, elements in order: each lane is the reference's loop. */
static void mse_eval(const float *x, const float *h, int n, float qmaxf, const aq_wconst *c,
                     const float *lo, const float *inv, int k, aq_fit *fit) {
    const __m512 qmax = _mm512_set1_ps(qmaxf);
    for (int i0 = 0; i0 < k; i0 += 16) {
        const __mmask16 live =
            k - i0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i0)) - 1u);
        const __m512 vlo = _mm512_maskz_loadu_ps(live, lo + i0);
        const __m512 vinv = _mm512_maskz_loadu_ps(live, inv + i0);
        __m512 shl = _mm512_setzero_ps(), shll = shl, shxl = shl;
        if (h) {
            for (int j = 0; j < n; ++j) {
                const __m512 xj = _mm512_set1_ps(x[j]), hj = _mm512_set1_ps(h[j]);
                const __m512 l = round16(_mm512_mul_ps(_mm512_sub_ps(xj, vlo), vinv), qmax);
                const __m512 hl = _mm512_mul_ps(hj, l);
                shl = _mm512_add_ps(shl, hl);
                shll = _mm512_add_ps(shll, _mm512_mul_ps(hl, l));
                shxl = _mm512_add_ps(shxl, _mm512_mul_ps(hl, xj));
            }
        } else { /* h = 1: hl = l exactly */
            for (int j = 0; j < n; ++j) {
                const __m512 xj = _mm512_set1_ps(x[j]);
                const __m512 l = round16(_mm512_mul_ps(_mm512_sub_ps(xj, vlo), vinv), qmax);
                shl = _mm512_add_ps(shl, l);
                shll = _mm512_add_ps(shll, _mm512_mul_ps(l, l));
                shxl = _mm512_add_ps(shxl, _mm512_mul_ps(l, xj));
            }
        }
        fit16(c, vlo, vinv, shl, shll, shxl, k - i0 < 16 ? k - i0 : 16, fit + i0);
    }
}

/*-------------------------------- dq search (lane = group) --------------------------------*/

/* The dq kernels of quant_impl.h on 16 groups at a time: the batch is transposed once
 * (lane g holds group g, one vector per weight index j), so every per-group loop of the
 * reference runs in its own lane in the same order; doubles are split into two halves of 8
 * lanes.  Fewer than 16 remaining groups go to the reference. */

/* Two halves of 16 double lanes. */
typedef struct {
    __m512d a, b; /* lanes 0-7, 8-15 */
} dq_d16;

static inline dq_d16 d16_of(__m512 v) {
    return (dq_d16){_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                    _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1))};
}

static inline __m512 f16_of(dq_d16 v) { /* (float) of each lane */
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(v.a)), _mm512_cvtpd_ps(v.b),
                              1);
}

static inline dq_d16 d16_load(const double *p) { /* 16 doubles */
    return (dq_d16){_mm512_loadu_pd(p), _mm512_loadu_pd(p + 8)};
}

static inline __mmask16 mask16(__mmask8 a, __mmask8 b) {
    return (__mmask16)((unsigned)a | (unsigned)b << 8);
}

/* Transposed copy: t[16 j + g] = x[g G + j]. */
static void dq_transpose(const float *x, int G, float *t) {
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(G));
    for (int j = 0; j < G; ++j)
        _mm512_storeu_ps(t + 16 * j, _mm512_i32gather_ps(idx, x + j, 4));
}

typedef struct {
    float x[AQ_MAX_GROUP * 16], h[AQ_MAX_GROUP * 16];
    const float *hp; /* h or NULL */
    int G;
} dq_tbatch;

static void dq_load_batch(const aq_dq_batch *b, int g0, dq_tbatch *t) {
    const size_t off = (size_t)g0 * (size_t)b->G;
    t->G = b->G;
    dq_transpose(b->x + off, b->G, t->x);
    t->hp = NULL;
    if (b->h) {
        dq_transpose(b->h + off, b->G, t->h);
        t->hp = t->h;
    }
}

/* Code sums of aq_code_of((x - lo) * inv), per lane. */
static inline void dq_sums16(const dq_tbatch *t, __m512 lo, __m512 inv, __m512 qmax, __m512 *shl,
                             __m512 *shll, __m512 *shxl) {
    __m512 a = _mm512_setzero_ps(), b = a, c = a;
    if (t->hp) {
        for (int j = 0; j < t->G; ++j) {
            const __m512 x = _mm512_loadu_ps(t->x + 16 * j);
            const __m512 l = round16(_mm512_mul_ps(_mm512_sub_ps(x, lo), inv), qmax);
            const __m512 hl = _mm512_mul_ps(_mm512_loadu_ps(t->h + 16 * j), l);
            a = _mm512_add_ps(a, hl);
            b = _mm512_add_ps(b, _mm512_mul_ps(hl, l));
            c = _mm512_add_ps(c, _mm512_mul_ps(hl, x));
        }
    } else {
        for (int j = 0; j < t->G; ++j) {
            const __m512 x = _mm512_loadu_ps(t->x + 16 * j);
            const __m512 l = round16(_mm512_mul_ps(_mm512_sub_ps(x, lo), inv), qmax);
            a = _mm512_add_ps(a, l);
            b = _mm512_add_ps(b, _mm512_mul_ps(l, l));
            c = _mm512_add_ps(c, _mm512_mul_ps(l, x));
        }
    }
    *shl = a;
    *shll = b;
    *shxl = c;
}

/* Per lane statistics (group_stat of dq.c). */
typedef struct {
    dq_d16 sh, shx, shxx;
    __m512 lo, hi;
} dq_stat16;

static void dq_stats16(const dq_tbatch *t, dq_stat16 *s) {
    __m512 lo = _mm512_loadu_ps(t->x), hi = lo;
    __m512d sh[2], shx[2], shxx[2];
    for (int i = 0; i < 2; ++i)
        sh[i] = shx[i] = shxx[i] = _mm512_setzero_pd();
    const __m512d one = _mm512_set1_pd(1.0);
    for (int j = 0; j < t->G; ++j) {
        const __m512 x = _mm512_loadu_ps(t->x + 16 * j);
        lo = _mm512_min_ps(x, lo); /* x < lo ? x : lo */
        hi = _mm512_max_ps(x, hi); /* x > hi ? x : hi */
        const dq_d16 xd = d16_of(x);
        const dq_d16 hd = t->hp ? d16_of(_mm512_loadu_ps(t->h + 16 * j)) : (dq_d16){one, one};
        const __m512d xs[2] = {xd.a, xd.b}, hs[2] = {hd.a, hd.b};
        for (int i = 0; i < 2; ++i) {
            const __m512d hx = t->hp ? _mm512_mul_pd(hs[i], xs[i]) : xs[i]; /* 1.0 * x == x */
            sh[i] = _mm512_add_pd(sh[i], hs[i]);
            shx[i] = _mm512_add_pd(shx[i], hx);
            shxx[i] = _mm512_add_pd(shxx[i], _mm512_mul_pd(hx, xs[i]));
        }
    }
    s->lo = _mm512_add_ps(lo, _mm512_setzero_ps());
    s->hi = _mm512_add_ps(hi, _mm512_setzero_ps());
    s->sh = (dq_d16){sh[0], sh[1]};
    s->shx = (dq_d16){shx[0], shx[1]};
    s->shxx = (dq_d16){shxx[0], shxx[1]};
}

/* aq_dq_cerr() on 8 lanes. */
static inline __m512d dq_cerr8(__m512d sh, __m512d shx, __m512d shxx, __m512d shl, __m512d shll,
                               __m512d shxl, __m512d s, __m512d m) {
    const __m512d two = _mm512_set1_pd(2.0), m2 = _mm512_mul_pd(two, m);
    __m512d e = _mm512_sub_pd(shxx, _mm512_mul_pd(m2, shx));
    e = _mm512_sub_pd(e, _mm512_mul_pd(_mm512_mul_pd(two, s), shxl));
    e = _mm512_add_pd(e, _mm512_mul_pd(_mm512_mul_pd(m, m), sh));
    e = _mm512_add_pd(e, _mm512_mul_pd(_mm512_mul_pd(m2, s), shl));
    e = _mm512_add_pd(e, _mm512_mul_pd(_mm512_mul_pd(s, s), shll));
    return _mm512_max_pd(e, _mm512_setzero_pd()); /* e > 0 ? e : 0 */
}

/* aq_mse_fit() on 8 lanes with per-lane sums; s0 = (double)(1.0f / inv), m0 = lo. */
static inline void dq_fit8(__m512d sh, __m512d shx, __m512d shxx, __m512d shl, __m512d shll,
                           __m512d shxl, __m512d *s0, __m512d *m0, __m512d *err) {
    const __m512d det = _mm512_sub_pd(_mm512_mul_pd(sh, shll), _mm512_mul_pd(shl, shl));
    const __m512d thr = _mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(1e-9), sh), shll);
    const __m512d rdet = _mm512_div_pd(_mm512_set1_pd(1.0), det);
    const __m512d s =
        _mm512_mul_pd(_mm512_sub_pd(_mm512_mul_pd(sh, shxl), _mm512_mul_pd(shl, shx)), rdet);
    const __m512d m =
        _mm512_mul_pd(_mm512_sub_pd(_mm512_mul_pd(shll, shx), _mm512_mul_pd(shl, shxl)), rdet);
    const __mmask8 ok = _mm512_cmp_pd_mask(det, thr, _CMP_GT_OQ) &
                        _mm512_cmp_pd_mask(s, _mm512_setzero_pd(), _CMP_GT_OQ) &
                        _mm512_cmp_pd_mask(s, _mm512_set1_pd((double)INFINITY), _CMP_LT_OQ);
    *s0 = _mm512_mask_mov_pd(*s0, ok, s);
    *m0 = _mm512_mask_mov_pd(*m0, ok, m);
    *err = dq_cerr8(sh, shx, shxx, shl, shll, shxl, *s0, *m0);
}

/* Best candidate so far, per lane. */
typedef struct {
    dq_d16 s, m, err;
    __m512 shl, shll, shxl;
} dq_best16;

/* Evaluates candidate (lo, inv) in every lane; takes it where `all` or strictly better. */
static void dq_cand16(const dq_tbatch *t, const dq_stat16 *st, __m512 lo, __m512 inv, __m512 qmax,
                      int all, dq_best16 *b) {
    __m512 shl, shll, shxl;
    dq_sums16(t, lo, inv, qmax, &shl, &shll, &shxl);
    const dq_d16 fs = d16_of(_mm512_div_ps(_mm512_set1_ps(1.0f), inv)), fm = d16_of(lo);
    const dq_d16 l1 = d16_of(shl), l2 = d16_of(shll), l3 = d16_of(shxl);
    __m512d s[2] = {fs.a, fs.b}, m[2] = {fm.a, fm.b}, e[2];
    dq_fit8(st->sh.a, st->shx.a, st->shxx.a, l1.a, l2.a, l3.a, &s[0], &m[0], &e[0]);
    dq_fit8(st->sh.b, st->shx.b, st->shxx.b, l1.b, l2.b, l3.b, &s[1], &m[1], &e[1]);
    const __mmask8 ta = all ? 0xff : _mm512_cmp_pd_mask(e[0], b->err.a, _CMP_LT_OQ);
    const __mmask8 tb = all ? 0xff : _mm512_cmp_pd_mask(e[1], b->err.b, _CMP_LT_OQ);
    b->s = (dq_d16){_mm512_mask_mov_pd(b->s.a, ta, s[0]), _mm512_mask_mov_pd(b->s.b, tb, s[1])};
    b->m = (dq_d16){_mm512_mask_mov_pd(b->m.a, ta, m[0]), _mm512_mask_mov_pd(b->m.b, tb, m[1])};
    b->err =
        (dq_d16){_mm512_mask_mov_pd(b->err.a, ta, e[0]), _mm512_mask_mov_pd(b->err.b, tb, e[1])};
    const __mmask16 t16 = mask16(ta, tb);
    b->shl = _mm512_mask_mov_ps(b->shl, t16, shl);
    b->shll = _mm512_mask_mov_ps(b->shll, t16, shll);
    b->shxl = _mm512_mask_mov_ps(b->shxl, t16, shxl);
}

static void dq_store_stat(const dq_stat16 *s, aq_dq_gstat *out) {
    double sh[16], shx[16], shxx[16];
    float lo[16], hi[16];
    _mm512_storeu_pd(sh, s->sh.a);
    _mm512_storeu_pd(sh + 8, s->sh.b);
    _mm512_storeu_pd(shx, s->shx.a);
    _mm512_storeu_pd(shx + 8, s->shx.b);
    _mm512_storeu_pd(shxx, s->shxx.a);
    _mm512_storeu_pd(shxx + 8, s->shxx.b);
    _mm512_storeu_ps(lo, s->lo);
    _mm512_storeu_ps(hi, s->hi);
    for (int g = 0; g < 16; ++g)
        out[g] = (aq_dq_gstat){sh[g], shx[g], shxx[g], lo[g], hi[g]};
}

static void dq_store_sums(__m512 shl, __m512 shll, __m512 shxl, aq_dq_csums *out) {
    float a[16], b[16], c[16];
    _mm512_storeu_ps(a, shl);
    _mm512_storeu_ps(b, shll);
    _mm512_storeu_ps(c, shxl);
    for (int g = 0; g < 16; ++g)
        out[g] = (aq_dq_csums){a[g], b[g], c[g]};
}

static void dq_targets16(const dq_tbatch *t, float qmaxf, float step, aq_dq_gstat *st, float *s,
                         float *m, aq_dq_csums *cs) {
    const __m512 qmax = _mm512_set1_ps(qmaxf);
    dq_stat16 g;
    dq_stats16(t, &g);
    const __mmask16 deg = ~mask16(_mm512_cmp_pd_mask(g.sh.a, _mm512_setzero_pd(), _CMP_GT_OQ),
                                  _mm512_cmp_pd_mask(g.sh.b, _mm512_setzero_pd(), _CMP_GT_OQ)) |
                          ~_mm512_cmp_ps_mask(g.hi, g.lo, _CMP_GT_OQ);
    const dq_d16 q = {_mm512_div_pd(g.shx.a, g.sh.a), _mm512_div_pd(g.shx.b, g.sh.b)};
    __m512 mu = f16_of(q);
    mu = _mm512_mask_mov_ps(_mm512_mask_mov_ps(mu, _mm512_cmp_ps_mask(mu, g.hi, _CMP_GT_OQ), g.hi),
                            _mm512_cmp_ps_mask(mu, g.lo, _CMP_LT_OQ), g.lo);
    const __m512 pull = _mm512_set1_ps(1.0f - step), one = _mm512_set1_ps(1.0f);
    const __m512 dlo = _mm512_sub_ps(g.lo, mu), dhi = _mm512_sub_ps(g.hi, mu);
    dq_best16 b;
    memset(&b, 0, sizeof b);
    for (int c = 0; c < 4; ++c) {
        const __m512 fa = (c & 2) ? pull : one, fb = (c & 1) ? pull : one;
        const __m512 clo = _mm512_add_ps(mu, _mm512_mul_ps(fa, dlo));
        const __m512 chi = _mm512_add_ps(mu, _mm512_mul_ps(fb, dhi));
        dq_cand16(t, &g, clo, _mm512_div_ps(qmax, _mm512_sub_ps(chi, clo)), qmax, c == 0, &b);
    }
    const __m512 llo = f16_of(b.m);
    const dq_d16 ri = {_mm512_div_pd(_mm512_set1_pd(1.0), b.s.a),
                       _mm512_div_pd(_mm512_set1_pd(1.0), b.s.b)};
    dq_cand16(t, &g, llo, f16_of(ri), qmax, 0, &b);
    const __m512 zero = _mm512_setzero_ps();
    _mm512_storeu_ps(s, _mm512_mask_mov_ps(f16_of(b.s), deg, zero));
    _mm512_storeu_ps(m, _mm512_mask_mov_ps(f16_of(b.m), deg, g.lo));
    dq_store_stat(&g, st);
    dq_store_sums(_mm512_mask_mov_ps(b.shl, deg, zero), _mm512_mask_mov_ps(b.shll, deg, zero),
                  _mm512_mask_mov_ps(b.shxl, deg, zero), cs);
}

static void dq_targets(const aq_dq_batch *b, float step, aq_dq_gstat *st, float *s, float *m,
                       aq_dq_csums *cs) {
    if (b->G > AQ_MAX_GROUP) {
        aq_dq_targets_ref(b, step, st, s, m, cs);
        return;
    }
    dq_tbatch t;
    int g = 0;
    for (; g + 16 <= b->ng; g += 16) {
        dq_load_batch(b, g, &t);
        dq_targets16(&t, b->qmaxf, step, st + g, s + g, m + g, cs + g);
    }
    if (g < b->ng) {
        const aq_dq_batch r = {b->x + (size_t)g * (size_t)b->G,
                               b->h ? b->h + (size_t)g * (size_t)b->G : NULL, b->G, b->ng - g,
                               b->qmaxf};
        aq_dq_targets_ref(&r, step, st + g, s + g, m + g, cs + g);
    }
}

/* Per-lane loads of the pick inputs (AoS arrays of the reference). */
static void dq_load_stat(const aq_dq_gstat *st, dq_stat16 *g) {
    double sh[16], shx[16], shxx[16];
    for (int i = 0; i < 16; ++i) {
        sh[i] = st[i].sh;
        shx[i] = st[i].shx;
        shxx[i] = st[i].shxx;
    }
    g->sh = d16_load(sh);
    g->shx = d16_load(shx);
    g->shxx = d16_load(shxx);
}

static void dq_load_sums(const aq_dq_csums *cs, dq_d16 *shl, dq_d16 *shll, dq_d16 *shxl) {
    float a[16], b[16], c[16];
    for (int i = 0; i < 16; ++i) {
        a[i] = cs[i].shl;
        b[i] = cs[i].shll;
        c[i] = cs[i].shxl;
    }
    *shl = d16_of(_mm512_loadu_ps(a));
    *shll = d16_of(_mm512_loadu_ps(b));
    *shxl = d16_of(_mm512_loadu_ps(c));
}

/* aq_dq_cerr() on 16 lanes for per-lane float scale/min (widened) and double sums. */
static inline void dq_cerr16(const dq_stat16 *g, dq_d16 shl, dq_d16 shll, dq_d16 shxl, __m512 s,
                             __m512 m, dq_d16 *e) {
    const dq_d16 sd = d16_of(s), md = d16_of(m);
    e->a = dq_cerr8(g->sh.a, g->shx.a, g->shxx.a, shl.a, shll.a, shxl.a, sd.a, md.a);
    e->b = dq_cerr8(g->sh.b, g->shx.b, g->shxx.b, shl.b, shll.b, shxl.b, sd.b, md.b);
}

static inline __m512i clampq16(__m512 v, __m512 qf) { /* clampq() of dq.c */
    v = _mm512_max_ps(v, _mm512_setzero_ps());
    v = _mm512_min_ps(v, qf);
    return _mm512_cvttps_epi32(v);
}

static void dq_pick16(const dq_tbatch *t, float qmaxf, int q, int radius, const aq_dq_gstat *st,
                      const float *s, const float *m, const aq_dq_csums *cs_in, const float *d,
                      const float *dmin, uint8_t *osc, uint8_t *omc, aq_dq_csums *ocs,
                      double *oerr) {
    const __m512 qmax = _mm512_set1_ps(qmaxf), qf = _mm512_set1_ps((float)q),
                 zero = _mm512_setzero_ps();
    const __m512i vq = _mm512_set1_epi32(q), z = _mm512_setzero_si512();
    dq_stat16 g;
    dq_load_stat(st, &g);
    dq_d16 il, ill, ixl;
    dq_load_sums(cs_in, &il, &ill, &ixl);
    const __m512 vd = _mm512_loadu_ps(d), vm = _mm512_loadu_ps(dmin);
    const __m512 id =
        _mm512_maskz_div_ps(_mm512_cmp_ps_mask(vd, zero, _CMP_GT_OQ), _mm512_set1_ps(1.0f), vd);
    const __m512 im =
        _mm512_maskz_div_ps(_mm512_cmp_ps_mask(vm, zero, _CMP_NEQ_UQ), _mm512_set1_ps(1.0f), vm);
    const __m512i s0 = clampq16(_mm512_mul_ps(_mm512_loadu_ps(s), id), qf);
    const __m512i m0 = clampq16(_mm512_mul_ps(_mm512_loadu_ps(m), im), qf);
    __m512i sc = s0, mc = m0;
    dq_d16 best = {_mm512_setzero_pd(), _mm512_setzero_pd()};
    for (int a = 0; a < 2; ++a) /* closed form, codes of cs_in held fixed */
        for (int c = 0; c < 2; ++c) {
            const __m512i si = _mm512_min_epi32(_mm512_add_epi32(s0, _mm512_set1_epi32(a)), vq);
            const __m512i mi = _mm512_min_epi32(_mm512_add_epi32(m0, _mm512_set1_epi32(c)), vq);
            dq_d16 e;
            dq_cerr16(&g, il, ill, ixl, _mm512_mul_ps(vd, _mm512_cvtepi32_ps(si)),
                      _mm512_mul_ps(vm, _mm512_cvtepi32_ps(mi)), &e);
            const int first = a == 0 && c == 0;
            const __mmask8 ta = first ? 0xff : _mm512_cmp_pd_mask(e.a, best.a, _CMP_LT_OQ);
            const __mmask8 tb = first ? 0xff : _mm512_cmp_pd_mask(e.b, best.b, _CMP_LT_OQ);
            best =
                (dq_d16){_mm512_mask_mov_pd(best.a, ta, e.a), _mm512_mask_mov_pd(best.b, tb, e.b)};
            sc = _mm512_mask_mov_epi32(sc, mask16(ta, tb), si);
            mc = _mm512_mask_mov_epi32(mc, mask16(ta, tb), mi);
        }
    const __m512i sc0 = sc, mc0 = mc;
    __m512 bl = zero, bll = zero, bxl = zero;
    __mmask16 have = 0;
    for (int a = -radius; a <= radius; ++a) /* trials, codes re-encoded */
        for (int c = -radius; c <= radius; ++c) {
            const __m512i si = _mm512_add_epi32(sc0, _mm512_set1_epi32(a));
            const __m512i mi = _mm512_add_epi32(mc0, _mm512_set1_epi32(c));
            const __mmask16 valid =
                _mm512_cmpge_epi32_mask(si, z) & _mm512_cmple_epi32_mask(si, vq) &
                _mm512_cmpge_epi32_mask(mi, z) & _mm512_cmple_epi32_mask(mi, vq);
            if (!valid) continue;
            const __m512 scale = _mm512_mul_ps(vd, _mm512_cvtepi32_ps(si));
            const __m512 mn = _mm512_mul_ps(vm, _mm512_cvtepi32_ps(mi));
            const __m512 inv = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(scale, zero, _CMP_GT_OQ),
                                                   _mm512_set1_ps(1.0f), scale);
            __m512 l1, l2, l3;
            dq_sums16(t, mn, inv, qmax, &l1, &l2, &l3);
            dq_d16 e;
            dq_cerr16(&g, d16_of(l1), d16_of(l2), d16_of(l3), scale, mn, &e);
            const __mmask16 lt = mask16(_mm512_cmp_pd_mask(e.a, best.a, _CMP_LT_OQ),
                                        _mm512_cmp_pd_mask(e.b, best.b, _CMP_LT_OQ));
            const __mmask16 take = valid & (__mmask16)(~have | lt);
            have |= valid;
            best = (dq_d16){_mm512_mask_mov_pd(best.a, (__mmask8)take, e.a),
                            _mm512_mask_mov_pd(best.b, (__mmask8)(take >> 8), e.b)};
            sc = _mm512_mask_mov_epi32(sc, take, si);
            mc = _mm512_mask_mov_epi32(mc, take, mi);
            bl = _mm512_mask_mov_ps(bl, take, l1);
            bll = _mm512_mask_mov_ps(bll, take, l2);
            bxl = _mm512_mask_mov_ps(bxl, take, l3);
        }
    _mm_storeu_si128((__m128i *)osc, _mm512_cvtepi32_epi8(sc));
    _mm_storeu_si128((__m128i *)omc, _mm512_cvtepi32_epi8(mc));
    dq_store_sums(bl, bll, bxl, ocs);
    _mm512_storeu_pd(oerr, best.a);
    _mm512_storeu_pd(oerr + 8, best.b);
}

static void dq_pick(const aq_dq_batch *b, int subq, int radius, const aq_dq_gstat *st,
                    const float *s, const float *m, const aq_dq_csums *cs_in, const float *d,
                    const float *dmin, uint8_t *sc, uint8_t *mc, aq_dq_csums *cs, double *err) {
    int g = 0;
    if (b->G <= AQ_MAX_GROUP) {
        dq_tbatch t;
        for (; g + 16 <= b->ng; g += 16) {
            dq_load_batch(b, g, &t);
            dq_pick16(&t, b->qmaxf, subq, radius, st + g, s + g, m + g, cs_in + g, d + g, dmin + g,
                      sc + g, mc + g, cs + g, err + g);
        }
    }
    if (g < b->ng) {
        const size_t off = (size_t)g * (size_t)b->G;
        const aq_dq_batch r = {b->x + off, b->h ? b->h + off : NULL, b->G, b->ng - g, b->qmaxf};
        aq_dq_pick_ref(&r, subq, radius, st + g, s + g, m + g, cs_in + g, d + g, dmin + g, sc + g,
                       mc + g, cs + g, err + g);
    }
}

/*-------------------------------- row level --------------------------------*/

static int64_t first_nonfinite(const float *w, int64_t n) {
    const __m512i abs = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512i u = _mm512_and_si512(_mm512_loadu_si512(w + j), abs);
        __mmask16 bad = _mm512_cmpge_epi32_mask(u, inf);
        if (bad) return j + __builtin_ctz((unsigned)bad);
    }
    int64_t r = j < n ? aq_first_nonfinite_ref(w + j, n - j) : -1;
    return r < 0 ? -1 : j + r;
}

/* scale/min of 16 groups from their lo (in m) and hi (in s), in place. */
static inline void params16(float *s, float *m, int bits, aq_scale_dtype d) {
    const __m512 lo = _mm512_loadu_ps(m), hi = _mm512_loadu_ps(s);
    const __m512d q = _mm512_set1_pd((double)aq_qmax(bits));
    __m256 s0 =
        _mm512_cvtpd_ps(_mm512_div_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(hi)),
                                                    _mm512_cvtps_pd(_mm512_castps512_ps256(lo))),
                                      q));
    __m256 s1 =
        _mm512_cvtpd_ps(_mm512_div_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(hi, 1)),
                                                    _mm512_cvtps_pd(_mm512_extractf32x8_ps(lo, 1))),
                                      q));
    __m512 sc = _mm512_insertf32x8(_mm512_castps256_ps512(s0), s1, 1), mn = lo;
    if (d == AQ_SCALE_F16) {
        sc = _mm512_cvtph_ps(_mm512_cvtps_ph(sc, AQ_RM));
        mn = _mm512_cvtph_ps(_mm512_cvtps_ph(mn, AQ_RM));
    }
    __mmask16 keep = _mm512_cmp_ps_mask(hi, lo, _CMP_GT_OQ) &
                     _mm512_cmp_ps_mask(sc, _mm512_setzero_ps(), _CMP_GT_OQ);
    _mm512_storeu_ps(s, _mm512_maskz_mov_ps(keep, sc));
    _mm512_storeu_ps(m, mn);
}

static void rtn_params(const float *w, int64_t cols, int gs, int bits, aq_scale_dtype d, float *s,
                       float *m) {
    const int64_t groups = aq_groups_per_row(cols, gs);
    for (int64_t g = 0; g < groups; ++g) { /* lo -> m[g], hi -> s[g] */
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        minmax(w + off, n, &m[g], &s[g]);
    }
    int64_t g = 0;
    for (; g + 16 <= groups; g += 16)
        params16(s + g, m + g, bits, d);
    for (; g < groups; ++g)
        aq_params_from_range(m[g], s[g], bits, d, &s[g], &m[g]);
}

static void store_params(const float *s, const float *m, int64_t groups, aq_scale_dtype d,
                         void *scale, void *min) {
    if (d == AQ_SCALE_F32) {
        memcpy(scale, s, (size_t)groups * 4);
        memcpy(min, m, (size_t)groups * 4);
        return;
    }
    int64_t g = 0;
    for (; g + 16 <= groups; g += 16) {
        _mm256_storeu_si256((__m256i *)((uint16_t *)scale + g),
                            _mm512_cvtps_ph(_mm512_loadu_ps(s + g), AQ_RM));
        _mm256_storeu_si256((__m256i *)((uint16_t *)min + g),
                            _mm512_cvtps_ph(_mm512_loadu_ps(m + g), AQ_RM));
    }
    for (; g < groups; ++g) {
        aq_store_param(scale, g, d, s[g]);
        aq_store_param(min, g, d, m[g]);
    }
}

/* Adds 16 elements (w, w^, h) to the lanes: elements 0-7 then 8-15. */
static inline void acc16(__m512d acc[AQ_ES_N], __m512 x, __m512 xh, const float *h) {
    for (int half = 0; half < 2; ++half) {
        __m512d a =
            _mm512_cvtps_pd(half ? _mm512_extractf32x8_ps(x, 1) : _mm512_castps512_ps256(x));
        __m512d b =
            _mm512_cvtps_pd(half ? _mm512_extractf32x8_ps(xh, 1) : _mm512_castps512_ps256(xh));
        __m512d d = _mm512_sub_pd(a, b), dd = _mm512_mul_pd(d, d), aa = _mm512_mul_pd(a, a);
        ACC(AQ_ES_E2, dd);
        ACC(AQ_ES_W2, aa);
        ACC(AQ_ES_WV, _mm512_mul_pd(a, b));
        ACC(AQ_ES_V2, _mm512_mul_pd(b, b));
        if (h) {
            __m512d hj = _mm512_cvtps_pd(_mm256_loadu_ps(h + 8 * half));
            ACC(AQ_ES_HE2, _mm512_mul_pd(_mm512_mul_pd(hj, d), d));
            ACC(AQ_ES_HW2, _mm512_mul_pd(_mm512_mul_pd(hj, a), a));
        } else {
            ACC(AQ_ES_HE2, dd);
            ACC(AQ_ES_HW2, aa);
        }
    }
}

static void encode_row(const float *w, int64_t cols, int gs, int bits, const float *h,
                       const float *s, const float *m, uint8_t *codes,
                       double lanes[AQ_ES_N][AQ_LANES]) {
    const int64_t groups = aq_groups_per_row(cols, gs);
    const __m512 qmax = _mm512_set1_ps((float)aq_qmax(bits));
    __m512d acc[AQ_ES_N];
    for (int i = 0; i < AQ_ES_N; ++i)
        acc[i] = _mm512_loadu_pd(lanes[i]);
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        const __m512 vs = _mm512_set1_ps(s[g]), vm = _mm512_set1_ps(m[g]);
        const int zero = s[g] == 0.0f;
        int j = 0;
        for (; j + 16 <= n; j += 16) {
            const __m512 x = _mm512_loadu_ps(w + off + j);
            const __m512 q = zero ? _mm512_setzero_ps()
                                  : code_of16(_mm512_div_ps(_mm512_sub_ps(x, vm), vs), qmax);
            store_packed16(_mm512_cvtepi32_epi8(_mm512_cvttps_epi32(q)), bits,
                           codes + (off + j) * bits / 8);
            acc16(acc, x, _mm512_add_ps(vm, _mm512_mul_ps(q, vs)), h ? h + off + j : NULL);
        }
        if (j < n) { /* short last group: the reference, lanes continue (j % 16 == 0) */
            for (int i = 0; i < AQ_ES_N; ++i)
                _mm512_storeu_pd(lanes[i], acc[i]);
            float wh[AQ_MAX_GROUP];
            uint8_t *out = codes + (off + j) * bits / 8;
            aq_encode_pack_ref(w + off + j, n - j, bits, s[g], m[g], out);
            aq_dequant_ref(out, n - j, bits, s[g], m[g], wh);
            aq_err_sums_ref(w + off + j, wh, h ? h + off + j : NULL, n - j, lanes);
            for (int i = 0; i < AQ_ES_N; ++i)
                acc[i] = _mm512_loadu_pd(lanes[i]);
        }
    }
    for (int i = 0; i < AQ_ES_N; ++i)
        _mm512_storeu_pd(lanes[i], acc[i]);
}

const aq_kernels_t aq_kernels_avx512 = {
    .name = "avx512",
    .simd = AQ_SIMD_AVX512,
    .convert = convert,
    .minmax = minmax,
    .encode_pack = encode_pack,
    .dequant = dequant,
    .err_sums = err_sums,
    .group_wsse = group_wsse,
    .round2 = round2,
    .wconst = wconst,
    .mse_eval = mse_eval,
    .first_nonfinite = first_nonfinite,
    .rtn_params = rtn_params,
    .store_params = store_params,
    .encode_row = encode_row,
    .dq_targets = dq_targets,
    .dq_pick = dq_pick,
};

#endif /* x86 */
