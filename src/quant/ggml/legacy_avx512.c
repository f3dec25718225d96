/*
 * aq-mpi — AVX-512 twins of the ggml legacy candidate evaluators (legacy_impl.h): 16
 * candidates per vector, one lane per candidate, elements j = 0..31 in the reference's order
 * and the reference's float32 operations per lane (no FMA: built with -ffp-contract=off and
 * without -mfma), so every result is bit-identical to legacy_ref.c.  Compare-select min/max
 * have lg_min / lg_max semantics; fp16 rounding is vcvtps2ph (round to nearest even, as
 * aq_f32_to_f16).  A remainder of fewer than 16 candidates goes to the reference.
 */
#include "legacy_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Rounding immediate: a macro, the intrinsics need a constant even at -O0. */
#define LG_RM (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* lg_code() with one rounding instruction: the same value as the reference's magic addition
 * except the sign of a zero code (-0 for v in (-0.5, -0]), which nothing observes: w l = +-0
 * added to a sum leaves it unchanged (the sums start at +0 and x + -x is +0), and
 * e = x - (+-0 d) squares alike, so every returned d, m, err is bit-identical (tested). */
static inline __m512 code16(__m512 v, __m512 lo, __m512 hi) {
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    return _mm512_roundscale_ps(v, LG_RM);
}

static inline __m512 f16_clamp_round16(__m512 v) {
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-LG_F16_MAX)), _mm512_set1_ps(LG_F16_MAX));
    return _mm512_cvtph_ps(_mm512_cvtps_ph(v, LG_RM));
}

static void store_fits(__m512 d, __m512 m, __m512 err, lg_fit *out) {
    float fd[16], fm[16], fe[16];
    _mm512_storeu_ps(fd, d);
    _mm512_storeu_ps(fm, m);
    _mm512_storeu_ps(fe, err);
    for (int c = 0; c < 16; ++c)
        out[c] = (lg_fit){fd[c], fm[c], fe[c]};
}

static void sym16(const lg_block *b, __m512 lo, __m512 hi, __m512 is, lg_fit *out) {
    __m512 sll = _mm512_setzero_ps(), sxl = _mm512_setzero_ps();
    for (int j = 0; j < LG_QK; ++j) {
        const __m512 x = _mm512_set1_ps(b->x[j]);
        const __m512 l = code16(_mm512_mul_ps(x, is), lo, hi);
        const __m512 wl = _mm512_mul_ps(_mm512_set1_ps(b->w[j]), l);
        sll = _mm512_add_ps(sll, _mm512_mul_ps(wl, l));
        sxl = _mm512_add_ps(sxl, _mm512_mul_ps(wl, x));
    }
    const __m512 zero = _mm512_setzero_ps();
    __m512 d = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(sll, zero, _CMP_GT_OQ), sxl, sll);
    d = f16_clamp_round16(d);
    const __m512 id =
        _mm512_maskz_div_ps(_mm512_cmp_ps_mask(d, zero, _CMP_NEQ_OQ), _mm512_set1_ps(1.0f), d);
    __m512 err = zero;
    for (int j = 0; j < LG_QK; ++j) {
        const __m512 x = _mm512_set1_ps(b->x[j]);
        const __m512 l = code16(_mm512_mul_ps(x, id), lo, hi);
        const __m512 e = _mm512_sub_ps(x, _mm512_mul_ps(l, d));
        err = _mm512_add_ps(err, _mm512_mul_ps(_mm512_set1_ps(b->w[j]), _mm512_mul_ps(e, e)));
    }
    store_fits(d, zero, err, out);
}

void lg_eval_sym_avx512(const lg_block *b, float lo, float hi, const float *is, int nc,
                        lg_fit *out) {
    int c = 0;
    for (; c + 16 <= nc; c += 16)
        sym16(b, _mm512_set1_ps(lo), _mm512_set1_ps(hi), _mm512_loadu_ps(is + c), out + c);
    if (c < nc) lg_eval_sym_ref(b, lo, hi, is + c, nc - c, out + c);
}

