/*
 * aq-mpi — aq-inspect --export: dequantized tensors back to safetensors (bf16 or f32).
 *
 * Aliases are HDF5 hard links: names that open the same group are one stored tensor (the
 * first name in strcmp order) plus "__metadata__" alias entries for the others, which is
 * how the source safetensors spelled tied weights and what aq_checkpoint_open() reads back.
 */
#include <stdlib.h>
#include <string.h>

#include "aq/h5in.h"
#include "aq/qformat.h"
#include "aq/safetensors.h"
#include "inspect_internal.h"

typedef struct {
    const char *name;
    haddr_t addr;
    long target; /* index of the stored tensor this name aliases, -1 when it is stored */
    aq_h5in_info info;
} exp_entry;

static aq_status plan(const aq_h5in *h, hid_t f, const char *only, exp_entry **out, size_t *n,
                      aq_err *err) {
    size_t cnt = aq_h5in_count(h);
    exp_entry *e = calloc(cnt ? cnt : 1, sizeof *e);
    if (!e) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", aq_h5in_path(h));
    *out = e;
    *n = 0;
    hid_t tg = H5Gopen2(f, "tensors", H5P_DEFAULT);
    for (size_t i = 0; i < cnt; ++i) {
        const char *name = aq_h5in_name(h, i);
        if (only && strcmp(only, name) != 0) continue;
        H5O_info_t oi;
        if (tg < 0 || H5Oget_info_by_name2(tg, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
            aq_h5_close_id(tg);
            return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: cannot open", aq_h5in_path(h),
                              name);
        }
        exp_entry *x = &e[(*n)++];
        *x = (exp_entry){.name = name, .addr = oi.addr, .target = -1};
        for (size_t j = 0; j + 1 < *n && x->target < 0; ++j)
            if (e[j].addr == oi.addr && e[j].target < 0) x->target = (long)j;
        aq_status st = aq_h5in_tensor_info(h, name, &x->info, err);
        if (st != AQ_OK) {
            aq_h5_close_id(tg);
            return st;
        }
    }
    aq_h5_close_id(tg);
    if (only && *n == 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: no complete tensor named %s", aq_h5in_path(h),
                          only);
    return AQ_OK;
}

static aq_status declare(aq_st_writer *w, const exp_entry *e, size_t n, aq_dtype dt, aq_err *err) {
    aq_status st = AQ_OK;
    for (size_t i = 0; st == AQ_OK && i < n; ++i)
        if (e[i].target < 0)
            st = aq_st_writer_declare(w, e[i].name, dt, e[i].info.ndim, e[i].info.shape, err);
    for (size_t i = 0; st == AQ_OK && i < n; ++i)
        if (e[i].target >= 0) st = aq_st_writer_metadata(w, e[i].name, e[e[i].target].name, err);
    return st;
}

static aq_status write_one(aq_st_writer *w, const aq_h5in *h, const exp_entry *x, aq_dtype dt,
                           aq_err *err) {
    int64_t n = x->info.numel;
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    if (!f) return aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory", x->name);
    aq_status st = aq_qread_tensor(h, x->name, f, n, err);
    uint16_t *b = NULL;
    if (st == AQ_OK && dt == AQ_DT_BF16) {
        b = malloc((size_t)(n ? n : 1) * sizeof *b);
        if (!b) st = aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory", x->name);
        for (int64_t i = 0; b && i < n; ++i)
            b[i] = aq_f32_to_bf16(f[i]);
    }
    const void *data = dt == AQ_DT_BF16 ? (const void *)b : (const void *)f;
    if (st == AQ_OK) st = aq_st_writer_data(w, data, (size_t)n * aq_dtype_size(dt), err);
    free(b);
    free(f);
    return st;
}

static aq_status export_impl(const aq_h5in *h, hid_t f, const char *out_path, aq_dtype dt,
                             const char *only, aq_err *err) {
    exp_entry *e = NULL;
    size_t n = 0;
    aq_st_writer *w = NULL;
    aq_status st = plan(h, f, only, &e, &n, err);
    if (st == AQ_OK) st = aq_st_writer_create(out_path, &w, err);
    if (st == AQ_OK) st = declare(w, e, n, dt, err);
    for (size_t i = 0; st == AQ_OK && i < n; ++i)
        if (e[i].target < 0) st = write_one(w, h, &e[i], dt, err);
    if (st == AQ_OK) {
        st = aq_st_writer_finish(w, err);
    } else {
        aq_st_writer_abort(w);
    }
    free(e);
    return st;
}

aq_status aq_inspect_export(const char *path, const char *out_path, aq_dtype dtype,
                            const char *only, aq_err *err) {
    if (dtype != AQ_DT_BF16 && dtype != AQ_DT_F32)
        return aq_err_set(err, AQ_E_VALUE, "export: dtype must be bf16 or f32");
    aq_h5in *h = NULL;
    aq_status st = aq_h5in_open(path, &h, err);
    if (st != AQ_OK) return st;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        st = aq_err_set(err, AQ_E_FORMAT, "%s: cannot open as HDF5", path);
    else
        st = export_impl(h, f, out_path, dtype, only, err);
    aq_h5_close_id(f);
    aq_h5_quiet_end(&q);
    aq_h5in_close(h);
    return st;
}
