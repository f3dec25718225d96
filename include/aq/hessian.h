/*
 * aq-mpi — time-weighted layer-input Hessians for GPTQ (include/aq/gptq.h), accumulated by
 * aq-calib and stored in the calibration file (include/aq/calib.h).
 *
 * Definition.  For a quantized linear layer with input x in R^n (q/k/v share one input,
 * gate/up share one) and the T mask-ratio bins of the calibration (bin t: every sequence
 * masked at ratio u_t = (t + 1/2)/T, all positions count), with the job's time weights w_t
 * (include/aq/phases.h aq_time_weights(), sum 1):
 *     H = sum_t w_t E[x x^T | t] = (1 / N) sum_t w_t sum_{x seen in bin t} x x^T
 * where N is the number of tokens per bin.  aq-calib runs every sequence through every bin, so
 * all bins see the same N and the per-bin normalisation is one division at the end.
 *
 * Accumulation (aq_hessian_accumulate): each activation batch X [tokens, n] of bin t adds
 * w_t X^T X.  The batch product is computed in float32 by BLAS ssyrk (upper triangle, into an
 * n x n float scratch) and added to a DOUBLE packed upper triangle, so rounding does not grow
 * with the number of batches (float accumulation over ~1e3 batches would lose ~3 digits of the
 * small eigenvalues GPTQ's damping is meant to protect).  Memory per input while
 * accumulating: 8 n(n+1)/2 + 4 n^2 bytes (Dream 7B down_proj, n = 18944: 1.4 + 1.4 GB).
 * Cost: tokens * n^2 flops per batch (ssyrk); Dream 7B, one sequence of L tokens in one bin:
 * L * (3 * 3584^2 + 18944^2) = L * 3.97e8 flops per layer.
 *
 * Storage (pre-weighted, not per bin).  Per-bin sums would let the job re-weight, at T times
 * the disk: Dream 7B stores per layer three 3584-input Hessians (q/k/v, o, gate/up: 25.7 MB
 * each as an f32 triangle) and one 18944-input Hessian (down_proj: 717.8 MB), 795 MB per
 * layer, 22.3 GB for 28 layers before compression; per-bin sums at T = 8 would be 178 GB.  So
 * the file holds H already weighted, with the schedule, the time-weight mode and the weights
 * it was made for; a job whose weights differ is refused (aq_hessian_read), never silently
 * re-weighted.
 *   /hessian                       group, attributes:
 *       T (int32), schedule, time_weight (strings: "mask", "alphabar"), tokens_per_bin
 *       (float64), definition (string), complete (int32 1, written last by
 *       aq_hessian_store_close: a missing flag means an interrupted aq-calib)
 *   /hessian/time_weights          float64 [T]
 *   /hessian/<layer input name>    float32 [n (n + 1) / 2], attribute n (int64): the upper
 *       triangle packed row by row (row i holds H[i, i..n-1], at offset i n - i (i - 1) / 2),
 *       chunked (2^20 values) with HDF5's built-in shuffle + deflate level 1 filters: any HDF5
 *       reader (h5py, h5dump) opens it without plugins (our zstd filter would need the plugin
 *       path); float noise compresses little, so speed wins (ratio on real Hessians not yet
 * measured). Layer input names are the caller's (e.g. the first weight that reads the input,
 * "model.layers.3.self_attn.q_proj.weight", shared by k_proj and v_proj).
 */
#ifndef AQ_HESSIAN_H
#define AQ_HESSIAN_H

#include <stddef.h>
#include <stdint.h>

#include "aq/error.h"

/*! aq_hessian_schedule : what a Hessian file was made for. */
typedef struct {
    int T;                   /* time steps (mask-ratio bins), >= 1 */
    const char *schedule;    /* "mask", "linear", "cosine" (run.schedule) */
    const char *time_weight; /* "alphabar", "uniform" (timegroups.time_weight) */
    const double *w;         /* [T] the time weights, finite, >= 0 */
} aq_hessian_schedule;

/*! aq_hessian_packed_size() : n (n + 1) / 2. */
int64_t aq_hessian_packed_size(int64_t n);

/*-*********************************************
 *  Accumulation (pure)
 ***********************************************/

/*! aq_hessian_accumulate() :
 *  Hp[packed upper, n (n + 1) / 2 doubles] += weight * X^T X for X [tokens, n] float32
 *  row-major, with `scratch` [n * n] floats (overwritten).  Single call of cblas_ssyrk (its
 *  threads: OpenBLAS's setting); the double addition is in a fixed order.  tokens <= 0: no-op. */
void aq_hessian_accumulate(double *Hp, float *scratch, int64_t n, const float *X, int64_t tokens,
                           double weight);

