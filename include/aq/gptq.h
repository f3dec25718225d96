/*
 * aq-mpi — GPTQ: second-order weight quantization through the layer's input Hessian.
 *
 * Source: E. Frantar, S. Ashkboos, T. Hoefler, D. Alistarh, "GPTQ: Accurate Post-Training
 * Quantization for Generative Pre-trained Transformers", ICLR 2023, Algorithm 1 (lazy batch
 * updates, Cholesky form of the inverse Hessian), built on Optimal Brain Quantization.
 *
 * A weight tensor W [rows, cols] (rows = output channels) is quantized one input column at a
 * time; each column's rounding error is pushed onto the columns not yet quantized through the
 * inverse of H = E[x x^T] (the layer input's second moment, [cols, cols], symmetric PSD; for a
 * diffusion LM the time-weighted sum of include/aq/hessian.h).  With
 *     Hd = H + lambda I,  lambda = damp * mean(diag H)   (damp default 0.01, paper's 1 %)
 *     Hd^-1 = U^T U,  U upper triangular (the "Cholesky form" of the paper)
 * every row w (rows are independent) is processed, in blocks of B columns [i1, i2):
 *     for i in [i1, i2):
 *         q_i   = the format's rounding of w_i with the FIXED parameters of its block
 *         e_i   = (w_i - q_i) / U_ii
 *         w_j  -= e_i U_ij           for j in (i, i2)            (inside the block)
 *     w_j -= sum_{k in [i1, i2)} e_k U_kj   for j >= i2          (lazy update, once per block)
 * A format's parameters (group scale/min, dq's super-block d/dmin and group codes, ggml's block
 * scales) are fitted by that format's own search, with importance h, to the ERROR-UPDATED
 * weights of its parameter block when the block's first column is reached (GPTQ's grouping):
 * see aq_qf_gptq in include/aq/qformat.h.  The lazy block is rounded up to a multiple of the
 * format's parameter block so that a block is fitted only from fully updated weights.
 *
 * U is computed without forming the inverse: with J the reversal permutation,
 * J Hd J = R^T R (Cholesky, upper) gives Hd = V V^T with V = J R^T J upper, hence
 * Hd^-1 = U^T U with U = V^-1 = J R^-T J.  Cost n^3/3 + n^3/3 flops instead of the reference
 * code's potrf + potri + potrf (4 n^3/3); U is the same matrix (the Cholesky factor is
 * unique), up to rounding.  R^-1 comes from the tiled factorization of
 * include/aq/gptq_factor.h (default: fixed AQ_GPTQ_TILE tiles, each tile operation one
 * single-threaded LAPACK / BLAS call, tiles shared by opts.threads OpenMP threads) or, with
 * opts.factor = AQ_GPTQ_FACTOR_LAPACK, from one LAPACK spotrf + strtri call on opts.threads
 * OpenBLAS threads (the earlier path; the two agree to ~1e-6 relative, not bit for bit).
 *
 * LDL form (opts.form = AQ_GPTQ_FORM_LDL, the default; J. Chee, Y. Cai, V. Kuleshov, C. De Sa,
 * "QuIP: 2-Bit Quantization of Large Language Models With Guarantees", NeurIPS 2023: LDLQ,
 * shown there to equal GPTQ): V = J R^T J above is Hd's own factor, Hd = V V^T, and writing
 * V = (I + A) S (A strictly upper, S = diag V) the algorithm needs no inverse:
 *     w'_k = w_k + sum_{i<k} (w_i - q_i) A_ik,   q_k = the rounding of w'_k
 * with w the row before any update (w' is the U form's updated weight, in exact arithmetic).
 * So only the Cholesky of J Hd J is computed (n^3/3 flops, aq_chol_tiled()); A replaces U in
 * the same kernel and blocking (e_k = q_k - w_k instead of (w'_k - q_k) / U_kk).  Grouping
 * needs one more step: the U form fits a parameter block [g, g + b) from its PARTIALLY
 * updated weights w + x when column g comes (x: the optimal compensation of the errors of
 * the columns before g), the LDL rows then hold w + c with c = x (I + A_gg), A_gg the
 * block's b x b diagonal block; the fit input w + c (I + A_gg)^-1 is formed with the update
 * kernel and a per-block inverse computed once per call (rows x n x ~0.6 b flops: ~7 % of
 * the updates at n = 3584, b = 256; 1.4 % at 18944).  Same results up to rounding: codes
 * agree except near rounding ties, which GPTQ propagates along the row (tests: output error
 * within 3 % for every format, mostly identical codes).  The U form stays (AQ_GPTQ_FORM_U).
 *
 * Dead columns (H_jj = 0: the input channel is never active) get H_jj = 1 and W[:, j] = 0,
 * as the paper's code does.  Activation order (act_order): columns are processed by
 * descending diag H (ties by index), with "static groups": every parameter block is fitted
 * up front from the (dead-zeroed) original weights in the original column order, because the
 * stored layouts need a block's parameters to cover consecutive original columns.
 *
 * Determinism: a row's result depends only on the row, h, U and the params.  U is computed
 * once per tensor by aq_gptq_hinv_create(); on the tiled path its bits do not depend on
 * opts.threads (every tile sees the same calls in the same order; tested for 1, 2, 3 threads),
 * so a job may give it all its threads.  The LAPACK path does depend on them (measured: 1 and
 * 2 OpenBLAS threads give different U bits for n = 300..4000): there `threads` must be one
 * job-wide setting, never a rank's core count.  The
 * updates use our own kernels (src/quant/gptq_update.c): every element is updated by
 * fmaf(-e_k, U_kj, w_j) in ascending k, in the scalar reference and its AVX2 / AVX-512 twins
 * alike, so the result is bit-identical for any panel size, OpenMP thread count, rank count and
 * kernel set.  (OpenBLAS picks its kernels per CPU model: nodes of different CPU families can
 * produce different U bits; nodes of one family agree.)
 *
 * Layouts: W row-major [rows, cols]; H row-major [cols, cols] of which only the upper triangle
 * (H[i * cols + j], j >= i) is read; importance h [cols] (NULL: all 1).
 */
