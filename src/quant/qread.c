/*
 * aq-mpi — a tensor of a result file as float32 (aq_qread_tensor(), include/aq/qformat.h):
 * the reader (include/aq/h5in.h) hands out attributes and stored arrays, the format table
 * identifies the format and decodes them.  Dequantization lives here, not in the reader.
 */
#include <stdlib.h>

#include "aq/h5in.h"
#include "quant_impl.h"

typedef struct {
    const aq_h5in *h;
    const char *name;
} attr_ctx;

static int get_str(void *ctx, const char *attr, char *buf, size_t size) {
    const attr_ctx *c = ctx;
    return aq_h5in_attr_str(c->h, c->name, attr, buf, size);
}

static int get_num(void *ctx, const char *attr, int32_t *v) {
    const attr_ctx *c = ctx;
    return aq_h5in_attr_i32(c->h, c->name, attr, v);
}

/* Reads the format's arrays of `name` into freshly allocated buffers arr[0..n). */
static aq_status read_arrays(const aq_h5in *h, const char *name, const aq_qarray *a, int n,
                             int64_t rows, void **arr, aq_err *err) {
    aq_status st = AQ_OK;
    for (int i = 0; st == AQ_OK && i < n; ++i) {
        const int64_t count = rows * a[i].row_elems;
        arr[i] = malloc((size_t)count * aq_elem_size(a[i].elem) + 1);
        st = arr[i] ? aq_h5in_array(h, name, a[i].name, a[i].elem, arr[i], count, err)
                    : aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", name);
    }
    return st;
}

static aq_status read_quantized(const aq_h5in *h, const char *name, const aq_h5in_info *in,
                                float *dst, aq_err *err) {
    attr_ctx ctx = {h, name};
    const aq_qattr_source src = {&ctx, get_str, get_num};
    const aq_qformat *f = NULL;
    aq_quant_params p;
    aq_err e = {0};
    if (aq_qformat_read_params(&src, &f, &p, &e) != AQ_OK)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: %s", aq_h5in_path(h), name, e.msg);
    if (in->cols % f->row_multiple != 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: row length %lld does not fit format %s",
                          aq_h5in_path(h), name, (long long)in->cols, f->name);
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    const int n = f->arrays(f, &p, in->cols, a);
    void *arr[AQ_QF_MAX_ARRAYS] = {NULL};
    aq_status st = read_arrays(h, name, a, n, in->rows, arr, err);
    if (st == AQ_OK)
        aq_qformat_dequantize_rows(&p, (const void *const *)arr, in->rows, in->cols, dst);
    for (int i = 0; i < n; ++i)
        free(arr[i]);
    return st;
}

aq_status aq_qread_tensor(const aq_h5in *h, const char *name, float *dst, int64_t numel,
                          aq_err *err) {
    aq_h5in_info in;
    aq_status st = aq_h5in_tensor_info(h, name, &in, err);
    if (st != AQ_OK) return st;
    if (!in.quantized) return aq_h5in_passthrough(h, name, dst, numel, err);
    if (in.numel != numel)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s has %lld elements, expected %lld",
                          aq_h5in_path(h), name, (long long)in.numel, (long long)numel);
    return read_quantized(h, name, &in, dst, err);
}
