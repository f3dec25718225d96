/*
 * aq-mpi — reader of result files, format "aq-mpi/1" (docs/FORMAT.md).
 *
 * Opens a result file read-only with the default driver (any process may open it), checks
 * `format`, lists /tensors and hands out passthrough tensors as float32 (converted from their
 * stored dtype: F32, F16, BF16 as uint16 with attribute dtype="bf16") and the attributes and
 * stored arrays of quantized tensors as they are.  The reader knows no quantization format:
 * aq_qread_tensor() (include/aq/qformat.h) decodes a quantized tensor through the format
 * table.  Groups without `complete = 1` are treated as missing.  /act/<name> is read when
 * present.
 * Registers the zstd filter (32015) in-process; HDF5_PLUGIN_PATH is not needed.
 * Errors are one line, naming the file and the object.
 */
#ifndef AQ_H5IN_H
#define AQ_H5IN_H

#include <stddef.h>
#include <stdint.h>

#include "aq/error.h"
#include "aq/qformat.h"

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

/*! aq_h5in_info : what aq_h5in_tensor_info() returns for one tensor. */
typedef struct {
    int quantized; /* 1: kind "quantized", 0: "passthrough" */
    int ndim;
    int64_t shape[8];
    int64_t rows, cols; /* [shape[0], prod(shape[1:])]; [1, 1] for 0-d */
    int64_t numel;
    int bits, group_size; /* quantized: the attributes bits and group_size, 0 when absent */
} aq_h5in_info;

/*! aq_h5in_tensor_info() : @return : AQ_OK; AQ_E_FORMAT "<path>: tensor <name>: <what>". */
aq_status aq_h5in_tensor_info(const aq_h5in *h, const char *name, aq_h5in_info *info, aq_err *err);

/*! aq_h5in_passthrough() :
 *  Reads passthrough tensor `name` as float32 into dst[numel] (caller-allocated; `numel`
 *  must equal the tensor's element count).  Row-major.
 *  @return : AQ_OK; AQ_E_FORMAT (missing, incomplete, quantized, size mismatch, bad
 *            dataset); AQ_E_HDF5 (read failed, e.g. filter); AQ_E_NOMEM. */
aq_status aq_h5in_passthrough(const aq_h5in *h, const char *name, float *dst, int64_t numel,
                              aq_err *err);

/*! aq_h5in_attr_str() / aq_h5in_attr_i32() : attribute `attr` of complete tensor `name`
 *  (string into buf[size]; integer converted to int32).  @return : 0, or -1 when missing. */
int aq_h5in_attr_str(const aq_h5in *h, const char *name, const char *attr, char *buf, size_t size);
int aq_h5in_attr_i32(const aq_h5in *h, const char *name, const char *attr, int32_t *v);

/*! aq_h5in_array() :
 *  Dataset `array` of tensor `name` into dst as `count` elements of `elem` (uint8, IEEE
 *  binary16 bits, float32; HDF5 converts the stored type).
 *  @return : AQ_OK; AQ_E_FORMAT (no such dataset, element count not `count`); AQ_E_HDF5. */
aq_status aq_h5in_array(const aq_h5in *h, const char *name, const char *array, aq_elem elem,
                        void *dst, int64_t count, aq_err *err);

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
