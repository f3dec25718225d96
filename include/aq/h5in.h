/*
 * aq-mpi — reader of result files, format "aq-mpi/1" (docs/FORMAT.md).
 *
 * Opens a result file read-only with the default driver (any process may open it), checks
 * `format`, lists /tensors and hands out each tensor as float32: quantized tensors are
 * dequantized (codes unpacked lsb-first row-aligned, w^ = min + q * scale with the stored f16
 * or f32 scale/min, exactly as docs/FORMAT.md), passthrough tensors are converted from their
 * stored dtype (F32, F16, BF16 as uint16 with attribute dtype="bf16").  Groups without
 * `complete = 1` are treated as missing.  /act/<name> is read when present.
 * Registers the zstd filter (32015) in-process; HDF5_PLUGIN_PATH is not needed.
 * Errors are one line, naming the file and the object.
 */
#ifndef AQ_H5IN_H
#define AQ_H5IN_H

#include <stddef.h>
#include <stdint.h>

#include "aq/error.h"

typedef struct aq_h5in aq_h5in;

/*! aq_h5in_open() : @return : AQ_OK and *out; AQ_E_IO (missing file); AQ_E_FORMAT (not
 *  HDF5, format attribute missing or not "aq-mpi/1", no /tensors); AQ_E_NOMEM. */
aq_status aq_h5in_open(const char *path, aq_h5in **out, aq_err *err);

/*! aq_h5in_count() / aq_h5in_name() : complete tensors under /tensors (aliases included), in
 *  strcmp order.  Names are owned by the reader. */
size_t aq_h5in_count(const aq_h5in *h);
const char *aq_h5in_name(const aq_h5in *h, size_t i);

/*! aq_h5in_has() : whether tensor `name` exists and is complete. */
int aq_h5in_has(const aq_h5in *h, const char *name);

/*! aq_h5in_info : what aq_h5in_tensor() returns for one tensor. */
typedef struct {
    int quantized; /* 1: kind "quantized", 0: "passthrough" */
    int ndim;
    int64_t shape[8];
    int64_t rows, cols; /* [shape[0], prod(shape[1:])]; [1, 1] for 0-d */
    int64_t numel;
    int bits, group_size; /* quantized only */
    int dq_bits;          /* > 0: double-quantized layout (scale_dtype "dq", aq/dq.h) */
} aq_h5in_info;

/*! aq_h5in_tensor_info() : @return : AQ_OK; AQ_E_FORMAT "<path>: tensor <name>: <what>". */
aq_status aq_h5in_tensor_info(const aq_h5in *h, const char *name, aq_h5in_info *info, aq_err *err);

/*! aq_h5in_tensor() :
 *  Reads tensor `name` as float32 into dst[numel] (caller-allocated; `numel` must equal
 *  the tensor's element count), dequantizing when quantized.  Row-major [rows, cols].
 *  @return : AQ_OK; AQ_E_FORMAT (missing, incomplete, size mismatch, bad datasets);
 *            AQ_E_HDF5 (read failed, e.g. filter); AQ_E_NOMEM. */
aq_status aq_h5in_tensor(const aq_h5in *h, const char *name, float *dst, int64_t numel,
                         aq_err *err);

/*! aq_h5in_act : /act/<name>: K time groups, T time steps; arrays owned (aq_h5in_act_free). */
typedef struct {
    int K, T, act_bits;
    float *lo, *hi, *scale;                /* [K] */
    int32_t *zero;                         /* [K] */
    float *schedule_scale, *schedule_zero; /* [T] */
} aq_h5in_act;

/*! aq_h5in_has_act() : whether /act/<name> exists. */
int aq_h5in_has_act(const aq_h5in *h, const char *name);
/*! aq_h5in_any_act() : whether the file has an /act group with at least one layer. */
int aq_h5in_any_act(const aq_h5in *h);

/*! aq_h5in_read_act() : @return : AQ_OK; AQ_E_FORMAT (missing dataset or attribute,
 *  inconsistent lengths); AQ_E_HDF5; AQ_E_NOMEM. */
aq_status aq_h5in_read_act(const aq_h5in *h, const char *name, aq_h5in_act *out, aq_err *err);
void aq_h5in_act_free(aq_h5in_act *a);

/*! aq_h5in_path() : the path given to aq_h5in_open(). */
const char *aq_h5in_path(const aq_h5in *h);

/*! aq_h5in_close() : NULL is a no-op. */
void aq_h5in_close(aq_h5in *h);

#endif /* AQ_H5IN_H */
