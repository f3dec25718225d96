/*
 * aq-mpi — AVX2 twins of the scalar kernels of src/quant (quant_impl.h).
 *
 * Compiled with -mavx2 -mfma -ffp-contract=off (CMakeLists.txt; FMA is never used, the
 * contraction is off so the results stay those of the reference); only called after
 * aq_kernels_select() checked the CPU.  Same contract as simd_avx512.c: the reference's
 * operations per element, doubles in the AQ_LANES lane order, tails by the reference.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "quant_impl.h"

#define MAGIC 12582912.0f /* 1.5 * 2^23, aq_code_of() */

static inline __m256 code_of8(__m256 v, __m256 qmax) {
    const __m256 magic = _mm256_set1_ps(MAGIC);
    v = _mm256_max_ps(v, _mm256_setzero_ps()); /* v > 0 ? v : 0, NaN -> 0 */
    v = _mm256_min_ps(v, qmax);                /* v < qmax ? v : qmax */
    return _mm256_sub_ps(_mm256_add_ps(v, magic), magic);
}

/*-------------------------------- conversion --------------------------------*/

static void convert(aq_dtype dt, const void *src, size_t n, float *dst) {
    const unsigned char *s = src;
    size_t i = 0;
    if (dt == AQ_DT_BF16) {
        for (; i + 8 <= n; i += 8) {
            __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + 2 * i)));
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(u, 16));
        }
    } else if (dt == AQ_DT_F16) {
        const __m256i m7fff = _mm256_set1_epi32(0x7fff), bias = _mm256_set1_epi32(112 << 23);
        const __m256i sgn = _mm256_set1_epi32(0x8000), einf = _mm256_set1_epi32(0x7c00);
        const __m256i m3ff = _mm256_set1_epi32(0x3ff), inf32 = _mm256_set1_epi32(0x7f800000);
        const __m256 tiny = _mm256_set1_ps(0x1p-24f);
        for (; i + 8 <= n; i += 8) {
            __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + 2 * i)));
            __m256i sign = _mm256_slli_epi32(_mm256_and_si256(h, sgn), 16);
            __m256i mag = _mm256_slli_epi32(_mm256_and_si256(h, m7fff), 13);
            __m256i e = _mm256_and_si256(h, einf);
            __m256i normal = _mm256_add_epi32(mag, bias);
            __m256i special = _mm256_or_si256(mag, inf32);
            __m256i sub = _mm256_castps_si256(
                _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(h, m3ff)), tiny));
            __m256i r = _mm256_blendv_epi8(normal, special, _mm256_cmpeq_epi32(e, einf));
            r = _mm256_blendv_epi8(r, sub, _mm256_cmpeq_epi32(e, _mm256_setzero_si256()));
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_or_si256(r, sign));
        }
    } else {
        memcpy(dst, s, n * 4);
        return;
    }
    if (i < n) aq_convert_to_f32(dt, s + i * 2, n - i, dst + i);
}

/*-------------------------------- min / max --------------------------------*/

static void minmax(const float *x, int n, float *lo, float *hi) {
    if (n < 8) {
        aq_minmax_f32(x, n, lo, hi);
        return;
    }
    __m256 a = _mm256_loadu_ps(x), b = a;
    int j = 8;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j);
        a = _mm256_min_ps(a, v);
        b = _mm256_max_ps(b, v);
    }
    if (j < n) {
        __m256 v = _mm256_loadu_ps(x + n - 8);
        a = _mm256_min_ps(a, v);
        b = _mm256_max_ps(b, v);
    }
    float la[8], lb[8];
    _mm256_storeu_ps(la, a);
    _mm256_storeu_ps(lb, b);
    float mn = la[0], mx = lb[0];
    for (int i = 1; i < 8; ++i) {
        mn = la[i] < mn ? la[i] : mn;
        mx = lb[i] > mx ? lb[i] : mx;
    }
    *lo = mn + 0.0f; /* sign of zero made order-free, as in the reference */
    *hi = mx + 0.0f;
}

/*-------------------------------- encode + pack --------------------------------*/

/* 16 codes as bytes (two vectors of 8). */
static inline __m128i codes16(const float *x, __m256 vmin, __m256 vscale, __m256 qmax) {
    __m256 v0 = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(x), vmin), vscale);
    __m256 v1 = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(x + 8), vmin), vscale);
    __m256i q0 = _mm256_cvttps_epi32(code_of8(v0, qmax));
    __m256i q1 = _mm256_cvttps_epi32(code_of8(v1, qmax));
    __m256i w = _mm256_packus_epi32(q0, q1); /* per 128 lane: q0lo q1lo q0hi q1hi */
    w = _mm256_permute4x64_epi64(w, 0xd8);   /* q0lo q0hi q1lo q1hi */
    __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    return b;
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

static inline void store_packed16(__m128i b, int bits, uint8_t *out) {
    if (bits == 8) {
        _mm_storeu_si128((__m128i *)out, b);
    } else if (bits == 3) {
        store_packed16_3(b, out);
    } else if (bits == 4) {
        __m128i p = _mm_maddubs_epi16(b, _mm_set1_epi16(0x1001));
        _mm_storel_epi64((__m128i *)out, _mm_packus_epi16(p, p));
    } else {
        __m128i p = _mm_maddubs_epi16(b, _mm_set1_epi16(0x0401));
        p = _mm_madd_epi16(p, _mm_set1_epi32(0x00100001));
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
    const __m256 vmin = _mm256_set1_ps(min), vs = _mm256_set1_ps(scale);
    const __m256 qmax = _mm256_set1_ps((float)aq_qmax(bits));
    int j = 0;
    for (; j + 16 <= n; j += 16)
        store_packed16(codes16(x + j, vmin, vs, qmax), bits, packed + j * bits / 8);
    if (j < n) aq_encode_pack_ref(x + j, n - j, bits, scale, min, packed + j * bits / 8);
}

/*-------------------------------- dequantize --------------------------------*/

/* 8 codes from packed bytes starting at code index 8*k (k = half) of a 16-code block. */
static inline __m256i unpack8(const uint8_t *p, int bits) {
    if (bits == 8) return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    uint32_t w;
    if (bits == 4) {
        memcpy(&w, p, 4);
        const __m256i sh = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
        return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)w), sh),
                                _mm256_set1_epi32(15));
    }
    uint16_t v;
    memcpy(&v, p, 2);
    const __m256i sh = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(v), sh), _mm256_set1_epi32(3));
}

