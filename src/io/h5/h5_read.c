/*
 * aq-mpi — reader of "aq-mpi/1" result files (include/aq/h5in.h, docs/FORMAT.md).
 */
#include "aq/h5in.h"
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/dtype.h"

struct aq_h5in {
    hid_t file, tensors;
    char *path;
    char **names;
    size_t n, cap;
};

const char *aq_h5in_path(const aq_h5in *h) {
    return h->path;
}
size_t aq_h5in_count(const aq_h5in *h) {
    return h->n;
}
const char *aq_h5in_name(const aq_h5in *h, size_t i) {
    return i < h->n ? h->names[i] : NULL;
}

/* String attribute (variable or fixed length) into buf; 0 or -1. */
static int attr_str(hid_t loc, const char *name, char *buf, size_t size) {
    char *v = aq_h5_attr_read_str(loc, name);
    if (!v) return -1;
    snprintf(buf, size, "%s", v);
    free(v);
    return 0;
}

static int attr_num(hid_t loc, const char *name, hid_t memtype, void *v) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    int rc = a >= 0 && H5Aread(a, memtype, v) >= 0 ? 0 : -1;
    aq_h5_close_id(a);
    return rc;
}

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    aq_h5in *h = data;
    int32_t complete = 0;
    hid_t t = H5Gopen2(g, name, H5P_DEFAULT);
    if (t < 0) return 0; /* not a group: not a tensor */
    int ok = attr_num(t, "complete", H5T_NATIVE_INT32, &complete) == 0 && complete == 1;
    aq_h5_close_id(t);
    if (!ok) return 0;
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        char **p = realloc(h->names, cap * sizeof *p);
        if (!p) return -1;
        h->names = p;
        h->cap = cap;
    }
    h->names[h->n] = strdup(name);
    return h->names[h->n++] ? 0 : -1;
}

static aq_status open_impl(aq_h5in *h, aq_err *err) {
    char fmt[64];
    h->file = H5Fopen(h->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h->file < 0) return aq_err_set(err, AQ_E_FORMAT, "%s: not an HDF5 file", h->path);
    if (attr_str(h->file, "format", fmt, sizeof fmt) != 0 || strcmp(fmt, AQ_FORMAT_NAME))
        return aq_err_set(err, AQ_E_FORMAT, "%s: not an %s result file (format attribute)", h->path,
                          AQ_FORMAT_NAME);
    h->tensors = H5Gopen2(h->file, "tensors", H5P_DEFAULT);
    if (h->tensors < 0) return aq_err_set(err, AQ_E_FORMAT, "%s: no /tensors group", h->path);
    hsize_t idx = 0;
    if (H5Literate(h->tensors, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, h) < 0)
        return aq_err_set(err, AQ_E_NOMEM, "%s: listing /tensors failed", h->path);
    return AQ_OK;
}

