/*
 * aq-mpi — the result file, HDF5 format "aq-mpi/1" (docs/DESIGN.md §6.2, docs/FORMAT.md).
 *
 * Written by one process (rank 0) with the default (sec2) driver.  The file is created as
 * "<path>.partial" and renamed to <path> only by aq_h5_commit(), so a failed run never
 * leaves a file under the final name.  Every dataset is chunked, checksummed (Fletcher32)
 * and compressed with zstd through HDF5 filter id 32015 (AQ_H5Z_FILTER_ZSTD, cd_values[0] = level),
 * the id that the HDF Group's registered-filter list assigns to Zstandard; readers load our plugin
 * (libaq_h5z_zstd.so) through HDF5_PLUGIN_PATH.
 *
 * A quantized tensor is written as its format's arrays and attributes (include/aq/qformat.h:
 * the caller fills aq_h5_quantized from aq_qformat_arrays() and aq_qformat_attrs()); the
 * writer knows no format (docs/FORMAT.md describes each).
 *
 * Float16 scale/min are stored as an IEEE binary16 HDF5 type (H5T_IEEE_F32LE re-shaped to
 * 16 bits: sign 15, exponent 10..14 bias 15, mantissa 0..9), which h5py reads as float16.
 */
#ifndef AQ_H5OUT_H
#define AQ_H5OUT_H

#include <stddef.h>
#include <stdint.h>

#include "aq/dtype.h"
#include "aq/error.h"
#include "aq/qformat.h"
#include "aq/quant.h"

#define AQ_FORMAT_NAME "aq-mpi/1"

/*-*********************************************
 *  zstd filter 32015
 ***********************************************/
#define AQ_H5Z_FILTER_ZSTD 32015

/*! aq_h5z_zstd_register() : registers filter 32015 in this process (idempotent).
 *  @return : AQ_OK or AQ_E_HDF5. */
aq_status aq_h5z_zstd_register(aq_err *err);

/*-*********************************************
 *  Writer
 ***********************************************/
typedef struct aq_h5_writer aq_h5_writer;

/*! aq_h5_root_info : root-group attributes. Strings are copied. */
typedef struct {
    const char *producer;     /* "aq-mpi 0.1.0" */
    const char *created;      /* ISO 8601 UTC, e.g. "2026-11-21T09:30:00Z" */
    const char *config_text;  /* effective INI text after --set overrides */
    const char *source_model; /* model path as given */
    int ranks;
    int threads; /* OpenMP threads per rank */
} aq_h5_root_info;

/*! aq_h5_quantized : one quantized tensor's result (all arrays and strings borrowed). */
typedef struct {
    int ndim;
    const int64_t *shape; /* source shape, ndim entries */
    aq_dtype orig_dtype;
    int64_t rows, cols;                 /* the 2-D view that was quantized */
    int n_arrays;                       /* 1..AQ_QF_MAX_ARRAYS */
    aq_qarray arrays[AQ_QF_MAX_ARRAYS]; /* dataset i: arrays[i].name, [rows, row_elems] of
                                           arrays[i].elem (u8, IEEE f16, f32) */
    const void *data[AQ_QF_MAX_ARRAYS]; /* its rows back to back, or when `prefiltered` the
                                           array's aq_h5_prefilter_2d() blob */
    int prefiltered;                    /* 1: data[i] are blobs of data_bytes[i] bytes */
    uint64_t data_bytes[AQ_QF_MAX_ARRAYS];
    int n_attrs;
    aq_qattr attrs[AQ_QF_MAX_ATTRS]; /* the format's attributes, written after orig_dtype */
    aq_quant_metrics metrics;
    int fallback_from_bits;   /* > 0: first tried at this width and re-quantized (issue 8) */
    double fallback_from_err; /* weighted_rel_err at fallback_from_bits */
    double fallback_from_kl;  /* its per-layer KL (aq-eval --layer-kl); written when finite */
    int gptq;                 /* 1: GPTQ; writes optimizer = "gptq", gptq_damp (f64),
                                 gptq_block, gptq_act_order (int32) */
    double gptq_damp;
    int gptq_block, gptq_act_order;
} aq_h5_quantized;