#ifndef AQ_GPTQ_H
#define AQ_GPTQ_H

#include <stddef.h>
#include <stdint.h>

#include "aq/dtype.h"
#include "aq/error.h"
#include "aq/quant.h"

/*! aq_gptq_opts : the knobs (job keys quant.gptq_damp, quant.gptq_block,
 *  quant.gptq_act_order once wired). */
typedef struct {
    double damp;   /* lambda = damp * mean(diag H); > 0; default 0.01 */
    int block;     /* columns per lazy-update block, >= 1; default 128 */
    int act_order; /* 0: natural column order; 1: descending diag H with static groups */
    int threads;   /* threads of the factorization; default 1 (see Determinism and factor) */
    int panel;     /* rows processed together by one thread (cache reuse of U), >= 1;
                      default 96 (measured: docs/GPTQ.md Speed); does not change any result */
    int factor;    /* aq_gptq_factor: how U is computed; default AQ_GPTQ_FACTOR_TILED */
    int form;      /* aq_gptq_form: the algorithm's form; default AQ_GPTQ_FORM_LDL */
} aq_gptq_opts;

/*! aq_gptq_factor : the factorization path.  TILED (include/aq/gptq_factor.h): fixed
 *  AQ_GPTQ_TILE tiles, `threads` OpenMP threads, bits independent of `threads`.  LAPACK: one
 *  spotrf + strtri call with `threads` OpenBLAS threads (the path before the tiled one; its
 *  bits depend on `threads`; kept for comparison: bench, tests). */
typedef enum { AQ_GPTQ_FACTOR_TILED = 0, AQ_GPTQ_FACTOR_LAPACK = 1 } aq_gptq_factor;

/*! aq_gptq_form : U: the paper's form with U (Hd^-1 = U^T U: Cholesky + triangular inverse,
 *  2 n^3/3 flops).  LDL: the same algorithm written with the unit upper triangular factor
 *  of Hd itself ("LDL form" above: Cholesky only, n^3/3 flops); mathematically the same
 *  result, different rounding (codes agree except near rounding ties; tested). */
typedef enum { AQ_GPTQ_FORM_U = 0, AQ_GPTQ_FORM_LDL = 1 } aq_gptq_form;

/*! aq_gptq_opts_default() : {0.01, 128, 0, 1, 96, AQ_GPTQ_FACTOR_TILED, AQ_GPTQ_FORM_LDL}. */
aq_gptq_opts aq_gptq_opts_default(void);

/*! aq_gptq_opts_check() : AQ_OK or AQ_E_CONFIG naming the bad field (damp not in (0, 1e3],
 *  block < 1 or > 65536, act_order not 0/1, threads < 1, panel < 1 or > 4096, factor not
 *  0/1, form not 0/1). */
aq_status aq_gptq_opts_check(const aq_gptq_opts *o, aq_err *err);

/*-*********************************************
 *  The factorized Hessian of one tensor
 ***********************************************/
typedef struct aq_gptq_hinv_s aq_gptq_hinv;

