/*
 * aq-mpi — AVX512 entry points of the k-quant encoders (include/aq/ggml_kquants.h): the
 * same search as kquant_ref.c on the AVX512 kernel table (the dq kernels of simd_avx512.c
 * for Q2_K / Q4_K / Q5_K and the signed-scale sums below for Q3_K / Q6_K), bit-identical
 * to the reference: lane = group, the reference's float operations per element in j order
 * (no FMA: compiled with -ffp-contract=off, CMakeLists.txt).  Call only when
 * aq_ggml_kquant_isa() says the CPU has the ISA.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kquant_impl.h"

/* aq_kq_scode() on 16 lanes: max(v, lo) gives lo for NaN as the reference's v > lo ? v : lo. */
static inline __m512 scode(__m512 v, __m512 lo, __m512 hi) {
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    v = _mm512_max_ps(v, lo);
    v = _mm512_min_ps(v, hi);
    return _mm512_sub_ps(_mm512_add_ps(v, magic), magic);
}

/* aq_kq_ssums_ref() with 16 groups per vector, reading the transposed xt / ht. */
static void ssums(const aq_kq_sbatch *b, const float *inv, aq_kq_ssums *out) {
    const __m512 lo = _mm512_set1_ps((float)-b->nlo), hi = _mm512_set1_ps((float)(b->nlo - 1));
    for (int g0 = 0; g0 < AQ_KQ_SG; g0 += 16) {
        const __m512 iv = _mm512_loadu_ps(inv + g0);
        __m512 sll = _mm512_setzero_ps(), sxl = _mm512_setzero_ps();
        for (int j = 0; j < AQ_KQ_SG; ++j) {
            const __m512 x = _mm512_loadu_ps(b->xt + AQ_KQ_SG * j + g0);
            const __m512 l = scode(_mm512_mul_ps(x, iv), lo, hi);
            const __m512 hl =
                b->ht ? _mm512_mul_ps(_mm512_loadu_ps(b->ht + AQ_KQ_SG * j + g0), l) : l;
            sll = _mm512_add_ps(sll, _mm512_mul_ps(hl, l));
            sxl = _mm512_add_ps(sxl, _mm512_mul_ps(hl, x));
        }
        float a[16], c[16];
        _mm512_storeu_ps(a, sll);
        _mm512_storeu_ps(c, sxl);
        for (int g = 0; g < 16; ++g)
            out[g0 + g] = (aq_kq_ssums){a[g], c[g]};
    }
}

const aq_kq_kernels aq_kq_kernels_avx512 = {&aq_kernels_avx512, ssums};

void aq_ggml_quantize_row_q2_k_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx512, 2, x, h, n, blocks);
}

void aq_ggml_quantize_row_q3_k_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_sym(&aq_kq_kernels_avx512, 3, x, h, n, blocks);
}

void aq_ggml_quantize_row_q4_k_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx512, 4, x, h, n, blocks);
}

void aq_ggml_quantize_row_q5_k_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx512, 5, x, h, n, blocks);
}

void aq_ggml_quantize_row_q6_k_avx512(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_sym(&aq_kq_kernels_avx512, 6, x, h, n, blocks);
}
#endif