aq_status aq_h5in_open(const char *path, aq_h5in **out, aq_err *err) {
    if (access(path, R_OK) != 0) return aq_err_set(err, AQ_E_IO, "%s: cannot read file", path);
    aq_status st = aq_h5z_zstd_register(err);
    if (st != AQ_OK) return st;
    aq_h5in *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    h->file = h->tensors = -1;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    st = open_impl(h, err);
    aq_h5_quiet_end(&q);
    if (st != AQ_OK) {
        aq_h5in_close(h);
        return st;
    }
    *out = h;
    return AQ_OK;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int aq_h5in_has(const aq_h5in *h, const char *name) {
    return h->n && bsearch(&name, h->names, h->n, sizeof *h->names, name_cmp) != NULL;
}

static aq_status info_impl(const aq_h5in *h, hid_t g, const char *name, aq_h5in_info *in,
                           aq_err *err) {
    char kind[32];
    memset(in, 0, sizeof *in);
    if (attr_str(g, "kind", kind, sizeof kind) != 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: no kind attribute", h->path, name);
    in->quantized = strcmp(kind, "quantized") == 0;
    hid_t a = H5Aopen(g, "shape", H5P_DEFAULT), sp = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t nd = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int ok = nd >= 0 && nd <= 8 && (nd == 0 || H5Aread(a, H5T_NATIVE_INT64, in->shape) >= 0);
    aq_h5_close_id(sp);
    aq_h5_close_id(a);
    if (!ok)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: bad shape attribute", h->path, name);
    in->ndim = (int)nd;
    in->rows = nd ? in->shape[0] : 1;
    in->cols = 1;
    for (int i = 1; i < in->ndim; i++)
        in->cols *= in->shape[i];
    in->numel = in->rows * in->cols;
    if (in->quantized && attr_num(g, "bits", H5T_NATIVE_INT, &in->bits)) in->bits = 0;
    if (in->quantized && attr_num(g, "group_size", H5T_NATIVE_INT, &in->group_size))
        in->group_size = 0;
    return AQ_OK;
}

aq_status aq_h5in_tensor_info(const aq_h5in *h, const char *name, aq_h5in_info *info, aq_err *err) {
    if (!aq_h5in_has(h, name))
        return aq_err_set(err, AQ_E_FORMAT, "%s: no complete tensor %s", h->path, name);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t g = H5Gopen2(h->tensors, name, H5P_DEFAULT);
    aq_status st = g < 0 ? aq_h5_fail(err, name) : info_impl(h, g, name, info, err);
    aq_h5_close_id(g);
    aq_h5_quiet_end(&q);
    return st;
}

/* Reads dataset `name` of `g` as `memtype` into buf, checking its element count. */
static aq_status read_ds(const aq_h5in *h, hid_t g, const char *tname, const char *name,
                         hid_t memtype, void *buf, int64_t expect, aq_err *err) {
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: no dataset %s", h->path, tname, name);
    hid_t sp = H5Dget_space(d);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    aq_h5_close_id(sp);
    aq_status st = AQ_OK;
    if (n != expect)
        st = aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: %s has %lld elements, expected %lld",
                        h->path, tname, name, (long long)n, (long long)expect);
    else if (n > 0 && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        char what[600];
        snprintf(what, sizeof what, "%s: tensor %s: reading %s", h->path, tname, name);
        st = aq_h5_fail(err, what);
    }
    aq_h5_close_id(d);
    return st;
}

static aq_status read_passthrough(const aq_h5in *h, hid_t g, const char *name,
                                  const aq_h5in_info *in, float *dst, aq_err *err) {
    char dt[16] = "";
    hid_t d = H5Dopen2(g, "data", H5P_DEFAULT);
    if (d >= 0) attr_str(d, "dtype", dt, sizeof dt);
    aq_h5_close_id(d);
    if (strcmp(dt, "bf16") != 0) /* F32/F16: HDF5 widens to float exactly */
        return read_ds(h, g, name, "data", H5T_NATIVE_FLOAT, dst, in->numel, err);
    uint16_t *raw = malloc((size_t)in->numel * sizeof *raw + 1);
    if (!raw) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", name);
    aq_status st = read_ds(h, g, name, "data", H5T_NATIVE_UINT16, raw, in->numel, err);
    if (st == AQ_OK) aq_convert_to_f32(AQ_DT_BF16, raw, (size_t)in->numel, dst);
    free(raw);
    return st;
}

aq_status aq_h5in_passthrough(const aq_h5in *h, const char *name, float *dst, int64_t numel,
                              aq_err *err) {
    aq_h5in_info in;
    aq_status st = aq_h5in_tensor_info(h, name, &in, err);
    if (st != AQ_OK) return st;
    if (in.quantized)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s is quantized, not passthrough", h->path,
                          name);
    if (in.numel != numel)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s has %lld elements, expected %lld",
                          h->path, name, (long long)in.numel, (long long)numel);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t g = H5Gopen2(h->tensors, name, H5P_DEFAULT);
    st = g < 0 ? aq_h5_fail(err, name) : read_passthrough(h, g, name, &in, dst, err);
    aq_h5_close_id(g);
    aq_h5_quiet_end(&q);
    return st;
}

/* The group of complete tensor `name`, quietly; -1 when missing. */
static hid_t open_tensor(const aq_h5in *h, const char *name) {
    return aq_h5in_has(h, name) ? H5Gopen2(h->tensors, name, H5P_DEFAULT) : -1;
}

int aq_h5in_attr_str(const aq_h5in *h, const char *name, const char *attr, char *buf, size_t size) {
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t g = open_tensor(h, name);
    int rc = g >= 0 && H5Aexists(g, attr) > 0 ? attr_str(g, attr, buf, size) : -1;
    aq_h5_close_id(g);
    aq_h5_quiet_end(&q);
    return rc;
}

int aq_h5in_attr_i32(const aq_h5in *h, const char *name, const char *attr, int32_t *v) {
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t g = open_tensor(h, name);
    int rc = g >= 0 ? attr_num(g, attr, H5T_NATIVE_INT32, v) : -1;
    aq_h5_close_id(g);
    aq_h5_quiet_end(&q);
    return rc;
}

static hid_t elem_memtype(aq_elem e) {
    switch (e) {
    case AQ_ELEM_U8:
        return H5Tcopy(H5T_NATIVE_UINT8);
    case AQ_ELEM_F16:
        return aq_h5_f16_type();
    case AQ_ELEM_F32:
        return H5Tcopy(H5T_NATIVE_FLOAT);
    }
    return -1;
}

aq_status aq_h5in_array(const aq_h5in *h, const char *name, const char *array, aq_elem elem,
                        void *dst, int64_t count, aq_err *err) {
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t g = open_tensor(h, name), mt = elem_memtype(elem);
    aq_status st = g < 0 ? aq_err_set(err, AQ_E_FORMAT, "%s: no complete tensor %s", h->path, name)
                   : mt < 0 ? aq_err_set(err, AQ_E_VALUE, "tensor %s: bad element type", name)
                            : read_ds(h, g, name, array, mt, dst, count, err);
    aq_h5_close_id(mt);
    aq_h5_close_id(g);
    aq_h5_quiet_end(&q);
    return st;
}

