/*
 * aq-mpi — the tiled Cholesky + triangular inverse of include/aq/gptq_factor.h: fixed tiles,
 * one single-threaded OpenBLAS / LAPACK call per tile operation, OpenMP tasks with data
 * dependencies between tiles (no barrier per step: a thread that is late, e.g. on a shared
 * machine, delays only the tiles that need its result).
 */
#include <cblas.h>
#include <lapacke.h>
#include <omp.h>
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

/* dst[c, r] = src[r, c] for r < rows, c < cols (column-major, leading dimensions lds, ldd),
 * in 32 x 32 blocks so that both sides stay in cache. */
static void transpose(const float *src, int64_t lds, float *dst, int64_t ldd, int64_t rows,
                      int64_t cols) {
    for (int64_t cb = 0; cb < cols; cb += 32)
        for (int64_t rb = 0; rb < rows; rb += 32) {
            const int64_t ce = min64(cb + 32, cols), re = min64(rb + 32, rows);
            for (int64_t r = rb; r < re; ++r)
                for (int64_t c = cb; c < ce; ++c)
                    dst[(size_t)c + (size_t)r * (size_t)ldd] =
                        src[(size_t)r + (size_t)c * (size_t)lds];
        }
}

/* The tiling: T x T tiles of nb (the last ones shorter); up[I * T + J] and lo[...] are the
 * dependency tokens of tile (I, J) of the upper part (I <= J) and of the lower part (I > J,
 * where the inverse is built transposed). */
typedef struct {
    float *A;
    int64_t n, nb, T;
    char *up, *lo;
} tiles;

static int64_t t0(const tiles *t, int64_t Ti) {
    return Ti * t->nb;
}
static int64_t tn(const tiles *t, int64_t Ti) {
    return min64(t->nb, t->n - Ti * t->nb);
}

/* Right-looking Cholesky (upper), step K:
 *   potrf(K):     R_KK = chol(A_KK)
 *   trsm(K, J):   R_KJ = R_KK^-T A_KJ                       J > K
 *   update(K, J): A_IJ -= R_KI^T R_KJ for K < I <= J        (one sgemm above the diagonal
 *                                                            tile, ssyrk on it)
 * Returns 0 or the order of the first failing leading minor. */
static int64_t cholesky(const tiles *t, int threads) {
    float *A = t->A;
    const int64_t n = t->n, T = t->T;
    char *up = t->up;
    (void)up; /* used in depend clauses only, which -Wunused-variable does not see; those are
               * kept out of clang-format (it splits them at their ':') */
    int64_t bad = 0;
#pragma omp parallel num_threads(threads)
#pragma omp single
    for (int64_t K = 0; K < T; ++K) {
        const int64_t k0 = t0(t, K), kb = tn(t, K), r0 = k0 + kb;
#pragma omp task depend(inout : up[K * T + K]) shared(bad)
        {
            int64_t b;
#pragma omp atomic read
            b = bad;
            if (b == 0) {
                const lapack_int info = LAPACKE_spotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int)kb,
                                                            at(A, n, k0, k0), (lapack_int)n);
                if (info != 0) {
#pragma omp atomic write
                    bad = info > 0 ? k0 + info : k0 + 1;
                }
            }
        }
        for (int64_t J = K + 1; J < T; ++J) {
            const int64_t j0 = t0(t, J), jb = tn(t, J);
#pragma omp task depend(in : up[K * T + K]) depend(inout : up[K * T + J]) shared(bad)
            {
                int64_t b;
#pragma omp atomic read
                b = bad;
                if (b == 0)
                    cblas_strsm(CblasColMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit,
                                (int)kb, (int)jb, 1.0f, at(A, n, k0, k0), (int)n, at(A, n, k0, j0),
                                (int)n);
            }
        }
        for (int64_t J = K + 1; J < T; ++J) {
            const int64_t j0 = t0(t, J), jb = tn(t, J);
/* clang-format off */
#pragma omp task depend(iterator(i = K + 1 : J + 1), in : up[K * T + i]) \
    depend(iterator(i = K + 1 : J + 1), inout : up[i * T + J]) shared(bad)
            /* clang-format on */
            {
                int64_t b;
#pragma omp atomic read
                b = bad;
                if (b == 0) {
                    if (j0 > r0)
                        cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)(j0 - r0),
                                    (int)jb, (int)kb, -1.0f, at(A, n, k0, r0), (int)n,
                                    at(A, n, k0, j0), (int)n, 1.0f, at(A, n, r0, j0), (int)n);
                    cblas_ssyrk(CblasColMajor, CblasUpper, CblasTrans, (int)jb, (int)kb, -1.0f,
                                at(A, n, k0, j0), (int)n, 1.0f, at(A, n, j0, j0), (int)n);
                }
            }
        }
    }
    return bad;
}

