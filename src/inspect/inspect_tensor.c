/*
 * aq-mpi — aq-inspect --verify: the checks of one /tensors/<name> group against
 * docs/FORMAT.md (attributes, shapes, packing, stored values).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/qformat.h"
#include "inspect_read.h"
#include "inspect_verify.h"

typedef struct {
    ins_verify *v;
    const char *obj; /* "tensor <name>" */
    int ndim;
    int64_t shape[8], rows, cols;
    char dtype[16];
} tensor_ctx;

static int one_of(const char *s, const char *const *set) {
    for (; *set; ++set)
        if (strcmp(s, *set) == 0) return 1;
    return 0;
}

/* Opens dataset `dn` and checks its class, element size and dims; -1 after a problem. */
static hid_t open_checked(tensor_ctx *t, hid_t g, const char *dn, H5T_class_t cls, size_t size,
                          int nd, const int64_t *want) {
    hid_t d = H5Lexists(g, dn, H5P_DEFAULT) > 0 ? H5Dopen2(g, dn, H5P_DEFAULT) : -1;
    if (d < 0) {
        ins_problem(t->v, t->obj, "dataset %s missing or unreadable", dn);
        return -1;
    }
    hid_t ft = H5Dget_type(d);
    int ok_type = ft >= 0 && H5Tget_class(ft) == cls && H5Tget_size(ft) == size;
    aq_h5_close_id(ft);
    hsize_t dims[8];
    int got = ins_dims(d, dims), ok_dims = got == nd;
    for (int i = 0; ok_dims && i < nd; ++i)
        ok_dims = dims[i] == (hsize_t)want[i];
    if (!ok_type) ins_problem(t->v, t->obj, "dataset %s has the wrong type", dn);
    if (!ok_dims) {
        char s[160] = "";
        for (int i = 0; i < nd; ++i)
            snprintf(s + strlen(s), sizeof s - strlen(s), "%s%lld", i ? ", " : "",
                     (long long)want[i]);
        ins_problem(t->v, t->obj, "dataset %s has rank %d or dims other than [%s]", dn, got, s);
    }
    if (ok_type && ok_dims) return d;
    aq_h5_close_id(d);
    return -1;
}

typedef struct {
    int64_t cols;
    int bits;
    int64_t bad_row;
} pad_ctx;

/* Unused high bits of each row's last byte must be 0 (lsb-first-row-aligned). */
static int check_padding(void *ctx, const void *buf, int64_t row0, int64_t nrows,
                         int64_t row_elems) {
    pad_ctx *p = ctx;
    int used = (int)((p->cols * p->bits) % 8);
    if (used == 0 || p->bad_row >= 0) return 0;
    const uint8_t *b = buf;
    for (int64_t r = 0; r < nrows; ++r)
        if (b[r * row_elems + row_elems - 1] >> used) {
            p->bad_row = row0 + r;
            return 0;
        }
    return 0;
}

typedef struct {
    int64_t bad;
} finite_ctx;

static int check_finite(void *ctx, const void *buf, int64_t row0, int64_t nrows,
                        int64_t row_elems) {
    finite_ctx *c = ctx;
    const float *f = buf;
    for (int64_t i = 0; c->bad < 0 && i < nrows * row_elems; ++i)
        if (!isfinite(f[i])) c->bad = row0 + i / row_elems;
    return 0;
}

static void read_checked(tensor_ctx *t, hid_t d, const char *dn, hid_t mt, ins_block_fn fn,
                         void *c) {
    char desc[200];
    if (d >= 0 && ins_read_all(d, mt, fn, c) < 0)
        ins_problem(t->v, t->obj, "dataset %s cannot be read: %s", dn,
                    aq_h5_error_desc(desc, sizeof desc));
}

static void check_scale(tensor_ctx *t, hid_t g, const char *dn, size_t size, const int64_t *dims) {
    hid_t d = open_checked(t, g, dn, H5T_FLOAT, size, 2, dims);
    finite_ctx c = {-1};
    read_checked(t, d, dn, H5T_NATIVE_FLOAT, check_finite, &c);
    if (c.bad >= 0)
        ins_problem(t->v, t->obj, "dataset %s: non-finite value in row %lld", dn, (long long)c.bad);
    aq_h5_close_id(d);
}

/* The tensor group's attributes, for the format table (aq_qformat_read_params). */
static int attr_str_of(void *ctx, const char *name, char *buf, size_t size) {
    return ins_attr_str(*(const hid_t *)ctx, name, buf, size);
}

static int attr_num_of(void *ctx, const char *name, int32_t *v) {
    return ins_attr_num(*(const hid_t *)ctx, name, H5T_NATIVE_INT32, v);
}

/* The format and its parameters from the attributes, checked by the format table. */
static int quant_attrs(tensor_ctx *t, hid_t g, const aq_qformat **f, aq_quant_params *p) {
    const aq_qattr_source src = {&g, attr_str_of, attr_num_of};
    aq_err e = {0};
    int ok = aq_qformat_read_params(&src, f, p, &e) == AQ_OK;
    if (!ok) ins_problem(t->v, t->obj, "%s", e.msg);
    if (ok && t->cols % (*f)->row_multiple != 0)
        ok = 0, ins_problem(t->v, t->obj, "row length %lld is not a multiple of %lld (format %s)",
                            (long long)t->cols, (long long)(*f)->row_multiple, (*f)->name);
    double m = 0;
    if (ins_attr_num(g, "rel_mse", H5T_NATIVE_DOUBLE, &m) != 0 || !(m >= 0) || !isfinite(m))
        ins_problem(t->v, t->obj, "attribute rel_mse missing or not a finite value >= 0");
    return ok;
}

