/*
 * aq-mpi — GPTQ's factorization, tiled: Cholesky and triangular inverse whose bits do not
 * depend on the thread count.
 *
 * Given a symmetric positive definite A [n, n] (column-major, upper triangle read), computes
 * R^-1 where A = R^T R (R upper triangular, the Cholesky factor): the same matrix as LAPACK
 * spotrf('U') + strtri('U', 'N'), equal up to rounding (include/aq/gptq.h uses it on the
 * reversed damped Hessian to get U).
 *
 * Why tiles: OpenBLAS's multi-threaded spotrf / strtri give different bits for 1 and 2
 * threads (measured, include/aq/gptq.h "Determinism"), so GPTQ ran its factorization, half of
 * the Dream-7B job, on one core.  Here the matrix is cut into tiles of a FIXED size nb
 * (independent of the thread count); every tile operation is one single-threaded OpenBLAS /
 * LAPACK call (spotrf / strtri on a diagonal tile, strsm / ssyrk / sgemm / strmm on
 * off-diagonal tiles), and each tile sees the same sequence of calls with the same operands,
 * in the same order, whatever the thread count.  OpenMP only decides WHICH thread makes a
 * call, never the operands or the order of the calls that update one tile, so the result is
 * bit-identical for any `threads`.  The dense algebra itself stays in LAPACK/BLAS (a well-kept
 * library); the tiling is what gives the determinism.
 *
 * Algorithms (textbook blocked forms, e.g. G. Golub, C. Van Loan, "Matrix Computations",
 * 4th ed., 4.2.9 and 3.1):
 *   Cholesky, right-looking, tile step K = 0..T-1 (T = ceil(n / nb)):
 *     R_KK = spotrf(A_KK);  R_KJ = R_KK^-T A_KJ (strsm) for J > K, one task per J;
 *     A_IJ -= R_KI^T R_KJ for K < I <= J: one task per tile column J (one sgemm for the tiles
 *     above the diagonal, ssyrk for the diagonal tile).
 *   Inverse of R, row tiles bottom-up, I = T-1..0 (from R R^-1 = I):
 *     X_II = strtri(R_II);
 *     X_IJ = -X_II (sum_{K = I+1..J} R_IK X_KJ) for J > I: one task per J (one sgemm over the
 *     rows I+1..J, then strmm), into a workspace row that replaces R's row tile I afterwards.
 * Flops n^3/3 + n^3/3, as LAPACK's.  The OpenBLAS thread count is set to 1 for the call and
 * restored (a process-wide setting: no other thread of the process may call OpenBLAS
 * meanwhile).
 */
#ifndef AQ_GPTQ_FACTOR_H
#define AQ_GPTQ_FACTOR_H

#include <stdint.h>

/*! AQ_GPTQ_TILE : the tile size GPTQ uses (columns); part of the result's definition: a
 *  different tile size gives (slightly) different bits. */
#define AQ_GPTQ_TILE 256

/*! aq_chol_inverse_tiled() :
 *  In place: A [n, n] column-major (leading dimension n) with the upper triangle holding a
 *  symmetric positive definite matrix -> the upper triangle holds R^-1 (A = R^T R), the
 *  strictly lower triangle (ignored on input) is zero.  nb >= 1 tile size, threads >= 1
 *  OpenMP threads; the result is bit-identical for any `threads`.
 *  @return : 0; k > 0 when the leading minor of order k is not positive definite (A is then
 *            partly overwritten); -1 out of memory (workspace nb x n floats); -2 bad argument. */
int64_t aq_chol_inverse_tiled(float *A, int64_t n, int64_t nb, int threads);

#endif /* AQ_GPTQ_FACTOR_H */