static void dequant(const uint8_t *packed, int n, int bits, float scale, float min, float *out) {
    if (bits != 2 && bits != 4 && bits != 8) { /* 3 bits (dq): the reference */
        aq_dequant_ref(packed, n, bits, scale, min, out);
        return;
    }
    const __m256 vmin = _mm256_set1_ps(min), vs = _mm256_set1_ps(scale);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 q = _mm256_cvtepi32_ps(unpack8(packed + j * bits / 8, bits));
        _mm256_storeu_ps(out + j, _mm256_add_ps(vmin, _mm256_mul_ps(q, vs)));
    }
    if (j < n) aq_dequant_ref(packed + j * bits / 8, n - j, bits, scale, min, out + j);
}

/*-------------------------------- error sums --------------------------------*/

/* Lanes 0-3 in [0], 4-7 in [1]. */
#define ACC(i, t0, t1)                                                                             \
    do {                                                                                           \
        acc[i][0] = _mm256_add_pd(acc[i][0], (t0));                                                \
        acc[i][1] = _mm256_add_pd(acc[i][1], (t1));                                                \
    } while (0)

static void err_sums(const float *w, const float *wh, const float *h, int64_t n,
                     double lanes[AQ_ES_N][AQ_LANES]) {
    __m256d acc[AQ_ES_N][2];
    for (int i = 0; i < AQ_ES_N; ++i) {
        acc[i][0] = _mm256_loadu_pd(lanes[i]);
        acc[i][1] = _mm256_loadu_pd(lanes[i] + 4);
    }
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256d a[2], b[2], d[2], dd[2], aa[2];
        for (int k = 0; k < 2; ++k) {
            a[k] = _mm256_cvtps_pd(_mm_loadu_ps(w + j + 4 * k));
            b[k] = _mm256_cvtps_pd(_mm_loadu_ps(wh + j + 4 * k));
            d[k] = _mm256_sub_pd(a[k], b[k]);
            dd[k] = _mm256_mul_pd(d[k], d[k]);
            aa[k] = _mm256_mul_pd(a[k], a[k]);
        }
        ACC(AQ_ES_E2, dd[0], dd[1]);
        ACC(AQ_ES_W2, aa[0], aa[1]);
        ACC(AQ_ES_WV, _mm256_mul_pd(a[0], b[0]), _mm256_mul_pd(a[1], b[1]));
        ACC(AQ_ES_V2, _mm256_mul_pd(b[0], b[0]), _mm256_mul_pd(b[1], b[1]));
        if (h) {
            __m256d h0 = _mm256_cvtps_pd(_mm_loadu_ps(h + j));
            __m256d h1 = _mm256_cvtps_pd(_mm_loadu_ps(h + j + 4));
            ACC(AQ_ES_HE2, _mm256_mul_pd(_mm256_mul_pd(h0, d[0]), d[0]),
                _mm256_mul_pd(_mm256_mul_pd(h1, d[1]), d[1]));
            ACC(AQ_ES_HW2, _mm256_mul_pd(_mm256_mul_pd(h0, a[0]), a[0]),
                _mm256_mul_pd(_mm256_mul_pd(h1, a[1]), a[1]));
        } else {
            ACC(AQ_ES_HE2, dd[0], dd[1]);
            ACC(AQ_ES_HW2, aa[0], aa[1]);
        }
    }
    for (int i = 0; i < AQ_ES_N; ++i) {
        _mm256_storeu_pd(lanes[i], acc[i][0]);
        _mm256_storeu_pd(lanes[i] + 4, acc[i][1]);
    }
    if (j < n) aq_err_sums_ref(w + j, wh + j, h ? h + j : NULL, n - j, lanes);
}

/*-------------------------------- group wsse --------------------------------*/