/*! aq_gptq_hinv_create() :
 *  Damps H [n, n] (upper triangle read), marks dead columns, orders the columns (act_order)
 *  and computes U (above) in processing order; `name` names the tensor in messages.
 *  Memory: n^2 floats (U) plus O(n).
 *  @return : AQ_OK and *out; AQ_E_CONFIG bad opts; AQ_E_VALUE "Hessian of <name>: non-finite
 *            value at [i, j]", "... negative diagonal H[j, j] = v", "... not positive definite
 *            after damping (lambda = x): leading minor of column j (original) failed in the
 *            Cholesky factorization; raise quant.gptq_damp" , bad n; AQ_E_NOMEM. */
aq_status aq_gptq_hinv_create(const float *H, int64_t n, const aq_gptq_opts *o, const char *name,
                              aq_gptq_hinv **out, aq_err *err);

/*! aq_gptq_hinv_free() : NULL is a no-op. */
void aq_gptq_hinv_free(aq_gptq_hinv *hv);

/*! aq_gptq_hinv_cols() : n.  aq_gptq_hinv_dead() : number of dead columns.
 *  aq_gptq_hinv_lambda() : the damping lambda used. */
int64_t aq_gptq_hinv_cols(const aq_gptq_hinv *hv);
int64_t aq_gptq_hinv_dead(const aq_gptq_hinv *hv);
double aq_gptq_hinv_lambda(const aq_gptq_hinv *hv);

/*! aq_gptq_hinv_perm() : the processing order: perm[i] is the original column processed
 *  i-th ([n]; the identity without act_order).  aq_gptq_hinv_u() : row-major [n, n], upper
 *  triangle valid, in processing order (for tests and the benchmark): U (form U) or the unit
 *  upper triangular I + A of Hd = (I + A) S^2 (I + A)^T (form LDL; "LDL form" above).
 *  aq_gptq_hinv_form() : the aq_gptq_form it was made with. */
const int64_t *aq_gptq_hinv_perm(const aq_gptq_hinv *hv);
const float *aq_gptq_hinv_u(const aq_gptq_hinv *hv);
int aq_gptq_hinv_form(const aq_gptq_hinv *hv);

/*! aq_gptq_hinv_meta_bytes() : bytes of aq_gptq_hinv_meta_pack()'s record for n columns:
 *  everything but U (n, dead, form, lambda, perm, the dead mask; 32 + 9 n bytes).
 *  aq_gptq_hinv_meta_pack() : writes that record of hv into buf (raw bytes: the ranks of one
 *  job share the architecture).  Used to send a factorization to the other owners of a
 *  tensor's row blocks, U following in pieces (aq_gptq_hinv_u_mut). */
size_t aq_gptq_hinv_meta_bytes(int64_t n);
void aq_gptq_hinv_meta_pack(const aq_gptq_hinv *hv, void *buf);

/*! aq_gptq_hinv_meta_unpack() :
 *  A factorization from a record of aq_gptq_hinv_meta_pack() (`bytes` long) with U allocated
 *  and not yet filled: the caller fills the n^2 floats of aq_gptq_hinv_u_mut() with the
 *  sender's U (row-major) before any use.  Free with aq_gptq_hinv_free().
 *  @return : AQ_OK and *out; AQ_E_VALUE "<what>: factorization record of <bytes> bytes does
 *            not hold n = ..." (short, n < 1, bad form, perm not a permutation); AQ_E_NOMEM. */
aq_status aq_gptq_hinv_meta_unpack(const void *buf, size_t bytes, const char *what,
                                   aq_gptq_hinv **out, aq_err *err);

/*! aq_gptq_hinv_u_mut() : U's n^2 floats, writable (to receive them). */
float *aq_gptq_hinv_u_mut(aq_gptq_hinv *hv);

/*-*********************************************
 *  Quantization
 ***********************************************/

/*! aq_gptq_quantize_tensor() :
 *  GPTQ of a [rows, cols] tensor of `src_dtype` at `src` with factorized Hessian `hv`
 *  (cols == aq_gptq_hinv_cols(hv)), params p of a format that has GPTQ operations
 *  (aq_qformat_of(p)->gptq != NULL: f16, f32, dq today), importance h (cols entries >= 0, NULL:
 *  all 1) for the format's parameter search, kernel set k (NULL: aq_kernels_select(0)), into
 *  the caller-allocated arrays arr[i] ([rows, row_elems] of aq_qformat_arrays(p, cols)), as
 *  the format's tensor driver would lay them out; any reader decodes them unchanged.  OpenMP
 *  over panels of o->panel rows; arrays and metrics (may be NULL; aq_quant_metrics against the
 *  ORIGINAL weights, dead columns included) are bit-identical for any thread count, panel
 *  size and kernel set.  `o` must be the opts hv was made with (block, panel are read here).
 *  @return : AQ_OK; AQ_E_CONFIG bad params/opts, "format <f> has no GPTQ operations";
 *            AQ_E_VALUE "tensor <name>: non-finite weight <v> at [r, c]" (lowest flat index),
 *            "tensor <name>: row r, <overflow>", a Hessian of the wrong size, bad h, missing
 *            buffers; AQ_E_NOMEM. */