static void asym16(const lg_block *b, __m512 nmax, __m512 lo, __m512 is, lg_fit *out) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    const __m512 fmax = _mm512_set1_ps(LG_F16_MAX);
    __m512 sl = zero, sll = zero, sxl = zero;
    for (int j = 0; j < LG_QK; ++j) {
        const __m512 x = _mm512_set1_ps(b->x[j]);
        const __m512 l = code16(_mm512_mul_ps(_mm512_sub_ps(x, lo), is), zero, nmax);
        const __m512 wl = _mm512_mul_ps(_mm512_set1_ps(b->w[j]), l);
        sl = _mm512_add_ps(sl, wl);
        sll = _mm512_add_ps(sll, _mm512_mul_ps(wl, l));
        sxl = _mm512_add_ps(sxl, _mm512_mul_ps(wl, x));
    }
    const __m512 sw = _mm512_set1_ps(b->sw), sx = _mm512_set1_ps(b->sx);
    const __m512 det = _mm512_sub_ps(_mm512_mul_ps(sw, sll), _mm512_mul_ps(sl, sl));
    __m512 d = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sw, sxl), _mm512_mul_ps(sx, sl)), det);
    __m512 m = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sll, sx), _mm512_mul_ps(sl, sxl)), det);
    __mmask16 ok = _mm512_cmp_ps_mask(det, zero, _CMP_GT_OQ);
    ok &= _mm512_cmp_ps_mask(_mm512_abs_ps(d), fmax, _CMP_LE_OQ);
    ok &= _mm512_cmp_ps_mask(_mm512_abs_ps(m), fmax, _CMP_LE_OQ);
    d = _mm512_mask_blend_ps(ok, _mm512_div_ps(one, is), d);
    m = _mm512_mask_blend_ps(ok, lo, m);
    d = f16_clamp_round16(d);
    m = f16_clamp_round16(m);
    const __m512 id = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(d, zero, _CMP_GT_OQ), one, d);
    __m512 err = zero;
    for (int j = 0; j < LG_QK; ++j) {
        const __m512 x = _mm512_set1_ps(b->x[j]);
        const __m512 l = code16(_mm512_mul_ps(_mm512_sub_ps(x, m), id), zero, nmax);
        const __m512 e = _mm512_sub_ps(x, _mm512_add_ps(_mm512_mul_ps(l, d), m));
        err = _mm512_add_ps(err, _mm512_mul_ps(_mm512_set1_ps(b->w[j]), _mm512_mul_ps(e, e)));
    }
    store_fits(d, m, err, out);
}

void lg_eval_asym_avx512(const lg_block *b, float nmax, const float *lo, const float *is, int nc,
                         lg_fit *out) {
    int c = 0;
    for (; c + 16 <= nc; c += 16)
        asym16(b, _mm512_set1_ps(nmax), _mm512_loadu_ps(lo + c), _mm512_loadu_ps(is + c), out + c);
    if (c < nc) lg_eval_asym_ref(b, nmax, lo + c, is + c, nc - c, out + c);
}

const lg_kernels lg_kernels_avx512 = {lg_eval_sym_avx512, lg_eval_asym_avx512};

#else /* not x86: the twin is the reference */

void lg_eval_sym_avx512(const lg_block *b, float lo, float hi, const float *is, int nc,
                        lg_fit *out) {
    lg_eval_sym_ref(b, lo, hi, is, nc, out);
}
void lg_eval_asym_avx512(const lg_block *b, float nmax, const float *lo, const float *is, int nc,
                         lg_fit *out) {
    lg_eval_asym_ref(b, nmax, lo, is, nc, out);
}
const lg_kernels lg_kernels_avx512 = {lg_eval_sym_ref, lg_eval_asym_ref};

#endif

int aq_ggml_quantize_row_q8_0_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q8_0, &lg_kernels_avx512, x, h, n, blocks);
}
int aq_ggml_quantize_row_q4_0_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q4_0, &lg_kernels_avx512, x, h, n, blocks);
}
int aq_ggml_quantize_row_q4_1_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q4_1, &lg_kernels_avx512, x, h, n, blocks);
}
int aq_ggml_quantize_row_q5_0_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q5_0, &lg_kernels_avx512, x, h, n, blocks);
}
int aq_ggml_quantize_row_q5_1_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q5_1, &lg_kernels_avx512, x, h, n, blocks);
}