static double group_wsse(const float *x, const float *h, int n, int bits, float scale, float min) {
    const __m256 vmin = _mm256_set1_ps(min), vs = _mm256_set1_ps(scale);
    const __m256 qmax = _mm256_set1_ps((float)aq_qmax(bits));
    __m256d acc0 = _mm256_setzero_pd(), acc1 = acc0;
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 xv = _mm256_loadu_ps(x + j);
        __m256 q = scale == 0.0f ? _mm256_setzero_ps()
                                 : code_of8(_mm256_div_ps(_mm256_sub_ps(xv, vmin), vs), qmax);
        __m256 xh = _mm256_add_ps(vmin, _mm256_mul_ps(q, vs));
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xv)),
                                   _mm256_cvtps_pd(_mm256_castps256_ps128(xh)));
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1)),
                                   _mm256_cvtps_pd(_mm256_extractf128_ps(xh, 1)));
        if (h) {
            d0 = _mm256_mul_pd(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(h + j)), d0), d0);
            d1 = _mm256_mul_pd(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(h + j + 4)), d1), d1);
        } else {
            d0 = _mm256_mul_pd(d0, d0);
            d1 = _mm256_mul_pd(d1, d1);
        }
        acc0 = _mm256_add_pd(acc0, d0);
        acc1 = _mm256_add_pd(acc1, d1);
    }
    double lanes[AQ_LANES];
    _mm256_storeu_pd(lanes, acc0);
    _mm256_storeu_pd(lanes + 4, acc1);
    if (j < n) {
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

static void wconst(const float *x, const float *h, int n, aq_wconst *out) {
    __m256d sh[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()}, shx[2] = {sh[0], sh[0]},
            shxx[2] = {sh[0], sh[0]};
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 2; ++k) {
            const __m256d xj = _mm256_cvtps_pd(_mm_loadu_ps(x + j + 4 * k));
            const __m256d hj =
                h ? _mm256_cvtps_pd(_mm_loadu_ps(h + j + 4 * k)) : _mm256_set1_pd(1.0);
            const __m256d hx = _mm256_mul_pd(hj, xj);
            sh[k] = _mm256_add_pd(sh[k], hj);
            shx[k] = _mm256_add_pd(shx[k], hx);
            shxx[k] = _mm256_add_pd(shxx[k], _mm256_mul_pd(hx, xj));
        }
    double a[AQ_LANES], b[AQ_LANES], c[AQ_LANES];
    for (int k = 0; k < 2; ++k) {
        _mm256_storeu_pd(a + 4 * k, sh[k]);
        _mm256_storeu_pd(b + 4 * k, shx[k]);
        _mm256_storeu_pd(c + 4 * k, shxx[k]);
    }
    for (; j < n; ++j) {
        const double hj = h ? h[j] : 1.0, xj = x[j];
        a[j % AQ_LANES] += hj;
        b[j % AQ_LANES] += hj * xj;
        c[j % AQ_LANES] += hj * xj * xj;
    }
    *out = (aq_wconst){aq_lanes_sum(a), aq_lanes_sum(b), aq_lanes_sum(c)};
}

static void mse_eval(const float *x, const float *h, int n, float qmaxf, const aq_wconst *c,
                     const float *lo, const float *inv, int k, aq_fit *fit) {
    const __m256 qmax = _mm256_set1_ps(qmaxf);
    for (int i0 = 0; i0 < k; i0 += 8) {
        float plo[8] = {0}, pinv[8] = {0};
        const int live = k - i0 < 8 ? k - i0 : 8;
        memcpy(plo, lo + i0, (size_t)live * sizeof *plo);
        memcpy(pinv, inv + i0, (size_t)live * sizeof *pinv);
        const __m256 vlo = _mm256_loadu_ps(plo), vinv = _mm256_loadu_ps(pinv);
        __m256 shl = _mm256_setzero_ps(), shll = shl, shxl = shl;
        for (int j = 0; j < n; ++j) {
            const __m256 xj = _mm256_set1_ps(x[j]), hj = _mm256_set1_ps(h ? h[j] : 1.0f);
            const __m256 l = code_of8(_mm256_mul_ps(_mm256_sub_ps(xj, vlo), vinv), qmax);
            const __m256 hl = _mm256_mul_ps(hj, l);
            shl = _mm256_add_ps(shl, hl);
            shll = _mm256_add_ps(shll, _mm256_mul_ps(hl, l));
            shxl = _mm256_add_ps(shxl, _mm256_mul_ps(hl, xj));
        }
        float a[8], b[8], d[8];
        _mm256_storeu_ps(a, shl);
        _mm256_storeu_ps(b, shll);
        _mm256_storeu_ps(d, shxl);
        for (int i = 0; i < live; ++i)
            fit[i0 + i] = aq_mse_fit(c, lo[i0 + i], inv[i0 + i], a[i], b[i], d[i]);
    }
}

/*-------------------------------- row level --------------------------------*/

static int64_t first_nonfinite(const float *w, int64_t n) {
    const __m256i abs = _mm256_set1_epi32(0x7fffffff), big = _mm256_set1_epi32(0x7f7fffff);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256i u = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(w + j)), abs);
        int bad = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(u, big)));
        if (bad) return j + __builtin_ctz((unsigned)bad);
    }
    int64_t r = j < n ? aq_first_nonfinite_ref(w + j, n - j) : -1;
    return r < 0 ? -1 : j + r;
}

static void rtn_params(const float *w, int64_t cols, int gs, int bits, aq_scale_dtype d, float *s,
                       float *m) {
    const int64_t groups = aq_groups_per_row(cols, gs);
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        float lo, hi;
        minmax(w + off, n, &lo, &hi);
        aq_params_from_range(lo, hi, bits, d, &s[g], &m[g]);
    }
}

/* Adds 8 elements (w, w^, h) to the lanes. */
static inline void acc8(__m256d acc[AQ_ES_N][2], __m256 x, __m256 xh, const float *h) {
    __m256d a[2], b[2], d[2], dd[2], aa[2];
    for (int k = 0; k < 2; ++k) {
        a[k] = _mm256_cvtps_pd(k ? _mm256_extractf128_ps(x, 1) : _mm256_castps256_ps128(x));
        b[k] = _mm256_cvtps_pd(k ? _mm256_extractf128_ps(xh, 1) : _mm256_castps256_ps128(xh));
        d[k] = _mm256_sub_pd(a[k], b[k]);
        dd[k] = _mm256_mul_pd(d[k], d[k]);
        aa[k] = _mm256_mul_pd(a[k], a[k]);
    }
    ACC(AQ_ES_E2, dd[0], dd[1]);
    ACC(AQ_ES_W2, aa[0], aa[1]);
    ACC(AQ_ES_WV, _mm256_mul_pd(a[0], b[0]), _mm256_mul_pd(a[1], b[1]));
    ACC(AQ_ES_V2, _mm256_mul_pd(b[0], b[0]), _mm256_mul_pd(b[1], b[1]));
    if (h) {
        __m256d h0 = _mm256_cvtps_pd(_mm_loadu_ps(h)), h1 = _mm256_cvtps_pd(_mm_loadu_ps(h + 4));
        ACC(AQ_ES_HE2, _mm256_mul_pd(_mm256_mul_pd(h0, d[0]), d[0]),
            _mm256_mul_pd(_mm256_mul_pd(h1, d[1]), d[1]));
        ACC(AQ_ES_HW2, _mm256_mul_pd(_mm256_mul_pd(h0, a[0]), a[0]),
            _mm256_mul_pd(_mm256_mul_pd(h1, a[1]), a[1]));
    } else {
        ACC(AQ_ES_HE2, dd[0], dd[1]);
        ACC(AQ_ES_HW2, aa[0], aa[1]);
    }
}

