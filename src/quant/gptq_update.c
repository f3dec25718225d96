/*
 * aq-mpi — GPTQ's update kernel (aq_gptq_update(), include/aq/gptq.h):
 *     W[r, j] = fmaf(-E[r, k], U[k, j], W[r, j])   for k = 0..K-1 in ascending order.
 * The scalar reference and its AVX2 / AVX-512 twins evaluate exactly this: one fused
 * multiply-add per (r, j, k), k ascending, so they agree bit for bit and a row's result does
 * not depend on how rows and columns are tiled (no BLAS: its summation order is not specified
 * and differs between its small-matrix and blocked paths).
 *
 * Tiling of the twins: 4 rows x 2 vectors of columns per register tile (8 accumulators, the
 * FMA latency x throughput of current cores), k innermost, so a K x (2 vectors) tile of U stays
 * in L1 while the rows of the panel stream past it.  The twins are compiled for their ISA with
 * function target attributes and only called when the kernel set says the CPU has it.
 */
#include <math.h>

#include "aq/gptq.h"
#include "quant_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AQ_GPTQ_X86 1
#endif

static void update_ref(int R, int K, int64_t ncols, const float *E, int64_t lde, const float *U,
                       int64_t ldu, float *W, int64_t ldw) {
    for (int r = 0; r < R; ++r) {
        float *w = W + r * ldw;
        const float *e = E + r * lde;
        for (int64_t j = 0; j < ncols; ++j) {
            float acc = w[j];
            for (int k = 0; k < K; ++k)
                acc = fmaf(-e[k], U[k * ldu + j], acc);
            w[j] = acc;
        }
    }
}

#ifdef AQ_GPTQ_X86

/* Columns [j, j + n) of rows [r0, r0 + nr) with the reference (tails of the twins). */
static void tail_ref(int nr, int K, int64_t j, int64_t n, const float *E, int64_t lde,
                     const float *U, int64_t ldu, float *W, int64_t ldw) {
    update_ref(nr, K, n, E, lde, U + j, ldu, W + j, ldw);
}

__attribute__((target("avx2,fma"))) static void update_avx2(int R, int K, int64_t ncols,
                                                            const float *E, int64_t lde,
                                                            const float *U, int64_t ldu, float *W,
                                                            int64_t ldw) {
    const int64_t jv = ncols - ncols % 16;
    for (int64_t j = 0; j < jv; j += 16) {
        int r = 0;
        for (; r + 4 <= R; r += 4) {
            float *w0 = W + r * ldw + j;
            __m256 a[4][2];
            for (int i = 0; i < 4; ++i) {
                a[i][0] = _mm256_loadu_ps(w0 + i * ldw);
                a[i][1] = _mm256_loadu_ps(w0 + i * ldw + 8);
            }
            const float *e = E + r * lde;
            for (int k = 0; k < K; ++k) {
                const __m256 u0 = _mm256_loadu_ps(U + k * ldu + j);
                const __m256 u1 = _mm256_loadu_ps(U + k * ldu + j + 8);
                for (int i = 0; i < 4; ++i) {
                    const __m256 ek = _mm256_broadcast_ss(e + i * lde + k);
                    a[i][0] = _mm256_fnmadd_ps(ek, u0, a[i][0]);
                    a[i][1] = _mm256_fnmadd_ps(ek, u1, a[i][1]);
                }
            }
            for (int i = 0; i < 4; ++i) {
                _mm256_storeu_ps(w0 + i * ldw, a[i][0]);
                _mm256_storeu_ps(w0 + i * ldw + 8, a[i][1]);
            }
        }
        for (; r < R; ++r) {
            float *w0 = W + r * ldw + j;
            __m256 a0 = _mm256_loadu_ps(w0), a1 = _mm256_loadu_ps(w0 + 8);
            for (int k = 0; k < K; ++k) {
                const __m256 ek = _mm256_broadcast_ss(E + r * lde + k);
                a0 = _mm256_fnmadd_ps(ek, _mm256_loadu_ps(U + k * ldu + j), a0);
                a1 = _mm256_fnmadd_ps(ek, _mm256_loadu_ps(U + k * ldu + j + 8), a1);
            }
            _mm256_storeu_ps(w0, a0);
            _mm256_storeu_ps(w0 + 8, a1);
        }
    }
    if (jv < ncols) tail_ref(R, K, jv, ncols - jv, E, lde, U, ldu, W, ldw);
}

__attribute__((target("avx512f,fma"))) static void update_avx512(int R, int K, int64_t ncols,
                                                                 const float *E, int64_t lde,
                                                                 const float *U, int64_t ldu,
                                                                 float *W, int64_t ldw) {
    const int64_t jv = ncols - ncols % 32;
    for (int64_t j = 0; j < jv; j += 32) {
        int r = 0;
        for (; r + 4 <= R; r += 4) {
            float *w0 = W + r * ldw + j;
            __m512 a[4][2];
            for (int i = 0; i < 4; ++i) {
                a[i][0] = _mm512_loadu_ps(w0 + i * ldw);
                a[i][1] = _mm512_loadu_ps(w0 + i * ldw + 16);
            }
            const float *e = E + r * lde;
            for (int k = 0; k < K; ++k) {
                const __m512 u0 = _mm512_loadu_ps(U + k * ldu + j);
                const __m512 u1 = _mm512_loadu_ps(U + k * ldu + j + 16);
                for (int i = 0; i < 4; ++i) {
                    const __m512 ek = _mm512_set1_ps(e[i * lde + k]);
                    a[i][0] = _mm512_fnmadd_ps(ek, u0, a[i][0]);
                    a[i][1] = _mm512_fnmadd_ps(ek, u1, a[i][1]);
                }
            }
            for (int i = 0; i < 4; ++i) {
                _mm512_storeu_ps(w0 + i * ldw, a[i][0]);
                _mm512_storeu_ps(w0 + i * ldw + 16, a[i][1]);
            }
        }
        for (; r < R; ++r) {
            float *w0 = W + r * ldw + j;
            __m512 a0 = _mm512_loadu_ps(w0), a1 = _mm512_loadu_ps(w0 + 16);
            for (int k = 0; k < K; ++k) {
                const __m512 ek = _mm512_set1_ps(E[r * lde + k]);
                a0 = _mm512_fnmadd_ps(ek, _mm512_loadu_ps(U + k * ldu + j), a0);
                a1 = _mm512_fnmadd_ps(ek, _mm512_loadu_ps(U + k * ldu + j + 16), a1);
            }
            _mm512_storeu_ps(w0, a0);
            _mm512_storeu_ps(w0 + 16, a1);
        }
    }
    if (jv < ncols) tail_ref(R, K, jv, ncols - jv, E, lde, U, ldu, W, ldw);
}
#endif

void aq_gptq_update(const aq_kernels *k, int R, int K, int64_t ncols, const float *E, int64_t lde,
                    const float *U, int64_t ldu, float *W, int64_t ldw) {
    const aq_kernels_t *kt = k ? k : aq_kernels_select(0);
    if (R <= 0 || K <= 0 || ncols <= 0) return;
#ifdef AQ_GPTQ_X86
    if (kt && kt->simd == AQ_SIMD_AVX512) {
        update_avx512(R, K, ncols, E, lde, U, ldu, W, ldw);
        return;
    }
    if (kt && kt->simd == AQ_SIMD_AVX2) {
        update_avx2(R, K, ncols, E, lde, U, ldu, W, ldw);
        return;
    }
#else
    (void)kt;
#endif
    update_ref(R, K, ncols, E, lde, U, ldu, W, ldw);
}