/*-*********************************************
 *  /act
 ***********************************************/
int aq_h5in_has_act(const aq_h5in *h, const char *name) {
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    int yes = H5Lexists(h->file, "act", H5P_DEFAULT) > 0;
    hid_t a = yes ? H5Gopen2(h->file, "act", H5P_DEFAULT) : -1;
    yes = a >= 0 && H5Lexists(a, name, H5P_DEFAULT) > 0;
    aq_h5_close_id(a);
    aq_h5_quiet_end(&q);
    return yes;
}

int aq_h5in_any_act(const aq_h5in *h) {
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t a =
        H5Lexists(h->file, "act", H5P_DEFAULT) > 0 ? H5Gopen2(h->file, "act", H5P_DEFAULT) : -1;
    H5G_info_t gi = {0};
    int yes = a >= 0 && H5Gget_info(a, &gi) >= 0 && gi.nlinks > 0;
    aq_h5_close_id(a);
    aq_h5_quiet_end(&q);
    return yes;
}

static int64_t ds_len(hid_t g, const char *name) {
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
    int64_t n = sp >= 0 ? (int64_t)H5Sget_simple_extent_npoints(sp) : -1;
    aq_h5_close_id(sp);
    aq_h5_close_id(d);
    return n;
}

static aq_status read_act_impl(const aq_h5in *h, hid_t g, const char *name, aq_h5in_act *a,
                               aq_err *err) {
    int64_t K = ds_len(g, "lo"), T = ds_len(g, "schedule_scale");
    if (K < 1 || T < 1 || attr_num(g, "act_bits", H5T_NATIVE_INT, &a->act_bits) != 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: /act/%s: missing lo, schedule_scale or act_bits",
                          h->path, name);
    a->K = (int)K;
    a->T = (int)T;
    a->lo = malloc((size_t)K * 4);
    a->hi = malloc((size_t)K * 4);
    a->scale = malloc((size_t)K * 4);
    a->zero = malloc((size_t)K * 4);
    a->schedule_scale = malloc((size_t)T * 4);
    a->schedule_zero = malloc((size_t)T * 4);
    if (!a->lo || !a->hi || !a->scale || !a->zero || !a->schedule_scale || !a->schedule_zero)
        return aq_err_set(err, AQ_E_NOMEM, "/act/%s: out of memory", name);
    aq_status st = read_ds(h, g, name, "lo", H5T_NATIVE_FLOAT, a->lo, K, err);
    if (st == AQ_OK) st = read_ds(h, g, name, "hi", H5T_NATIVE_FLOAT, a->hi, K, err);
    if (st == AQ_OK) st = read_ds(h, g, name, "scale", H5T_NATIVE_FLOAT, a->scale, K, err);
    if (st == AQ_OK) st = read_ds(h, g, name, "zero", H5T_NATIVE_INT32, a->zero, K, err);
    if (st == AQ_OK)
        st = read_ds(h, g, name, "schedule_scale", H5T_NATIVE_FLOAT, a->schedule_scale, T, err);
    if (st == AQ_OK)
        st = read_ds(h, g, name, "schedule_zero", H5T_NATIVE_FLOAT, a->schedule_zero, T, err);
    return st;
}

aq_status aq_h5in_read_act(const aq_h5in *h, const char *name, aq_h5in_act *out, aq_err *err) {
    memset(out, 0, sizeof *out);
    if (!aq_h5in_has_act(h, name))
        return aq_err_set(err, AQ_E_FORMAT, "%s: no /act/%s", h->path, name);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t act = H5Gopen2(h->file, "act", H5P_DEFAULT);
    hid_t g = act >= 0 ? H5Gopen2(act, name, H5P_DEFAULT) : -1;
    aq_status st = g < 0 ? aq_h5_fail(err, name) : read_act_impl(h, g, name, out, err);
    aq_h5_close_id(g);
    aq_h5_close_id(act);
    aq_h5_quiet_end(&q);
    if (st != AQ_OK) aq_h5in_act_free(out);
    return st;
}

void aq_h5in_act_free(aq_h5in_act *a) {
    if (!a) return;
    free(a->lo);
    free(a->hi);
    free(a->scale);
    free(a->zero);
    free(a->schedule_scale);
    free(a->schedule_zero);
    memset(a, 0, sizeof *a);
}

void aq_h5in_close(aq_h5in *h) {
    if (!h) return;
    aq_h5_close_id(h->tensors);
    aq_h5_close_id(h->file);
    for (size_t i = 0; i < h->n; i++)
        free(h->names[i]);
    free(h->names);
    free(h->path);
    free(h);
}