aq_status aq_gptq_quantize_tensor(const aq_gptq_hinv *hv, const aq_gptq_opts *o,
                                  const aq_quant_params *p, const aq_kernels *k, aq_dtype src_dtype,
                                  const void *src, int64_t rows, int64_t cols, const float *h,
                                  const char *name, void *const *arr, aq_quant_metrics *metrics,
                                  aq_err *err);

/*! aq_gptq_quantize_rows() :
 *  The row-range form of aq_gptq_quantize_tensor() (row-sharding, issue 16; the counterpart of
 *  aq_qformat_quantize_rows()): GPTQ of rows [row0, row1) of the [rows, cols] tensor at `src`
 *  (row 0 of the whole tensor) into arr[i], which hold those rows only ([row1 - row0,
 *  row_elems]), each row's error sums into row_sums[(r - row0) * AQ_QF_ROW_SUMS + e] (NULL:
 *  not wanted; the sums of aq_qformat_quantize_rows(), against the ORIGINAL weights).  GPTQ's
 *  rows are independent given hv, so blocks quantized separately (on any rank, with any
 *  thread count) give the whole tensor's arrays byte for byte, and aq_qf_metrics_from_row_sums()
 *  of all rows' sums its metrics bit for bit (aq_gptq_quantize_tensor() reduces the same way).
 *  Every block owner needs the layer's factorization hv (same bits on every rank: see
 *  Determinism).  Rows in messages are the tensor's.
 *  @return : as aq_gptq_quantize_tensor(); AQ_E_VALUE "tensor <name>: rows [a, b) outside
 *            [0, rows)". */
aq_status aq_gptq_quantize_rows(const aq_gptq_hinv *hv, const aq_gptq_opts *o,
                                const aq_quant_params *p, const aq_kernels *k, aq_dtype src_dtype,
                                const void *src, int64_t rows, int64_t row0, int64_t row1,
                                int64_t cols, const float *h, const char *name, void *const *arr,
                                double *row_sums, aq_err *err);

/*! aq_gptq_quantize() : aq_gptq_hinv_create() + aq_gptq_quantize_tensor() + free, for one
 *  f32 tensor (tests, benchmarks).  Errors as both. */
aq_status aq_gptq_quantize(const float *H, const aq_gptq_opts *o, const aq_quant_params *p,
                           const aq_kernels *k, const float *W, int64_t rows, int64_t cols,
                           const float *h, const char *name, void *const *arr,
                           aq_quant_metrics *metrics, aq_err *err);

/*-*********************************************
 *  The lazy update kernel (exposed for tests and the benchmark)
 ***********************************************/

/*! aq_gptq_update() :
 *  W[r, j] = fmaf(-E[r, k], U[k, j], W[r, j]) for k = 0..K-1 in ascending order, for every
 *  r < R, j < ncols (row strides ldw, lde, ldu, in floats), with the kernel set's twin (k NULL:
 *  auto).  Every twin gives bit-identical W. */
void aq_gptq_update(const aq_kernels *k, int R, int K, int64_t ncols, const float *E, int64_t lde,
                    const float *U, int64_t ldu, float *W, int64_t ldw);

/*! aq_gptq_update_ws() :
 *  aq_gptq_update() with a caller-owned workspace ws of aq_gptq_update_ws_floats(R) floats
 *  (any alignment; NULL: the unpacked kernels), into which the AVX2 twin packs E's rows and
 *  U's column panels (src/quant/gptq_update.c); same bits as aq_gptq_update() for every ws.
 *  aq_gptq_update() allocates one per call itself (falls back to the unpacked kernels when it
 *  cannot); per-thread callers allocate once (the tensor driver does). */
void aq_gptq_update_ws(const aq_kernels *k, int R, int K, int64_t ncols, const float *E,
                       int64_t lde, const float *U, int64_t ldu, float *W, int64_t ldw, float *ws);

/*! aq_gptq_update_ws_floats() : the workspace of aq_gptq_update_ws() for R rows, in floats
 *  (R x 128 + 128 x 256 + 16: about 0.15 MB for R = 32). */
size_t aq_gptq_update_ws_floats(int R);

#endif /* AQ_GPTQ_H */
