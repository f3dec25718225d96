/*
 * aq-mpi — AVX2 (+F16C) twins of the ggml legacy candidate evaluators (legacy_impl.h): 8
 * candidates per vector, one lane per candidate, elements j = 0..31 in the reference's order
 * and the reference's float32 operations per lane (no FMA: built with -ffp-contract=off and
 * without -mfma), so every result is bit-identical to legacy_ref.c.  vmaxps / vminps have
 * lg_max / lg_min semantics (the second operand on NaN or equal zeros); fp16 rounding is
 * vcvtps2ph (round to nearest even, as aq_f32_to_f16).  Masked divisions are a division
 * followed by an AND with the mask (the unused lanes may hold Inf: they are discarded).
 * A remainder of fewer than 8 candidates goes to the reference.
 */
#include "legacy_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define LG_RM (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* lg_code() with one rounding instruction: the same value as the reference's magic addition
 * except the sign of a zero code (-0 for v in (-0.5, -0]), which nothing observes: w l = +-0
 * added to a sum leaves it unchanged (the sums start at +0 and x + -x is +0), and
 * e = x - (+-0 d) squares alike, so every returned d, m, err is bit-identical (tested). */
static inline __m256 code8(__m256 v, __m256 lo, __m256 hi) {
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    return _mm256_round_ps(v, LG_RM);
}

static inline __m256 f16_clamp_round8(__m256 v) {
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-LG_F16_MAX)), _mm256_set1_ps(LG_F16_MAX));
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, LG_RM));
}

static inline __m256 abs8(__m256 v) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

static void store_fits(__m256 d, __m256 m, __m256 err, lg_fit *out) {
    float fd[8], fm[8], fe[8];
    _mm256_storeu_ps(fd, d);
    _mm256_storeu_ps(fm, m);
    _mm256_storeu_ps(fe, err);
    for (int c = 0; c < 8; ++c)
        out[c] = (lg_fit){fd[c], fm[c], fe[c]};
}

static void sym8(const lg_block *b, __m256 lo, __m256 hi, __m256 is, lg_fit *out) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 sll = zero, sxl = zero;
    for (int j = 0; j < LG_QK; ++j) {
        const __m256 x = _mm256_set1_ps(b->x[j]);
        const __m256 l = code8(_mm256_mul_ps(x, is), lo, hi);
        const __m256 wl = _mm256_mul_ps(_mm256_set1_ps(b->w[j]), l);
        sll = _mm256_add_ps(sll, _mm256_mul_ps(wl, l));
        sxl = _mm256_add_ps(sxl, _mm256_mul_ps(wl, x));
    }
    __m256 d = _mm256_and_ps(_mm256_cmp_ps(sll, zero, _CMP_GT_OQ), _mm256_div_ps(sxl, sll));
    d = f16_clamp_round8(d);
    const __m256 id =
        _mm256_and_ps(_mm256_cmp_ps(d, zero, _CMP_NEQ_OQ), _mm256_div_ps(_mm256_set1_ps(1.0f), d));
    __m256 err = zero;
    for (int j = 0; j < LG_QK; ++j) {
        const __m256 x = _mm256_set1_ps(b->x[j]);
        const __m256 l = code8(_mm256_mul_ps(x, id), lo, hi);
        const __m256 e = _mm256_sub_ps(x, _mm256_mul_ps(l, d));
        err = _mm256_add_ps(err, _mm256_mul_ps(_mm256_set1_ps(b->w[j]), _mm256_mul_ps(e, e)));
    }
    store_fits(d, zero, err, out);
}

void lg_eval_sym_avx2(const lg_block *b, float lo, float hi, const float *is, int nc, lg_fit *out) {
    int c = 0;
    for (; c + 8 <= nc; c += 8)
        sym8(b, _mm256_set1_ps(lo), _mm256_set1_ps(hi), _mm256_loadu_ps(is + c), out + c);
    if (c < nc) lg_eval_sym_ref(b, lo, hi, is + c, nc - c, out + c);
}