static void encode_row(const float *w, int64_t cols, int gs, int bits, const float *h,
                       const float *s, const float *m, uint8_t *codes,
                       double lanes[AQ_ES_N][AQ_LANES]) {
    const int64_t groups = aq_groups_per_row(cols, gs);
    const __m256 qmax = _mm256_set1_ps((float)aq_qmax(bits));
    __m256d acc[AQ_ES_N][2];
    for (int i = 0; i < AQ_ES_N; ++i) {
        acc[i][0] = _mm256_loadu_pd(lanes[i]);
        acc[i][1] = _mm256_loadu_pd(lanes[i] + 4);
    }
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        const __m256 vs = _mm256_set1_ps(s[g]), vm = _mm256_set1_ps(m[g]);
        const int zero = s[g] == 0.0f;
        int j = 0;
        for (; j + 16 <= n; j += 16) {
            const __m256 x0 = _mm256_loadu_ps(w + off + j), x1 = _mm256_loadu_ps(w + off + j + 8);
            __m256 q0 = _mm256_setzero_ps(), q1 = q0;
            if (!zero) {
                q0 = code_of8(_mm256_div_ps(_mm256_sub_ps(x0, vm), vs), qmax);
                q1 = code_of8(_mm256_div_ps(_mm256_sub_ps(x1, vm), vs), qmax);
            }
            __m256i pk = _mm256_packus_epi32(_mm256_cvttps_epi32(q0), _mm256_cvttps_epi32(q1));
            pk = _mm256_permute4x64_epi64(pk, 0xd8);
            store_packed16(
                _mm_packus_epi16(_mm256_castsi256_si128(pk), _mm256_extracti128_si256(pk, 1)), bits,
                codes + (off + j) * bits / 8);
            acc8(acc, x0, _mm256_add_ps(vm, _mm256_mul_ps(q0, vs)), h ? h + off + j : NULL);
            acc8(acc, x1, _mm256_add_ps(vm, _mm256_mul_ps(q1, vs)), h ? h + off + j + 8 : NULL);
        }
        if (j < n) {
            for (int i = 0; i < AQ_ES_N; ++i) {
                _mm256_storeu_pd(lanes[i], acc[i][0]);
                _mm256_storeu_pd(lanes[i] + 4, acc[i][1]);
            }
            float wh[AQ_MAX_GROUP];
            uint8_t *out = codes + (off + j) * bits / 8;
            aq_encode_pack_ref(w + off + j, n - j, bits, s[g], m[g], out);
            aq_dequant_ref(out, n - j, bits, s[g], m[g], wh);
            aq_err_sums_ref(w + off + j, wh, h ? h + off + j : NULL, n - j, lanes);
            for (int i = 0; i < AQ_ES_N; ++i) {
                acc[i][0] = _mm256_loadu_pd(lanes[i]);
                acc[i][1] = _mm256_loadu_pd(lanes[i] + 4);
            }
        }
    }
    for (int i = 0; i < AQ_ES_N; ++i) {
        _mm256_storeu_pd(lanes[i], acc[i][0]);
        _mm256_storeu_pd(lanes[i] + 4, acc[i][1]);
    }
}

/*-------------------------------- dq search (lane = group) --------------------------------*/

/* The dq kernels of quant_impl.h on 8 groups at a time, as the AVX-512 file does on 16: the
 * batch is transposed once (lane g holds group g), every per-group loop of the reference runs
 * in its own lane in the same order; doubles are split into two halves of 4 lanes, masks are
 * all-ones lanes.  Fewer than 8 remaining groups go to the reference. */

typedef struct {
    __m256d a, b; /* lanes 0-3, 4-7 */
} dq_d8;

static inline dq_d8 d8_of(__m256 v) {
    return (dq_d8){_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                   _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))};
}

static inline __m256 f8_of(dq_d8 v) { /* (float) of each lane */
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(v.a)), _mm256_cvtpd_ps(v.b),
                                1);
}

static inline dq_d8 d8_load(const double *p) {
    return (dq_d8){_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)};
}

/* Two 4-lane double masks -> one 8-lane float mask, and back. */
static inline __m256 mask_f8(__m256d a, __m256d b) {
    const __m256 s = _mm256_shuffle_ps(_mm256_castpd_ps(a), _mm256_castpd_ps(b), 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}

static inline dq_d8 mask_d8(__m256 m) {
    const __m256i i = _mm256_castps_si256(m);
    return (dq_d8){_mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(i))),
                   _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(i, 1)))};
}

static inline __m256 round8(__m256 v, __m256 qmax) { /* aq_code_of() as a float */
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), qmax);
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

typedef struct {
    float x[AQ_MAX_GROUP * 8], h[AQ_MAX_GROUP * 8];
    const float *hp; /* h or NULL */
    int G;
} dq_tbatch;

/* t[8 j + g] = x[g G + j] for columns [j0, j0 + 8): the usual unpack / shuffle / lane-swap 8 x 8
 * transpose (24 shuffles). */
