/*
 * aq-mpi — reader of "aq-mpi/1" result files (include/aq/h5in.h, docs/FORMAT.md).
 */
#include "aq/h5in.h"
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/dq.h"
#include "aq/dtype.h"
#include "aq/quant.h"

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
    if (in->quantized && (attr_num(g, "bits", H5T_NATIVE_INT, &in->bits) ||
                          attr_num(g, "group_size", H5T_NATIVE_INT, &in->group_size)))
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s: no bits/group_size", h->path, name);
    char sd[16] = "";
    if (in->quantized && attr_str(g, "scale_dtype", sd, sizeof sd) == 0 && !strcmp(sd, "dq")) {
        aq_err e2;
        aq_dq_layout L = {in->bits, in->group_size, 0};
        if (attr_num(g, "dq_bits", H5T_NATIVE_INT, &L.sub_bits) ||
            aq_dq_layout_check(&L, &e2) != AQ_OK)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor %s: bad dq layout (bits %d, "
                              "group_size %d, dq_bits %d)",
                              h->path, name, L.bits, L.group_size, L.sub_bits);
        in->dq_bits = L.sub_bits;
    }
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

static int dataset_type_size(hid_t g, const char *name) {
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), t = d >= 0 ? H5Dget_type(d) : -1;
    int n = t >= 0 ? (int)H5Tget_size(t) : -1;
    aq_h5_close_id(t);
    aq_h5_close_id(d);
    return n;
}

/* Double-quantized layout: codes, sub, super_scale, super_min (docs/FORMAT.md). */
static aq_status read_dq(const aq_h5in *h, hid_t g, const char *name, const aq_h5in_info *in,
                         float *dst, aq_err *err) {
    const aq_dq_layout L = {in->bits, in->group_size, in->dq_bits};
    const size_t packed = aq_packed_row_bytes(in->cols, in->bits);
    const size_t sb = aq_dq_sub_row_bytes(in->cols, &L);
    const int64_t ns = aq_dq_supers(in->cols), rows = in->rows;
    uint8_t *codes = malloc((size_t)rows * packed + 1), *sub = malloc((size_t)rows * sb + 1);
    uint16_t *d = malloc((size_t)(rows * ns) * 2 + 2), *dm = malloc((size_t)(rows * ns) * 2 + 2);
    hid_t mt = aq_h5_f16_type();
    aq_status st =
        codes && sub && d && dm ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", name);
    if (st == AQ_OK)
        st = read_ds(h, g, name, "codes", H5T_NATIVE_UINT8, codes, rows * (int64_t)packed, err);
    if (st == AQ_OK)
        st = read_ds(h, g, name, "sub", H5T_NATIVE_UINT8, sub, rows * (int64_t)sb, err);
    if (st == AQ_OK) st = read_ds(h, g, name, "super_scale", mt, d, rows * ns, err);
    if (st == AQ_OK) st = read_ds(h, g, name, "super_min", mt, dm, rows * ns, err);
    if (st == AQ_OK) {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++)
            aq_dq_dequantize_row(&L, codes + r * (int64_t)packed, sub + r * (int64_t)sb, d + r * ns,
                                 dm + r * ns, in->cols, dst + r * in->cols);
    }
    aq_h5_close_id(mt);
    free(codes);
    free(sub);
    free(d);
    free(dm);
    return st;
}

static aq_status read_quantized(const aq_h5in *h, hid_t g, const char *name, const aq_h5in_info *in,
                                float *dst, aq_err *err) {
    if (in->dq_bits > 0) return read_dq(h, g, name, in, dst, err);
    aq_quant_params p = {in->bits, in->group_size, AQ_METHOD_RTN, AQ_SCALE_F16, 0};
    p.scale_dtype = dataset_type_size(g, "scale") == 4 ? AQ_SCALE_F32 : AQ_SCALE_F16;
    size_t packed = aq_packed_row_bytes(in->cols, in->bits);
    int64_t groups = aq_groups_per_row(in->cols, in->group_size);
    size_t ssz = aq_scale_dtype_size(p.scale_dtype), gn = (size_t)(in->rows * groups);
    uint8_t *codes = malloc((size_t)in->rows * packed + 1);
    uint8_t *scale = malloc(gn * ssz + 1), *mn = malloc(gn * ssz + 1);
    hid_t mt = p.scale_dtype == AQ_SCALE_F32 ? H5Tcopy(H5T_NATIVE_FLOAT) : aq_h5_f16_type();
    aq_status st =
        codes && scale && mn ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", name);
    if (st == AQ_OK)
        st = read_ds(h, g, name, "codes", H5T_NATIVE_UINT8, codes, in->rows * (int64_t)packed, err);
    if (st == AQ_OK) st = read_ds(h, g, name, "scale", mt, scale, (int64_t)gn, err);
    if (st == AQ_OK) st = read_ds(h, g, name, "min", mt, mn, (int64_t)gn, err);
    if (st == AQ_OK) {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < in->rows; r++)
            aq_dequantize_row(&p, codes + r * (int64_t)packed, scale + r * groups * (int64_t)ssz,
                              mn + r * groups * (int64_t)ssz, in->cols, dst + r * in->cols);
    }
    aq_h5_close_id(mt);
    free(codes);
    free(scale);
    free(mn);
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

aq_status aq_h5in_tensor(const aq_h5in *h, const char *name, float *dst, int64_t numel,
                         aq_err *err) {
    aq_h5in_info in;
    aq_status st = aq_h5in_tensor_info(h, name, &in, err);
    if (st != AQ_OK) return st;
    if (in.numel != numel)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor %s has %lld elements, expected %lld",
                          h->path, name, (long long)in.numel, (long long)numel);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t g = H5Gopen2(h->tensors, name, H5P_DEFAULT);
    if (g < 0)
        st = aq_h5_fail(err, name);
    else if (in.quantized)
        st = read_quantized(h, g, name, &in, dst, err);
    else
        st = read_passthrough(h, g, name, &in, dst, err);
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
