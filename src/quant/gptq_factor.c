/*
 * aq-mpi — the tiled Cholesky + triangular inverse of include/aq/gptq_factor.h: fixed tiles,
 * one single-threaded OpenBLAS / LAPACK call per tile operation, tasks shared by OpenMP.
 */
#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "aq/gptq_factor.h"

/* OpenBLAS's thread control (libopenblas, which provides BLAS and LAPACK here). */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

/* &A[i, j] of a column-major matrix with leading dimension ld */
static float *at(float *A, int64_t ld, int64_t i, int64_t j) {
    return A + (size_t)i + (size_t)j * (size_t)ld;
}

static int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

/* Right-looking tiled Cholesky (upper): 0 or the order of the failing leading minor. */
static int64_t cholesky(float *A, int64_t n, int64_t nb, int threads) {
    const int64_t T = (n + nb - 1) / nb;
    int64_t bad = 0;
#pragma omp parallel num_threads(threads)
    for (int64_t K = 0; K < T; ++K) {
        const int64_t k0 = K * nb, kb = min64(nb, n - k0);
#pragma omp single
        {
            const lapack_int info = LAPACKE_spotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int)kb,
                                                        at(A, n, k0, k0), (lapack_int)n);
            if (info != 0) bad = info > 0 ? k0 + info : k0 + 1;
        } /* barrier: every thread reads the same `bad` */
        if (bad != 0) break;
#pragma omp for schedule(dynamic, 1)
        for (int64_t J = K + 1; J < T; ++J) {
            const int64_t j0 = J * nb, jb = min64(nb, n - j0);
            cblas_strsm(CblasColMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, (int)kb,
                        (int)jb, 1.0f, at(A, n, k0, k0), (int)n, at(A, n, k0, j0), (int)n);
        }
        /* trailing update, one task per tile column, the longest first */
        const int64_t r0 = k0 + kb;
#pragma omp for schedule(dynamic, 1)
        for (int64_t J = T - 1; J > K; --J) {
            const int64_t j0 = J * nb, jb = min64(nb, n - j0);
            if (j0 > r0)
                cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)(j0 - r0), (int)jb,
                            (int)kb, -1.0f, at(A, n, k0, r0), (int)n, at(A, n, k0, j0), (int)n,
                            1.0f, at(A, n, r0, j0), (int)n);
            cblas_ssyrk(CblasColMajor, CblasUpper, CblasTrans, (int)jb, (int)kb, -1.0f,
                        at(A, n, k0, j0), (int)n, 1.0f, at(A, n, j0, j0), (int)n);
        }
    }
    return bad;
}

/* R (upper, strictly lower part zero) -> R^-1 in place, row tiles bottom-up; W [nb, n]. */
static void inverse(float *A, int64_t n, int64_t nb, int threads, float *W) {
    const int64_t T = (n + nb - 1) / nb;
#pragma omp parallel num_threads(threads)
    for (int64_t It = T - 1; It >= 0; --It) {
        const int64_t i0 = It * nb, ib = min64(nb, n - i0), c0 = i0 + ib;
#pragma omp single
        LAPACKE_strtri_work(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)ib, at(A, n, i0, i0),
                            (lapack_int)n); /* cannot fail: R's diagonal is > 0 */
        /* W[:, J] = -X_II (R[It, It+1..J] X[It+1..J, J]); X below row tile It is final, and the
         * zero strictly lower part of X_JJ ends the sum at row J's diagonal */
#pragma omp for schedule(dynamic, 1)
        for (int64_t J = T - 1; J > It; --J) {
            const int64_t j0 = J * nb, jb = min64(nb, n - j0);
            float *w = W + (size_t)(j0 - c0) * (size_t)nb;
            cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)ib, (int)jb,
                        (int)(j0 + jb - c0), 1.0f, at(A, n, i0, c0), (int)n, at(A, n, c0, j0),
                        (int)n, 0.0f, w, (int)nb);
            cblas_strmm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, (int)ib,
                        (int)jb, -1.0f, at(A, n, i0, i0), (int)n, w, (int)nb);
        } /* barrier: R's row tile It is no longer read */
#pragma omp for schedule(static)
        for (int64_t c = c0; c < n; ++c)
            memcpy(at(A, n, i0, c), W + (size_t)(c - c0) * (size_t)nb, (size_t)ib * sizeof *W);
    }
}

int64_t aq_chol_inverse_tiled(float *A, int64_t n, int64_t nb, int threads) {
    if (!A || n < 1 || nb < 1 || threads < 1 || n > (int64_t)1 << 30) return -2;
    float *W = calloc((size_t)min64(nb, n) * (size_t)n, sizeof *W);
    if (!W) return -1;
    for (int64_t j = 0; j + 1 < n; ++j) /* the strictly lower triangle: zero */
        memset(at(A, n, j + 1, j), 0, (size_t)(n - j - 1) * sizeof *A);
    const int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    const int64_t bad = cholesky(A, n, nb, threads);
    if (bad == 0) inverse(A, n, nb, threads, W);
    openblas_set_num_threads(saved);
    free(W);
    return bad;
}
