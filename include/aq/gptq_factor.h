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
 * in the same order, whatever the thread count.  The tile operations are OpenMP tasks whose
 * dependencies (on tiles) fix every operand; OpenMP only decides WHICH thread makes a call
 * and when, never the operands or the order of the calls that update one tile, so the result
 * is bit-identical for any `threads`.  The dense algebra itself stays in LAPACK/BLAS (a
 * well-kept library); the tiling is what gives the determinism.
 *
 * Algorithms (textbook blocked forms, e.g. G. Golub, C. Van Loan, "Matrix Computations",
 * 4th ed., 4.2.9 and 3.1; the task-graph form as in PLASMA's tile algorithms), T = ceil(n / nb):
 *   Cholesky, right-looking, tile step K = 0..T-1:
 *     R_KK = spotrf(A_KK);  R_KJ = R_KK^-T A_KJ (strsm) for J > K;
 *     A_IJ -= R_KI^T R_KJ for K < I <= J: one task per tile column J (one sgemm for the tiles
 *     above the diagonal, ssyrk for the diagonal tile).
 *   Inverse X = R^-1 from R X = I, row tiles bottom-up, I = T-1..0:
 *     X_II = strtri(R_II);
 *     X_IJ = -X_II (R_IJ X_JJ + sum_{K = I+1..J-1} R_IK X_KJ) for J > I: one task per tile
 *     (strmm, one sgemm, strmm); X_IJ is stored transposed in the lower tile (J, I), so R stays
 *     readable, and moved to the upper part at the end.
 * Flops n^3/3 + n^3/3, as LAPACK's (plus O(n^2) moves).  The OpenBLAS thread count is set to 1
 * for the call and restored (a process-wide setting: no other thread of the process may call
 * OpenBLAS meanwhile).
 */
#ifndef AQ_GPTQ_FACTOR_H
#define AQ_GPTQ_FACTOR_H

#include <stdint.h>

/*! AQ_GPTQ_TILE : the tile size GPTQ uses (columns); part of the result's definition: a
 *  different tile size gives (slightly) different bits. */
#define AQ_GPTQ_TILE 512

/*! aq_chol_inverse_tiled() :
 *  In place: A [n, n] column-major (leading dimension n) with the upper triangle holding a
 *  symmetric positive definite matrix -> the upper triangle holds R^-1 (A = R^T R), the
 *  strictly lower triangle (ignored on input) is zero.  nb >= 1 tile size, threads >= 1
 *  OpenMP threads; the result is bit-identical for any `threads`.  Memory: 2 T^2 bytes of
 *  dependency tokens and threads x nb^2 floats of workspace.
 *  @return : 0; k > 0 when the leading minor of order k is not positive definite (A is then
 *            partly overwritten); -1 out of memory; -2 bad argument. */
int64_t aq_chol_inverse_tiled(float *A, int64_t n, int64_t nb, int threads);

/*! aq_chol_tiled() :
 *  The first half of aq_chol_inverse_tiled(): in place, the upper triangle of A (as there)
 *  -> R with A = R^T R, the strictly lower triangle zero; n^3/3 flops, the same tiles, tasks
 *  and calls as its Cholesky step (so R has the same bits as the R it inverts), bit-identical
 *  for any `threads`.  Memory: T^2 bytes of dependency tokens.
 *  @return : as aq_chol_inverse_tiled(). */
int64_t aq_chol_tiled(float *A, int64_t n, int64_t nb, int threads);

#endif /* AQ_GPTQ_FACTOR_H */