/*! aq_h5_run_info : /run, one entry per rank (arrays of length `ranks`) plus the plan. */
typedef struct {
    int ranks;
    const int32_t *units;        /* units assigned to each rank */
    const int64_t *bytes;        /* source bytes assigned to each rank */
    const double *seconds_quant; /* seconds in weight quantization */
    const double *seconds_send;  /* seconds sending results to rank 0 */
    const double *seconds_total; /* wall seconds from start to end of the run */
    const int64_t *peak_rss;     /* bytes, getrusage(RUSAGE_SELF).ru_maxrss */
    int n_units;
    const char *const *unit_names; /* n_units names, in plan order */
    const int32_t *unit_rank;      /* n_units owner ranks */
} aq_h5_run_info;

/*! aq_h5_create() :
 *  Creates "<path>.partial" (truncating an old one) and writes the root attributes.
 *  `level` is the zstd level (1..22).  Registers the zstd filter.
 *  @return : AQ_OK and *out, AQ_E_IO naming the path when it cannot be created (directory
 *            missing, no permission), AQ_E_HDF5 otherwise. */
aq_status aq_h5_create(const char *path, int level, const aq_h5_root_info *root, aq_h5_writer **out,
                       aq_err *err);

/*! aq_h5_prefilter_2d() :
 *  The stored chunks of a [rows, cols] array of `elem`-byte elements, filtered on the calling
 *  rank exactly as libhdf5 filters them for aq_h5_write_quantized(): the same chunk grid
 *  (up to 1 MiB per chunk), each chunk whole (edge chunks zero-filled to full size, HDF5's
 *  fill value), compressed with ZSTD_compress() at `level` (filter 32015's call and clamp),
 *  then HDF5's Fletcher32 of the compressed bytes appended little-endian (H5Zfletcher32.c).
 *  Chunks are compressed in parallel (OpenMP), in batches of 4 per thread (8 with one
 *  thread): the peak memory is the blob plus one batch of ZSTD_compressBound(chunk) slots.
 *  *blob (malloc'ed, caller frees) holds
 *  uint64 n, uint64 size[n], then the n chunks back to back, row-major over the chunk grid;
 *  native byte order (a job's ranks share an architecture).  No HDF5 call: any rank may run it.
 *  @return : AQ_OK, *blob and *blob_bytes; AQ_E_VALUE (negative dims, NULL data);
 *            AQ_E_NOMEM or a compression failure as AQ_E_NOMEM naming the shape. */
aq_status aq_h5_prefilter_2d(int64_t rows, int64_t cols, size_t elem, const void *data, int level,
                             void **blob, uint64_t *blob_bytes, aq_err *err);

/*! aq_h5_prefilter_rows() :
 *  aq_h5_prefilter_2d() for the rows [row0, row1) of a [rows, cols] array (row-sharding,
 *  issue 16): `data` holds those rows only; the chunk grid is the whole array's, and the
 *  blob holds the chunks of the chunk rows [row0 / C, ceil(row1 / C)), C = aq_h5_chunk_rows(),
 *  in grid order.  Blobs of consecutive row ranges concatenated by aq_h5_blob_concat() are
 *  the blob of their union; over [0, rows) it is aq_h5_prefilter_2d()'s.
 *  @return : AQ_OK; AQ_E_VALUE when the range is out of bounds or row0 (or row1, unless it
 *            is rows) is not a multiple of C; as aq_h5_prefilter_2d() otherwise. */
aq_status aq_h5_prefilter_rows(int64_t rows, int64_t row0, int64_t row1, int64_t cols, size_t elem,
                               const void *data, int level, void **blob, uint64_t *blob_bytes,
                               aq_err *err);

/*! aq_h5_chunk_rows() : rows per chunk of the [rows, cols] datasets of `elem`-byte elements
 *  the writer creates: `rows` when they fit one chunk, else a power of two (1 when one row
 *  exceeds a chunk). */
int64_t aq_h5_chunk_rows(int64_t rows, int64_t cols, size_t elem);

/*! aq_h5_blob_concat() : one blob from n blobs of consecutive chunk rows (in order), into
 *  *out (malloc'ed, caller frees).  @return : AQ_OK; AQ_E_VALUE for a malformed blob;
 *  AQ_E_NOMEM. */
aq_status aq_h5_blob_concat(const void *const *blobs, const uint64_t *bytes, int n, void **out,
                            uint64_t *out_bytes, aq_err *err);