/* A uint8 dataset [rows, row_elems]; with used_bits, the padding bits of each row are 0. */
static void check_bytes(tensor_ctx *t, hid_t g, const aq_qarray *a) {
    int64_t dims[2] = {t->rows, a->row_elems};
    hid_t d = open_checked(t, g, a->name, H5T_INTEGER, 1, 2, dims);
    pad_ctx p = {a->used_bits, 1, -1};
    read_checked(t, d, a->name, H5T_NATIVE_UINT8, a->used_bits ? check_padding : NULL, &p);
    if (p.bad_row >= 0)
        ins_problem(t->v, t->obj, "%s row %lld: padding bits are not zero", a->name,
                    (long long)p.bad_row);
    aq_h5_close_id(d);
}

/* Every stored array of the tensor's format: type, dims, padding, finite floats. */
static void check_quantized(tensor_ctx *t, hid_t g) {
    const aq_qformat *f = NULL;
    aq_quant_params p;
    if (!quant_attrs(t, g, &f, &p)) return;
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    const int n = f->arrays(f, &p, t->cols, a);
    for (int i = 0; i < n; ++i) {
        if (a[i].elem == AQ_ELEM_U8) {
            check_bytes(t, g, &a[i]);
        } else {
            int64_t dims[2] = {t->rows, a[i].row_elems};
            check_scale(t, g, a[i].name, aq_elem_size(a[i].elem), dims);
        }
    }
}

static void check_passthrough(tensor_ctx *t, hid_t g) {
    int64_t one = 1;
    const int64_t *dims = t->ndim ? t->shape : &one;
    int nd = t->ndim ? t->ndim : 1;
    int bf16 = strcmp(t->dtype, "BF16") == 0;
    size_t size = strcmp(t->dtype, "F32") == 0 ? 4 : 2;
    hid_t d = open_checked(t, g, "data", bf16 ? H5T_INTEGER : H5T_FLOAT, size, nd, dims);
    char tag[16];
    if (d >= 0 && bf16 && (ins_attr_str(d, "dtype", tag, sizeof tag) != 0 || strcmp(tag, "bf16")))
        ins_problem(t->v, t->obj, "dataset data: BF16 without attribute dtype = \"bf16\"");
    read_checked(t, d, "data", -1, NULL, NULL);
    aq_h5_close_id(d);
}

static int shape_attrs(tensor_ctx *t, hid_t g) {
    static const char *const DT[] = {"F32", "F16", "BF16", NULL};
    int32_t complete = 0;
    if (ins_attr_num(g, "complete", H5T_NATIVE_INT32, &complete) != 0 || complete != 1) {
        ins_problem(t->v, t->obj, "incomplete (attribute complete != 1)");
        return 0;
    }
    if (ins_attr_shape(g, "shape", t->shape, 8, &t->ndim) != 0) {
        ins_problem(t->v, t->obj, "attribute shape missing or not an int64 array");
        return 0;
    }
    t->rows = t->ndim ? t->shape[0] : 1;
    t->cols = 1;
    for (int i = 0; i < t->ndim; ++i)
        if (t->shape[i] < 0) return ins_problem(t->v, t->obj, "negative dimension in shape"), 0;
    for (int i = 1; i < t->ndim; ++i)
        t->cols *= t->shape[i];
    if (ins_attr_str(g, "orig_dtype", t->dtype, sizeof t->dtype) != 0 || !one_of(t->dtype, DT)) {
        ins_problem(t->v, t->obj, "attribute orig_dtype missing or not F32/F16/BF16");
        return 0;
    }
    return 1;
}

/* Aliases are hard links: check each group once. */
static int seen_before(ins_verify *v, hid_t g) {
    H5O_info_t info;
    if (H5Oget_info2(g, &info, H5O_INFO_BASIC) < 0) return 0;
    for (size_t i = 0; i < v->nseen; ++i)
        if (v->seen[i] == info.addr) return 1;
    if (v->nseen == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        haddr_t *p = realloc(v->seen, cap * sizeof *p);
        if (!p) return 0;
        v->seen = p;
        v->cap = cap;
    }
    v->seen[v->nseen++] = info.addr;
    return 0;
}

static herr_t check_one(hid_t tensors, const char *name, const H5L_info_t *li, void *data) {
    (void)li;
    ins_verify *v = data;
    char obj[600], kind[32] = "", desc[200];
    snprintf(obj, sizeof obj, "tensor %s", name);
    hid_t g = H5Gopen2(tensors, name, H5P_DEFAULT);
    tensor_ctx t = {.v = v, .obj = obj};
    if (g < 0) {
        ins_problem(v, obj, "not a readable group: %s", aq_h5_error_desc(desc, sizeof desc));
    } else if (!seen_before(v, g) && shape_attrs(&t, g)) {
        if (ins_attr_str(g, "kind", kind, sizeof kind) != 0)
            ins_problem(v, obj, "attribute kind missing");
        else if (strcmp(kind, "quantized") == 0)
            check_quantized(&t, g);
        else if (strcmp(kind, "passthrough") == 0)
            check_passthrough(&t, g);
        else
            ins_problem(v, obj, "unknown kind '%s'", kind);
    }
    aq_h5_close_id(g);
    return 0;
}

void ins_check_tensors(ins_verify *v, hid_t f) {
    hid_t g = H5Gopen2(f, "tensors", H5P_DEFAULT);
    hsize_t idx = 0;
    char desc[200];
    if (g < 0 || H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, check_one, v) < 0)
        ins_problem(v, "/tensors", "cannot list: %s", aq_h5_error_desc(desc, sizeof desc));
    else if (idx == 0)
        ins_problem(v, "/tensors", "no tensors");
    aq_h5_close_id(g);
}