/*! aq_hessian_finish() :
 *  out[packed] = (float)(Hp[packed] / tokens_per_bin).
 *  @return : AQ_OK; AQ_E_VALUE "layer <layer>: ..." when tokens_per_bin <= 0 or a value is not
 *            finite in float32 ([i, j] named). */
aq_status aq_hessian_finish(const double *Hp, int64_t n, double tokens_per_bin, const char *layer,
                            float *out, aq_err *err);

/*-*********************************************
 *  Storing in a calibration file
 ***********************************************/
typedef struct aq_hessian_store aq_hessian_store;

/*! aq_hessian_store_open() :
 *  Opens the calibration file `path` (written by aq_calib_write(); aq-calib writes the
 *  Hessians into its "<out>.partial" before the final rename) read-write and creates /hessian
 *  with the schedule and tokens_per_bin.
 *  @return : AQ_OK and *out; AQ_E_VALUE bad schedule; AQ_E_IO cannot open; AQ_E_FORMAT the
 *            file already has /hessian; AQ_E_HDF5; AQ_E_NOMEM. */
aq_status aq_hessian_store_open(const char *path, const aq_hessian_schedule *s,
                                double tokens_per_bin, aq_hessian_store **out, aq_err *err);

/*! aq_hessian_store_put() :
 *  Writes layer `layer`'s packed triangle Hp (float32, n (n + 1) / 2 values, finite, diagonal
 *  >= 0) as /hessian/<layer>: written under "<layer>.partial" and renamed when complete.
 *  @return : AQ_OK; AQ_E_VALUE (bad name, n < 1, non-finite value or negative diagonal
 *            naming [i, j], layer given twice); AQ_E_HDF5. */
aq_status aq_hessian_store_put(aq_hessian_store *st, const char *layer, int64_t n, const float *Hp,
                               aq_err *err);

/*! aq_hessian_store_close() : marks /hessian complete and closes the file; NULL is a no-op.
 *  @return : AQ_OK or AQ_E_HDF5. */
aq_status aq_hessian_store_close(aq_hessian_store *st, aq_err *err);

/*! aq_hessian_store_abort() : closes without marking complete (error paths); NULL no-op. */
void aq_hessian_store_abort(aq_hessian_store *st);

/*-*********************************************
 *  Reading
 ***********************************************/

/*! aq_hessian_read() :
 *  Hessian of layer input `layer` from calibration file `path`, as a full symmetric float32
 *  matrix H [n, n] row-major (upper triangle from the file, lower mirrored; the layout
 *  aq_gptq_hinv_create() reads), after checking that the file was made for `expect` (T, the
 *  two names, and every w_t within a relative 1e-6).  Whether H is positive definite after
 *  damping is decided by the Cholesky factorization: call aq_gptq_hinv_create() with the name
 *  aq_hessian_label() gives, so that its error names layer and file.
 *  @return : AQ_OK; every error names file and layer: AQ_E_IO (cannot open); AQ_E_FORMAT
 *            ("<path>: no Hessians (run aq-calib --hessian)", "<path>: Hessians incomplete
 *            (aq-calib --hessian was interrupted)", "<path>: Hessians made for schedule mask,
 *            time_weight alphabar, T = 8, w_3 = 0.11; the job uses ...", "<path>: no Hessian for
 *            layer <layer>", "<path>: layer <layer>: Hessian is 128 x 128, the weight has 256
 *            columns", a dataset of the wrong type or size); AQ_E_VALUE (non-finite value or
 *            negative diagonal at [i, j]); AQ_E_HDF5. */
aq_status aq_hessian_read(const char *path, const char *layer, int64_t n,
                          const aq_hessian_schedule *expect, float *H, aq_err *err);

/*! aq_hessian_file_T() :
 *  *T = the number of time steps the Hessians of `path` were made for (attribute T of
 *  /hessian), so that the job can compute its own w_t for that T before aq_hessian_read().
 *  @return : AQ_OK; AQ_E_IO cannot open; AQ_E_FORMAT "<path>: no Hessians (run aq-calib
 *            --hessian)", T missing or not in [1, 1e6]. */
aq_status aq_hessian_file_T(const char *path, int *T, aq_err *err);

/*! aq_hessian_file_has() :
 *  *has = 1 when the Hessians of `path` include layer `layer` (files made before aq-calib
 *  recorded the untied lm_head have none for "lm_head.weight"), else 0.
 *  @return : AQ_OK; AQ_E_VALUE bad layer name; AQ_E_IO cannot open; AQ_E_FORMAT "<path>: no
 *            Hessians (run aq-calib --hessian)". */
aq_status aq_hessian_file_has(const char *path, const char *layer, int *has, aq_err *err);

/*! aq_hessian_label() : "<layer> (Hessian from <path>)" into buf; @return : buf. */
const char *aq_hessian_label(const char *path, const char *layer, char *buf, size_t size);

#endif /* AQ_HESSIAN_H */