/*! aq_h5_write_quantized() :
 *  /tensors/<name>/ with kind="quantized", shape, orig_dtype, the datasets arrays[i] in
 *  order, the attributes attrs[i] (strings, or int32), the metrics rel_mse, sqnr_db, cosine,
 *  weighted_rel_err, when
 *  fallback_from_bits > 0 the attributes fallback_from_bits and fallback_from_err (and
 *  fallback_from_kl when finite), and last
 *  the attribute complete=1.  With `prefiltered` the datasets are created alike and their
 *  chunks stored as given (H5Dwrite_chunk, no filtering on this rank); a blob whose chunk
 *  table does not match the dataset's chunk grid fails.
 *  @return : AQ_OK or AQ_E_HDF5 naming the tensor. */
aq_status aq_h5_write_quantized(aq_h5_writer *w, const char *name, const aq_h5_quantized *t,
                                aq_err *err);

/*! aq_h5_write_passthrough() :
 *  /tensors/<name>/ with kind="passthrough", shape, orig_dtype and dataset `data` holding the
 *  original bytes with the original shape: F32 as float32, F16 as float16, BF16 as uint16
 *  with the dataset attribute dtype="bf16"; complete=1 last.  A 0-d tensor is stored with
 *  shape [1] and attr shape = [].  @return : AQ_OK or AQ_E_HDF5. */
aq_status aq_h5_write_passthrough(aq_h5_writer *w, const char *name, aq_dtype dtype, int ndim,
                                  const int64_t *shape, const void *data, aq_err *err);

/*! aq_h5_write_passthrough_ex() : aq_h5_write_passthrough() plus n_attrs attributes attrs[i]
 *  (strings, or int32 when str is NULL) written after orig_dtype, before complete; the job
 *  records there why a tensor quant.format would quantize stayed unquantized
 *  (fallback_from_format).  @return : as aq_h5_write_passthrough(). */
aq_status aq_h5_write_passthrough_ex(aq_h5_writer *w, const char *name, aq_dtype dtype, int ndim,
                                     const int64_t *shape, const void *data, const aq_qattr *attrs,
                                     int n_attrs, aq_err *err);

/*! aq_h5_write_passthrough_prefiltered() :
 *  aq_h5_write_passthrough_ex() for a 2-D tensor whose dataset `data` arrives as chunks
 *  filtered on another rank (issue 16): `blob` is aq_h5_prefilter_2d(shape[0], shape[1],
 *  element size of dtype (4 for F32, 2 for F16 and BF16), original bytes, the writer's level),
 *  or the aq_h5_blob_concat() of aq_h5_prefilter_rows() blobs covering every row; stored with
 *  H5Dwrite_chunk, so readers see the same dataset as aq_h5_write_passthrough() writes.
 *  @return : AQ_OK; AQ_E_VALUE (ndim != 2, NULL blob, bad name); AQ_E_HDF5 naming the tensor,
 *            also when the blob's chunk table does not match the dataset's chunk grid. */
aq_status aq_h5_write_passthrough_prefiltered(aq_h5_writer *w, const char *name, aq_dtype dtype,
                                              int ndim, const int64_t *shape, const void *blob,
                                              uint64_t blob_bytes, const aq_qattr *attrs,
                                              int n_attrs, aq_err *err);

/*! aq_h5_write_alias() : /tensors/<alias> as an HDF5 hard link to /tensors/<target>
 *  (tied weights are stored once).  The target must have been written.  */
aq_status aq_h5_write_alias(aq_h5_writer *w, const char *alias, const char *target, aq_err *err);

/*! aq_h5_write_run() : the /run group (see aq_h5_run_info). */
aq_status aq_h5_write_run(aq_h5_writer *w, const aq_h5_run_info *run, aq_err *err);

/*! aq_h5_write_source_digests() :
 *  /source with datasets `file` and `sha256` (fixed-length UTF-8 strings [n], chunked and
 *  checksummed) holding the source model's file names and their SHA-256 digests as 64
 *  lowercase hex digits (from aq_checkpoint_file_digests(), include/aq/safetensors.h), and the
 *  attribute digest = "sha256".  An existing /source (a resumed partial) is replaced.
 *  @return : AQ_OK; AQ_E_VALUE (NULL name, digest not 64 hex digits); AQ_E_HDF5. */