/* R (upper) -> X = R^-1, from R X = I, row tiles bottom-up:
 *   X_II = strtri(R_II)                                           (in place, diagonal tile)
 *   X_IJ = -X_II (R_IJ X_JJ + sum_{K = I+1..J-1} R_IK X_KJ)      J > I
 * R's off-diagonal tiles stay untouched; X_IJ (I < J) is stored transposed in the lower tile
 * (J, I), so the row of X_KJ, K = I+1..J-1, is one strip of the lower part (one sgemm).
 * W: per-thread workspace [threads, nb, nb]. */
static void inverse(const tiles *t, int threads, float *W) {
    float *A = t->A;
    const int64_t n = t->n, nb = t->nb, T = t->T;
    char *up = t->up, *lo = t->lo;
    (void)up; /* used in depend clauses only */
    (void)lo;
#pragma omp parallel num_threads(threads)
#pragma omp single
    for (int64_t Ti = T - 1; Ti >= 0; --Ti) {
        const int64_t i0 = t0(t, Ti), ib = tn(t, Ti), c0 = i0 + ib;
#pragma omp task depend(inout : up[Ti * T + Ti])
        LAPACKE_strtri_work(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)ib, at(A, n, i0, i0),
                            (lapack_int)n); /* cannot fail: R's diagonal is > 0 */
        for (int64_t J = T - 1; J > Ti; --J) {
            const int64_t j0 = t0(t, J), jb = tn(t, J);
/* clang-format off */
#pragma omp task depend(in : up[Ti * T + Ti], up[J * T + J]) \
    depend(iterator(k = Ti + 1 : J), in : lo[J * T + k]) depend(out : lo[J * T + Ti])
            /* clang-format on */
            {
                float *w = W + (size_t)omp_get_thread_num() * (size_t)(nb * nb);
                for (int64_t c = 0; c < jb; ++c) /* w = R_IJ */
                    memcpy(w + c * ib, at(A, n, i0, j0 + c), (size_t)ib * sizeof *w);
                cblas_strmm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit,
                            (int)ib, (int)jb, 1.0f, at(A, n, j0, j0), (int)n, w, (int)ib);
                if (j0 > c0) /* += R[I, I+1..J-1] X[I+1..J-1, J], X stored transposed */
                    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)ib, (int)jb,
                                (int)(j0 - c0), 1.0f, at(A, n, i0, c0), (int)n, at(A, n, j0, c0),
                                (int)n, 1.0f, w, (int)ib);
                cblas_strmm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit,
                            (int)ib, (int)jb, -1.0f, at(A, n, i0, i0), (int)n, w, (int)ib);
                transpose(w, ib, at(A, n, j0, i0), n, ib, jb); /* lower tile (J, I) = w^T */
            }
        }
    }
    /* X_IJ back to the upper part, tile by tile (cache-friendly), then the strictly lower part
     * zeroed */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t J = 1; J < T; ++J)
        for (int64_t Ti = 0; Ti < J; ++Ti) {
            const int64_t i0 = t0(t, Ti), ib = tn(t, Ti), j0 = t0(t, J), jb = tn(t, J);
            transpose(at(A, n, j0, i0), n, at(A, n, i0, j0), n, jb, ib);
        }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t j = 0; j < n - 1; ++j)
        memset(at(A, n, j + 1, j), 0, (size_t)(n - j - 1) * sizeof *A);
}

int64_t aq_chol_inverse_tiled(float *A, int64_t n, int64_t nb, int threads) {
    if (!A || n < 1 || nb < 1 || threads < 1 || n > (int64_t)1 << 30) return -2;
    if (nb > n) nb = n;
    const int64_t T = (n + nb - 1) / nb;
    tiles t = {A, n, nb, T, calloc((size_t)(T * T), 1), calloc((size_t)(T * T), 1)};
    float *W = malloc((size_t)threads * (size_t)(nb * nb) * sizeof *W);
    if (!t.up || !t.lo || !W) {
        free(t.up);
        free(t.lo);
        free(W);
        return -1;
    }
    for (int64_t j = 0; j + 1 < n; ++j) /* the strictly lower triangle: zero */
        memset(at(A, n, j + 1, j), 0, (size_t)(n - j - 1) * sizeof *A);
    const int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    const int64_t bad = cholesky(&t, threads);
    if (bad == 0) inverse(&t, threads, W);
    openblas_set_num_threads(saved);
    free(t.up);
    free(t.lo);
    free(W);
    return bad;
}

int64_t aq_chol_tiled(float *A, int64_t n, int64_t nb, int threads) {
    if (!A || n < 1 || nb < 1 || threads < 1 || n > (int64_t)1 << 30) return -2;
    if (nb > n) nb = n;
    const int64_t T = (n + nb - 1) / nb;
    tiles t = {A, n, nb, T, calloc((size_t)(T * T), 1), NULL};
    if (!t.up) return -1;
    for (int64_t j = 0; j + 1 < n; ++j) /* the strictly lower triangle: zero */
        memset(at(A, n, j + 1, j), 0, (size_t)(n - j - 1) * sizeof *A);
    const int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    const int64_t bad = cholesky(&t, threads);
    openblas_set_num_threads(saved);
    free(t.up);
    return bad;
}