static void dq_transpose8x8(const float *x, int G, int j0, float *t) {
    __m256 r[8], u[8], v[8];
    for (int g = 0; g < 8; ++g)
        r[g] = _mm256_loadu_ps(x + (size_t)g * (size_t)G + j0);
    for (int g = 0; g < 8; g += 2) {
        u[g] = _mm256_unpacklo_ps(r[g], r[g + 1]);
        u[g + 1] = _mm256_unpackhi_ps(r[g], r[g + 1]);
    }
    for (int g = 0; g < 8; g += 4) {
        v[g] = _mm256_shuffle_ps(u[g], u[g + 2], 0x44);
        v[g + 1] = _mm256_shuffle_ps(u[g], u[g + 2], 0xEE);
        v[g + 2] = _mm256_shuffle_ps(u[g + 1], u[g + 3], 0x44);
        v[g + 3] = _mm256_shuffle_ps(u[g + 1], u[g + 3], 0xEE);
    }
    for (int k = 0; k < 4; ++k) {
        _mm256_storeu_ps(t + 8 * (j0 + k), _mm256_permute2f128_ps(v[k], v[k + 4], 0x20));
        _mm256_storeu_ps(t + 8 * (j0 + k + 4), _mm256_permute2f128_ps(v[k], v[k + 4], 0x31));
    }
}

/* Lane g of row j of t = weight j of group g.  Gathers only for columns past the last multiple
 * of 8: AVX2 gathers are microcoded on AMD Zen 2 (this was 14 % of a Dream-7B 2-bit job). */
static void dq_transpose(const float *x, int G, float *t) {
    int j = 0;
    for (; j + 8 <= G; j += 8)
        dq_transpose8x8(x, G, j, t);
    const __m256i idx =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(G));
    for (; j < G; ++j)
        _mm256_storeu_ps(t + 8 * j, _mm256_i32gather_ps(x + j, idx, 4));
}

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

static inline void dq_sums8(const dq_tbatch *t, __m256 lo, __m256 inv, __m256 qmax, __m256 *shl,
                            __m256 *shll, __m256 *shxl) {
    __m256 a = _mm256_setzero_ps(), b = a, c = a;
    if (t->hp) {
        for (int j = 0; j < t->G; ++j) {
            const __m256 x = _mm256_loadu_ps(t->x + 8 * j);
            const __m256 l = round8(_mm256_mul_ps(_mm256_sub_ps(x, lo), inv), qmax);
            const __m256 hl = _mm256_mul_ps(_mm256_loadu_ps(t->h + 8 * j), l);
            a = _mm256_add_ps(a, hl);
            b = _mm256_add_ps(b, _mm256_mul_ps(hl, l));
            c = _mm256_add_ps(c, _mm256_mul_ps(hl, x));
        }
    } else {
        for (int j = 0; j < t->G; ++j) {
            const __m256 x = _mm256_loadu_ps(t->x + 8 * j);
            const __m256 l = round8(_mm256_mul_ps(_mm256_sub_ps(x, lo), inv), qmax);
            a = _mm256_add_ps(a, l);
            b = _mm256_add_ps(b, _mm256_mul_ps(l, l));
            c = _mm256_add_ps(c, _mm256_mul_ps(l, x));
        }
    }
    *shl = a;
    *shll = b;
    *shxl = c;
}

typedef struct {
    dq_d8 sh, shx, shxx;
    __m256 lo, hi;
} dq_stat8;

static void dq_stats8(const dq_tbatch *t, dq_stat8 *s) {
    __m256 lo = _mm256_loadu_ps(t->x), hi = lo;
    __m256d sh[2], shx[2], shxx[2];
    for (int i = 0; i < 2; ++i)
        sh[i] = shx[i] = shxx[i] = _mm256_setzero_pd();
    const __m256d one = _mm256_set1_pd(1.0);
    for (int j = 0; j < t->G; ++j) {
        const __m256 x = _mm256_loadu_ps(t->x + 8 * j);
        lo = _mm256_min_ps(x, lo); /* x < lo ? x : lo */
        hi = _mm256_max_ps(x, hi); /* x > hi ? x : hi */
        const dq_d8 xd = d8_of(x);
        const dq_d8 hd = t->hp ? d8_of(_mm256_loadu_ps(t->h + 8 * j)) : (dq_d8){one, one};
        const __m256d xs[2] = {xd.a, xd.b}, hs[2] = {hd.a, hd.b};
        for (int i = 0; i < 2; ++i) {
            const __m256d hx = t->hp ? _mm256_mul_pd(hs[i], xs[i]) : xs[i]; /* 1.0 * x == x */
            sh[i] = _mm256_add_pd(sh[i], hs[i]);
            shx[i] = _mm256_add_pd(shx[i], hx);
            shxx[i] = _mm256_add_pd(shxx[i], _mm256_mul_pd(hx, xs[i]));
        }
    }
    s->lo = _mm256_add_ps(lo, _mm256_setzero_ps());
    s->hi = _mm256_add_ps(hi, _mm256_setzero_ps());
    s->sh = (dq_d8){sh[0], sh[1]};
    s->shx = (dq_d8){shx[0], shx[1]};
    s->shxx = (dq_d8){shxx[0], shxx[1]};
}

/* aq_dq_cerr() on 4 lanes. */
static inline __m256d dq_cerr4(__m256d sh, __m256d shx, __m256d shxx, __m256d shl, __m256d shll,
                               __m256d shxl, __m256d s, __m256d m) {
    const __m256d two = _mm256_set1_pd(2.0), m2 = _mm256_mul_pd(two, m);
    __m256d e = _mm256_sub_pd(shxx, _mm256_mul_pd(m2, shx));
    e = _mm256_sub_pd(e, _mm256_mul_pd(_mm256_mul_pd(two, s), shxl));
    e = _mm256_add_pd(e, _mm256_mul_pd(_mm256_mul_pd(m, m), sh));
    e = _mm256_add_pd(e, _mm256_mul_pd(_mm256_mul_pd(m2, s), shl));
    e = _mm256_add_pd(e, _mm256_mul_pd(_mm256_mul_pd(s, s), shll));
    return _mm256_max_pd(e, _mm256_setzero_pd()); /* e > 0 ? e : 0 */
}