aq_status aq_h5_write_source_digests(aq_h5_writer *w, size_t n, const char *const *files,
                                     const char *const *sha256hex, aq_err *err);

/*! aq_h5_act : one layer's activation parameters and phase figures (docs/DESIGN.md §6.2 /act). */
typedef struct {
    int K, T, act_bits;
    const float *lo, *hi, *scale;                /* [K] */
    const int32_t *zero;                         /* [K] */
    const float *schedule_scale, *schedule_zero; /* [T] */
    double smoothness_before, smoothness_after;
    int violations, violations_high, violations_medium, violations_low;
    double max_jump_before, max_jump_after, expected_err_before, expected_err_after;
    int opt_iterations, opt_converged;       /* 0, 0 when Phase 3 did not run */
    double opt_initial_loss, opt_final_loss; /* NaN when Phase 3 did not run */
    const char *stats_source;                /* "calibration" | "synthetic" */
} aq_h5_act;

/*! aq_h5_write_act() :
 *  /act/<name>/ with datasets lo, hi, scale (float32 [K]), zero (int32 [K]), schedule_scale,
 *  schedule_zero (float32 [T]) and the attributes act_bits, smoothness_before,
 *  smoothness_after, violations (+ violations_high/medium/low), max_jump_before,
 *  max_jump_after, expected_err_before, expected_err_after, opt_iterations, opt_converged,
 *  opt_initial_loss, opt_final_loss, stats_source.  @return : AQ_OK, AQ_E_VALUE, AQ_E_HDF5. */
aq_status aq_h5_write_act(aq_h5_writer *w, const char *name, const aq_h5_act *a, aq_err *err);

/*! aq_h5_write_timegroups() :
 *  /timegroups with boundaries (int32 [K+1]), time_weight and alphabar (float32 [T]) and the
 *  attributes schedule, time_weight_mode, boundaries_mode (strings), K, T (int32).
 *  @return : AQ_OK, AQ_E_VALUE, AQ_E_HDF5. */
aq_status aq_h5_write_timegroups(aq_h5_writer *w, int K, const int32_t *boundaries, int T,
                                 const float *time_weight, const float *alphabar,
                                 const char *schedule, const char *time_weight_mode,
                                 const char *boundaries_mode, aq_err *err);

/*! aq_h5_flush() : flushes everything written so far to "<path>.partial", so that the
 *  partial file stays readable (and resumable) if the process dies later.
 *  @return : AQ_OK or AQ_E_HDF5. */
aq_status aq_h5_flush(aq_h5_writer *w, aq_err *err);

/*! aq_h5_resume() :
 *  Reopens "<path>.partial" left by an interrupted run for writing.  Its root attribute
 *  `config` must equal `config_text` up to a trailing [run] section (ranks and threads do not
 *  change results), else AQ_E_CONFIG naming the partial file and the first differing line.  Removes
 * what the run writes at its end (/act, /timegroups, /run, /source), the links named in
 * drop[0..n_drop) (aliases, re-created at the end), and every /tensors group without complete = 1;
 * returns the names of the complete ones in *completed (n entries; free each and the array with
 * aq_h5_names_free).
 *  @return : AQ_OK and *out; AQ_E_IO when there is no partial file; AQ_E_FORMAT when it is not
 *            an aq-mpi/1 file; AQ_E_CONFIG; AQ_E_HDF5; AQ_E_NOMEM. */
aq_status aq_h5_resume(const char *path, int level, const char *config_text,
                       const char *const *drop, size_t n_drop, aq_h5_writer **out,
                       char ***completed, size_t *n_completed, aq_err *err);

/*! aq_h5_names_free() : frees a name list from aq_h5_resume(); NULL is a no-op. */
void aq_h5_names_free(char **names, size_t n);

/*! aq_h5_commit() : closes the file, renames "<path>.partial" to <path> and frees `w`.
 *  On failure the partial file is left for inspection.  @return : AQ_OK, AQ_E_HDF5, AQ_E_IO. */
aq_status aq_h5_commit(aq_h5_writer *w, aq_err *err);

/*! aq_h5_abort() : closes and frees `w`; removes "<path>.partial" unless keep_partial.
 *  NULL is a no-op. */
void aq_h5_abort(aq_h5_writer *w, int keep_partial);

#endif /* AQ_H5OUT_H */
