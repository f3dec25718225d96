/*
 * aq-mpi — AVX2 entry points of the k-quant encoders (include/aq/ggml_kquants.h): the
 * same search as kquant_ref.c on the AVX2 kernel table (the dq kernels of simd_avx2.c
 * for Q2_K / Q4_K / Q5_K and the signed-scale sums below for Q3_K / Q6_K), bit-identical
 * to the reference: lane = group, the reference's float operations per element in j order
 * (no FMA: compiled with -ffp-contract=off, CMakeLists.txt).  Call only when
 * aq_ggml_kquant_isa() says the CPU has the ISA.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kquant_impl.h"

/* aq_kq_scode() on 8 lanes: max(v, lo) gives lo for NaN as the reference's v > lo ? v : lo. */
static inline __m256 scode(__m256 v, __m256 lo, __m256 hi) {
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    v = _mm256_max_ps(v, lo);
    v = _mm256_min_ps(v, hi);
    return _mm256_sub_ps(_mm256_add_ps(v, magic), magic);
}

/* aq_kq_ssums_ref() with 8 groups per vector, reading the transposed xt / ht. */
static void ssums(const aq_kq_sbatch *b, const float *inv, aq_kq_ssums *out) {
    const __m256 lo = _mm256_set1_ps((float)-b->nlo), hi = _mm256_set1_ps((float)(b->nlo - 1));
    for (int g0 = 0; g0 < AQ_KQ_SG; g0 += 8) {
        const __m256 iv = _mm256_loadu_ps(inv + g0);
        __m256 sll = _mm256_setzero_ps(), sxl = _mm256_setzero_ps();
        for (int j = 0; j < AQ_KQ_SG; ++j) {
            const __m256 x = _mm256_loadu_ps(b->xt + AQ_KQ_SG * j + g0);
            const __m256 l = scode(_mm256_mul_ps(x, iv), lo, hi);
            const __m256 hl =
                b->ht ? _mm256_mul_ps(_mm256_loadu_ps(b->ht + AQ_KQ_SG * j + g0), l) : l;
            sll = _mm256_add_ps(sll, _mm256_mul_ps(hl, l));
            sxl = _mm256_add_ps(sxl, _mm256_mul_ps(hl, x));
        }
        float a[8], c[8];
        _mm256_storeu_ps(a, sll);
        _mm256_storeu_ps(c, sxl);
        for (int g = 0; g < 8; ++g)
            out[g0 + g] = (aq_kq_ssums){a[g], c[g]};
    }
}

const aq_kq_kernels aq_kq_kernels_avx2 = {&aq_kernels_avx2, ssums};

void aq_ggml_quantize_row_q2_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx2, 2, x, h, n, blocks);
}

void aq_ggml_quantize_row_q3_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_sym(&aq_kq_kernels_avx2, 3, x, h, n, blocks);
}

void aq_ggml_quantize_row_q4_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx2, 4, x, h, n, blocks);
}

void aq_ggml_quantize_row_q5_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx2, 5, x, h, n, blocks);
}

void aq_ggml_quantize_row_q6_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_sym(&aq_kq_kernels_avx2, 6, x, h, n, blocks);
}
#endif