/* aq_mse_fit() on 4 lanes with per-lane sums; *s0, *m0 hold the fallback. */
static inline void dq_fit4(__m256d sh, __m256d shx, __m256d shxx, __m256d shl, __m256d shll,
                           __m256d shxl, __m256d *s0, __m256d *m0, __m256d *err) {
    const __m256d det = _mm256_sub_pd(_mm256_mul_pd(sh, shll), _mm256_mul_pd(shl, shl));
    const __m256d thr = _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(1e-9), sh), shll);
    const __m256d rdet = _mm256_div_pd(_mm256_set1_pd(1.0), det);
    const __m256d s =
        _mm256_mul_pd(_mm256_sub_pd(_mm256_mul_pd(sh, shxl), _mm256_mul_pd(shl, shx)), rdet);
    const __m256d m =
        _mm256_mul_pd(_mm256_sub_pd(_mm256_mul_pd(shll, shx), _mm256_mul_pd(shl, shxl)), rdet);
    const __m256d ok = _mm256_and_pd(
        _mm256_cmp_pd(det, thr, _CMP_GT_OQ),
        _mm256_and_pd(_mm256_cmp_pd(s, _mm256_setzero_pd(), _CMP_GT_OQ),
                      _mm256_cmp_pd(s, _mm256_set1_pd((double)INFINITY), _CMP_LT_OQ)));
    *s0 = _mm256_blendv_pd(*s0, s, ok);
    *m0 = _mm256_blendv_pd(*m0, m, ok);
    *err = dq_cerr4(sh, shx, shxx, shl, shll, shxl, *s0, *m0);
}

typedef struct {
    dq_d8 s, m, err;
    __m256 shl, shll, shxl;
} dq_best8;

static void dq_cand8(const dq_tbatch *t, const dq_stat8 *st, __m256 lo, __m256 inv, __m256 qmax,
                     int all, dq_best8 *b) {
    __m256 shl, shll, shxl;
    dq_sums8(t, lo, inv, qmax, &shl, &shll, &shxl);
    const dq_d8 fs = d8_of(_mm256_div_ps(_mm256_set1_ps(1.0f), inv)), fm = d8_of(lo);
    const dq_d8 l1 = d8_of(shl), l2 = d8_of(shll), l3 = d8_of(shxl);
    __m256d s[2] = {fs.a, fs.b}, m[2] = {fm.a, fm.b}, e[2];
    dq_fit4(st->sh.a, st->shx.a, st->shxx.a, l1.a, l2.a, l3.a, &s[0], &m[0], &e[0]);
    dq_fit4(st->sh.b, st->shx.b, st->shxx.b, l1.b, l2.b, l3.b, &s[1], &m[1], &e[1]);
    const __m256d allm = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    const __m256d ta = all ? allm : _mm256_cmp_pd(e[0], b->err.a, _CMP_LT_OQ);
    const __m256d tb = all ? allm : _mm256_cmp_pd(e[1], b->err.b, _CMP_LT_OQ);
    b->s = (dq_d8){_mm256_blendv_pd(b->s.a, s[0], ta), _mm256_blendv_pd(b->s.b, s[1], tb)};
    b->m = (dq_d8){_mm256_blendv_pd(b->m.a, m[0], ta), _mm256_blendv_pd(b->m.b, m[1], tb)};
    b->err = (dq_d8){_mm256_blendv_pd(b->err.a, e[0], ta), _mm256_blendv_pd(b->err.b, e[1], tb)};
    const __m256 t8 = mask_f8(ta, tb);
    b->shl = _mm256_blendv_ps(b->shl, shl, t8);
    b->shll = _mm256_blendv_ps(b->shll, shll, t8);
    b->shxl = _mm256_blendv_ps(b->shxl, shxl, t8);
}

static void dq_store_stat(const dq_stat8 *s, aq_dq_gstat *out) {
    double sh[8], shx[8], shxx[8];
    float lo[8], hi[8];
    _mm256_storeu_pd(sh, s->sh.a);
    _mm256_storeu_pd(sh + 4, s->sh.b);
    _mm256_storeu_pd(shx, s->shx.a);
    _mm256_storeu_pd(shx + 4, s->shx.b);
    _mm256_storeu_pd(shxx, s->shxx.a);
    _mm256_storeu_pd(shxx + 4, s->shxx.b);
    _mm256_storeu_ps(lo, s->lo);
    _mm256_storeu_ps(hi, s->hi);
    for (int g = 0; g < 8; ++g)
        out[g] = (aq_dq_gstat){sh[g], shx[g], shxx[g], lo[g], hi[g]};
}

static void dq_store_sums(__m256 shl, __m256 shll, __m256 shxl, aq_dq_csums *out) {
    float a[8], b[8], c[8];
    _mm256_storeu_ps(a, shl);
    _mm256_storeu_ps(b, shll);
    _mm256_storeu_ps(c, shxl);
    for (int g = 0; g < 8; ++g)
        out[g] = (aq_dq_csums){a[g], b[g], c[g]};
}