static void asym8(const lg_block *b, __m256 nmax, __m256 lo, __m256 is, lg_fit *out) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    const __m256 fmax = _mm256_set1_ps(LG_F16_MAX);
    __m256 sl = zero, sll = zero, sxl = zero;
    for (int j = 0; j < LG_QK; ++j) {
        const __m256 x = _mm256_set1_ps(b->x[j]);
        const __m256 l = code8(_mm256_mul_ps(_mm256_sub_ps(x, lo), is), zero, nmax);
        const __m256 wl = _mm256_mul_ps(_mm256_set1_ps(b->w[j]), l);
        sl = _mm256_add_ps(sl, wl);
        sll = _mm256_add_ps(sll, _mm256_mul_ps(wl, l));
        sxl = _mm256_add_ps(sxl, _mm256_mul_ps(wl, x));
    }
    const __m256 sw = _mm256_set1_ps(b->sw), sx = _mm256_set1_ps(b->sx);
    const __m256 det = _mm256_sub_ps(_mm256_mul_ps(sw, sll), _mm256_mul_ps(sl, sl));
    __m256 d = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sw, sxl), _mm256_mul_ps(sx, sl)), det);
    __m256 m = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sll, sx), _mm256_mul_ps(sl, sxl)), det);
    __m256 ok = _mm256_cmp_ps(det, zero, _CMP_GT_OQ);
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(abs8(d), fmax, _CMP_LE_OQ));
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(abs8(m), fmax, _CMP_LE_OQ));
    d = _mm256_blendv_ps(_mm256_div_ps(one, is), d, ok);
    m = _mm256_blendv_ps(lo, m, ok);
    d = f16_clamp_round8(d);
    m = f16_clamp_round8(m);
    const __m256 id = _mm256_and_ps(_mm256_cmp_ps(d, zero, _CMP_GT_OQ), _mm256_div_ps(one, d));
    __m256 err = zero;
    for (int j = 0; j < LG_QK; ++j) {
        const __m256 x = _mm256_set1_ps(b->x[j]);
        const __m256 l = code8(_mm256_mul_ps(_mm256_sub_ps(x, m), id), zero, nmax);
        const __m256 e = _mm256_sub_ps(x, _mm256_add_ps(_mm256_mul_ps(l, d), m));
        err = _mm256_add_ps(err, _mm256_mul_ps(_mm256_set1_ps(b->w[j]), _mm256_mul_ps(e, e)));
    }
    store_fits(d, m, err, out);
}

void lg_eval_asym_avx2(const lg_block *b, float nmax, const float *lo, const float *is, int nc,
                       lg_fit *out) {
    int c = 0;
    for (; c + 8 <= nc; c += 8)
        asym8(b, _mm256_set1_ps(nmax), _mm256_loadu_ps(lo + c), _mm256_loadu_ps(is + c), out + c);
    if (c < nc) lg_eval_asym_ref(b, nmax, lo + c, is + c, nc - c, out + c);
}

const lg_kernels lg_kernels_avx2 = {lg_eval_sym_avx2, lg_eval_asym_avx2};

#else /* not x86: the twin is the reference */

void lg_eval_sym_avx2(const lg_block *b, float lo, float hi, const float *is, int nc, lg_fit *out) {
    lg_eval_sym_ref(b, lo, hi, is, nc, out);
}
void lg_eval_asym_avx2(const lg_block *b, float nmax, const float *lo, const float *is, int nc,
                       lg_fit *out) {
    lg_eval_asym_ref(b, nmax, lo, is, nc, out);
}
const lg_kernels lg_kernels_avx2 = {lg_eval_sym_ref, lg_eval_asym_ref};

#endif

int aq_ggml_quantize_row_q8_0_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q8_0, &lg_kernels_avx2, x, h, n, blocks);
}
int aq_ggml_quantize_row_q4_0_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q4_0, &lg_kernels_avx2, x, h, n, blocks);
}
int aq_ggml_quantize_row_q4_1_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q4_1, &lg_kernels_avx2, x, h, n, blocks);
}
int aq_ggml_quantize_row_q5_0_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q5_0, &lg_kernels_avx2, x, h, n, blocks);
}
int aq_ggml_quantize_row_q5_1_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q5_1, &lg_kernels_avx2, x, h, n, blocks);
}