static void dq_targets8(const dq_tbatch *t, float qmaxf, float step, aq_dq_gstat *st, float *s,
                        float *m, aq_dq_csums *cs) {
    const __m256 qmax = _mm256_set1_ps(qmaxf), zero = _mm256_setzero_ps();
    dq_stat8 g;
    dq_stats8(t, &g);
    const __m256 pos = mask_f8(_mm256_cmp_pd(g.sh.a, _mm256_setzero_pd(), _CMP_GT_OQ),
                               _mm256_cmp_pd(g.sh.b, _mm256_setzero_pd(), _CMP_GT_OQ));
    const __m256 live = _mm256_and_ps(pos, _mm256_cmp_ps(g.hi, g.lo, _CMP_GT_OQ));
    const dq_d8 q = {_mm256_div_pd(g.shx.a, g.sh.a), _mm256_div_pd(g.shx.b, g.sh.b)};
    __m256 mu = f8_of(q);
    mu = _mm256_blendv_ps(_mm256_blendv_ps(mu, g.hi, _mm256_cmp_ps(mu, g.hi, _CMP_GT_OQ)), g.lo,
                          _mm256_cmp_ps(mu, g.lo, _CMP_LT_OQ));
    const __m256 pull = _mm256_set1_ps(1.0f - step), one = _mm256_set1_ps(1.0f);
    const __m256 dlo = _mm256_sub_ps(g.lo, mu), dhi = _mm256_sub_ps(g.hi, mu);
    dq_best8 b;
    memset(&b, 0, sizeof b);
    for (int c = 0; c < 4; ++c) {
        const __m256 fa = (c & 2) ? pull : one, fb = (c & 1) ? pull : one;
        const __m256 clo = _mm256_add_ps(mu, _mm256_mul_ps(fa, dlo));
        const __m256 chi = _mm256_add_ps(mu, _mm256_mul_ps(fb, dhi));
        dq_cand8(t, &g, clo, _mm256_div_ps(qmax, _mm256_sub_ps(chi, clo)), qmax, c == 0, &b);
    }
    const dq_d8 ri = {_mm256_div_pd(_mm256_set1_pd(1.0), b.s.a),
                      _mm256_div_pd(_mm256_set1_pd(1.0), b.s.b)};
    dq_cand8(t, &g, f8_of(b.m), f8_of(ri), qmax, 0, &b);
    _mm256_storeu_ps(s, _mm256_blendv_ps(zero, f8_of(b.s), live));
    _mm256_storeu_ps(m, _mm256_blendv_ps(g.lo, f8_of(b.m), live));
    dq_store_stat(&g, st);
    dq_store_sums(_mm256_and_ps(b.shl, live), _mm256_and_ps(b.shll, live),
                  _mm256_and_ps(b.shxl, live), cs);
}

static void dq_targets(const aq_dq_batch *b, float step, aq_dq_gstat *st, float *s, float *m,
                       aq_dq_csums *cs) {
    int g = 0;
    if (b->G <= AQ_MAX_GROUP) {
        dq_tbatch t;
        for (; g + 8 <= b->ng; g += 8) {
            dq_load_batch(b, g, &t);
            dq_targets8(&t, b->qmaxf, step, st + g, s + g, m + g, cs + g);
        }
    }
    if (g < b->ng) {
        const size_t off = (size_t)g * (size_t)b->G;
        const aq_dq_batch r = {b->x + off, b->h ? b->h + off : NULL, b->G, b->ng - g, b->qmaxf};
        aq_dq_targets_ref(&r, step, st + g, s + g, m + g, cs + g);
    }
}

static void dq_load_stat(const aq_dq_gstat *st, dq_stat8 *g) {
    double sh[8], shx[8], shxx[8];
    for (int i = 0; i < 8; ++i) {
        sh[i] = st[i].sh;
        shx[i] = st[i].shx;
        shxx[i] = st[i].shxx;
    }
    g->sh = d8_load(sh);
    g->shx = d8_load(shx);
    g->shxx = d8_load(shxx);
}

static void dq_load_sums(const aq_dq_csums *cs, dq_d8 *shl, dq_d8 *shll, dq_d8 *shxl) {
    float a[8], b[8], c[8];
    for (int i = 0; i < 8; ++i) {
        a[i] = cs[i].shl;
        b[i] = cs[i].shll;
        c[i] = cs[i].shxl;
    }
    *shl = d8_of(_mm256_loadu_ps(a));
    *shll = d8_of(_mm256_loadu_ps(b));
    *shxl = d8_of(_mm256_loadu_ps(c));
}

static inline void dq_cerr8(const dq_stat8 *g, dq_d8 shl, dq_d8 shll, dq_d8 shxl, __m256 s,
                            __m256 m, dq_d8 *e) {
    const dq_d8 sd = d8_of(s), md = d8_of(m);
    e->a = dq_cerr4(g->sh.a, g->shx.a, g->shxx.a, shl.a, shll.a, shxl.a, sd.a, md.a);
    e->b = dq_cerr4(g->sh.b, g->shx.b, g->shxx.b, shl.b, shll.b, shxl.b, sd.b, md.b);
}

static inline __m256i clampq8(__m256 v, __m256 qf) { /* clampq() of dq.c */
    v = _mm256_max_ps(v, _mm256_setzero_ps());
    v = _mm256_min_ps(v, qf);
    return _mm256_cvttps_epi32(v);
}

/* 8 lanes of epi32 0..255 -> 8 bytes. */
static inline void store_u8x8(__m256i v, uint8_t *out) {
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)out, _mm_packus_epi16(w, w));
}

static void dq_pick8(const dq_tbatch *t, float qmaxf, int q, int radius, const aq_dq_gstat *st,
                     const float *s, const float *m, const aq_dq_csums *cs_in, const float *d,
                     const float *dmin, uint8_t *osc, uint8_t *omc, aq_dq_csums *ocs,
                     double *oerr) {
    const __m256 qmax = _mm256_set1_ps(qmaxf), qf = _mm256_set1_ps((float)q),
                 zero = _mm256_setzero_ps();
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256i vq = _mm256_set1_epi32(q), neg1 = _mm256_set1_epi32(-1),
                  zi = _mm256_setzero_si256();
    dq_stat8 g;
    dq_load_stat(st, &g);
    dq_d8 il, ill, ixl;
    dq_load_sums(cs_in, &il, &ill, &ixl);
    const __m256 vd = _mm256_loadu_ps(d), vm = _mm256_loadu_ps(dmin);
    const __m256 id = _mm256_and_ps(_mm256_cmp_ps(vd, zero, _CMP_GT_OQ), _mm256_div_ps(one, vd));
    const __m256 im = _mm256_and_ps(_mm256_cmp_ps(vm, zero, _CMP_NEQ_UQ), _mm256_div_ps(one, vm));
    const __m256i s0 = clampq8(_mm256_mul_ps(_mm256_loadu_ps(s), id), qf);
    const __m256i m0 = clampq8(_mm256_mul_ps(_mm256_loadu_ps(m), im), qf);
    __m256i sc = s0, mc = m0;
    dq_d8 best = {_mm256_setzero_pd(), _mm256_setzero_pd()};
    const __m256d allm = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    for (int a = 0; a < 2; ++a) /* closed form, codes of cs_in held fixed */
        for (int c = 0; c < 2; ++c) {
            const __m256i si = _mm256_min_epi32(_mm256_add_epi32(s0, _mm256_set1_epi32(a)), vq);
            const __m256i mi = _mm256_min_epi32(_mm256_add_epi32(m0, _mm256_set1_epi32(c)), vq);
            dq_d8 e;
            dq_cerr8(&g, il, ill, ixl, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(si)),
                     _mm256_mul_ps(vm, _mm256_cvtepi32_ps(mi)), &e);
            const int first = a == 0 && c == 0;
            const __m256d ta = first ? allm : _mm256_cmp_pd(e.a, best.a, _CMP_LT_OQ);
            const __m256d tb = first ? allm : _mm256_cmp_pd(e.b, best.b, _CMP_LT_OQ);
            best = (dq_d8){_mm256_blendv_pd(best.a, e.a, ta), _mm256_blendv_pd(best.b, e.b, tb)};
            const __m256i t8 = _mm256_castps_si256(mask_f8(ta, tb));
            sc = _mm256_blendv_epi8(sc, si, t8);
            mc = _mm256_blendv_epi8(mc, mi, t8);
        }
    const __m256i sc0 = sc, mc0 = mc;
    __m256 bl = zero, bll = zero, bxl = zero;
    __m256i have = _mm256_setzero_si256();
    for (int a = -radius; a <= radius; ++a) /* trials, codes re-encoded */
        for (int c = -radius; c <= radius; ++c) {
            const __m256i si = _mm256_add_epi32(sc0, _mm256_set1_epi32(a));
            const __m256i mi = _mm256_add_epi32(mc0, _mm256_set1_epi32(c));
            const __m256i bad = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpgt_epi32(zi, si), _mm256_cmpgt_epi32(si, vq)),
                _mm256_or_si256(_mm256_cmpgt_epi32(zi, mi), _mm256_cmpgt_epi32(mi, vq)));
            const __m256i valid = _mm256_xor_si256(bad, neg1);
            if (_mm256_testz_si256(valid, valid)) continue;
            const __m256 scale = _mm256_mul_ps(vd, _mm256_cvtepi32_ps(si));
            const __m256 mn = _mm256_mul_ps(vm, _mm256_cvtepi32_ps(mi));
            const __m256 inv =
                _mm256_and_ps(_mm256_cmp_ps(scale, zero, _CMP_GT_OQ), _mm256_div_ps(one, scale));
            __m256 l1, l2, l3;
            dq_sums8(t, mn, inv, qmax, &l1, &l2, &l3);
            dq_d8 e;
            dq_cerr8(&g, d8_of(l1), d8_of(l2), d8_of(l3), scale, mn, &e);
            const __m256i lt = _mm256_castps_si256(mask_f8(_mm256_cmp_pd(e.a, best.a, _CMP_LT_OQ),
                                                           _mm256_cmp_pd(e.b, best.b, _CMP_LT_OQ)));
            const __m256i take =
                _mm256_and_si256(valid, _mm256_or_si256(_mm256_xor_si256(have, neg1), lt));
            have = _mm256_or_si256(have, valid);
            const dq_d8 td = mask_d8(_mm256_castsi256_ps(take));
            best =
                (dq_d8){_mm256_blendv_pd(best.a, e.a, td.a), _mm256_blendv_pd(best.b, e.b, td.b)};
            sc = _mm256_blendv_epi8(sc, si, take);
            mc = _mm256_blendv_epi8(mc, mi, take);
            const __m256 tf = _mm256_castsi256_ps(take);
            bl = _mm256_blendv_ps(bl, l1, tf);
            bll = _mm256_blendv_ps(bll, l2, tf);
            bxl = _mm256_blendv_ps(bxl, l3, tf);
        }
    store_u8x8(sc, osc);
    store_u8x8(mc, omc);
    dq_store_sums(bl, bll, bxl, ocs);
    _mm256_storeu_pd(oerr, best.a);
    _mm256_storeu_pd(oerr + 4, best.b);
}

static void dq_pick(const aq_dq_batch *b, int subq, int radius, const aq_dq_gstat *st,
                    const float *s, const float *m, const aq_dq_csums *cs_in, const float *d,
                    const float *dmin, uint8_t *sc, uint8_t *mc, aq_dq_csums *cs, double *err) {
    int g = 0;
    if (b->G <= AQ_MAX_GROUP) {
        dq_tbatch t;
        for (; g + 8 <= b->ng; g += 8) {
            dq_load_batch(b, g, &t);
            dq_pick8(&t, b->qmaxf, subq, radius, st + g, s + g, m + g, cs_in + g, d + g, dmin + g,
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

const aq_kernels_t aq_kernels_avx2 = {
    .name = "avx2",
    .simd = AQ_SIMD_AVX2,
    .convert = convert,
    .minmax = minmax,
    .encode_pack = encode_pack,
    .dequant = dequant,
    .err_sums = err_sums,
    .group_wsse = group_wsse,
    .round2 = aq_round2_ref,
    .wconst = wconst,
    .mse_eval = mse_eval,
    .first_nonfinite = first_nonfinite,
    .rtn_params = rtn_params,
    .store_params = aq_store_params_ref,
    .encode_row = encode_row,
    .dq_targets = dq_targets,
    .dq_pick = dq_pick,
};

#endif /* x86 */
