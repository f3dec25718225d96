/*
 * aq-mpi — loading one layer's statistics: every dataset's type and shape is checked
 * against T and the model's channel count before anything is allocated or read.
 */
#include "calib_internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Names the file and layer in every message. */
typedef struct {
    const aq_calib *c;
    const char *layer;
    aq_err *err;
} load_ctx;

#define LOAD_FAIL(x, ...) aq_err_set((x)->err, AQ_E_FORMAT, "%s: layer %s: " __VA_ARGS__)

static const char *class_name(H5T_class_t k) {
    switch (k) {
    case H5T_INTEGER:
        return "integer";
    case H5T_FLOAT:
        return "float";
    case H5T_STRING:
        return "string";
    case H5T_COMPOUND:
        return "compound";
    default:
        return "non-numeric";
    }
}

/* Opens float dataset `dname` of rank `rank` into *ds with its dims; FORMAT otherwise. */
static aq_status open_float(const load_ctx *x, hid_t g, const char *dname, int rank, hsize_t *dims,
                            hid_t *ds) {
    const char *p = x->c->path, *l = x->layer;
    char d[256];
    htri_t e = H5Lexists(g, dname, H5P_DEFAULT);
    *ds = e > 0 ? H5Dopen2(g, dname, H5P_DEFAULT) : -1;
    if (*ds < 0) {
        if (e > 0) aq_h5_error_desc(d, sizeof d);
        return e > 0 ? LOAD_FAIL(x, "%s is not a readable dataset: %s", p, l, dname, d)
                     : LOAD_FAIL(x, "missing dataset %s", p, l, dname);
    }
    hid_t t = H5Dget_type(*ds), s = H5Dget_space(*ds);
    H5T_class_t k = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    int nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
    if (nd == rank) H5Sget_simple_extent_dims(s, dims, NULL);
    aq_h5_close_id(t);
    aq_h5_close_id(s);
    H5Eclear2(H5E_DEFAULT);
    if (k == H5T_FLOAT && nd == rank) return AQ_OK;
    aq_h5_close_id(*ds);
    *ds = -1;
    if (k != H5T_FLOAT)
        return LOAD_FAIL(x, "dataset %s has %s values, expected floating point", p, l, dname,
                         class_name(k));
    return LOAD_FAIL(x, "dataset %s has rank %d, expected %d", p, l, dname, nd, rank);
}

/* Checks the shape of dataset `dname` (closing it): [T] or [T, cols]. */
static aq_status check_shape(const load_ctx *x, hid_t g, const char *dname, int rank,
                             hsize_t *dims) {
    hid_t ds;
    aq_status st = open_float(x, g, dname, rank, dims, &ds);
    aq_h5_close_id(ds);
    if (st == AQ_OK && dims[0] != (hsize_t)x->c->T)
        st = LOAD_FAIL(x, "dataset %s has %llu rows, the file's T is %d", x->c->path, x->layer,
                       dname, (unsigned long long)dims[0], x->c->T);
    return st;
}

/* Channel count from sq_mean and absmax, checked against the model's (expect_in >= 0). */
static aq_status check_channels(const load_ctx *x, hid_t g, int64_t expect_in, int64_t *in) {
    hsize_t sq[2] = {0, 0}, am[2] = {0, 0};
    aq_status st = check_shape(x, g, "sq_mean", 2, sq);
    if (st == AQ_OK) st = check_shape(x, g, "absmax", 2, am);
    if (st != AQ_OK) return st;
    const char *p = x->c->path, *l = x->layer;
    if (expect_in >= 0 && sq[1] != (hsize_t)expect_in)
        return LOAD_FAIL(x, "sq_mean has %llu channels, the model's weight has %lld", p, l,
                         (unsigned long long)sq[1], (long long)expect_in);
    if (am[1] != sq[1])
        return LOAD_FAIL(x, "absmax has %llu channels, sq_mean has %llu", p, l,
                         (unsigned long long)am[1], (unsigned long long)sq[1]);
    if (sq[1] < 1 || sq[1] > (hsize_t)INT64_MAX)
        return LOAD_FAIL(x, "sq_mean has %llu channels", p, l, (unsigned long long)sq[1]);
    *in = (int64_t)sq[1];
    return AQ_OK;
}

/* Optional hist [T, B]; B from the dataset's attribute B when present (must agree). */
static aq_status check_hist(const load_ctx *x, hid_t g, int *B) {
    *B = 0;
    htri_t e = H5Lexists(g, "hist", H5P_DEFAULT);
    if (e <= 0) return AQ_OK;
    hsize_t dims[2] = {0, 0};
    hid_t ds;
    aq_status st = open_float(x, g, "hist", 2, dims, &ds);
    if (st != AQ_OK) return st;
    int attr_b = 0, rc = aq_calib_attr_int(ds, "B", &attr_b);
    aq_h5_close_id(ds);
    H5Eclear2(H5E_DEFAULT);
    const char *p = x->c->path, *l = x->layer;
    if (dims[0] != (hsize_t)x->c->T)
        return LOAD_FAIL(x, "dataset hist has %llu rows, the file's T is %d", p, l,
                         (unsigned long long)dims[0], x->c->T);
    if (dims[1] < 1 || dims[1] > INT_MAX)
        return LOAD_FAIL(x, "dataset hist has %llu bins", p, l, (unsigned long long)dims[1]);
    if (rc < 0 || (rc > 0 && (hsize_t)attr_b != dims[1]))
        return LOAD_FAIL(x, "hist attribute B does not match its %llu columns", p, l,
                         (unsigned long long)dims[1]);
    *B = (int)dims[1];
    return AQ_OK;
}

static aq_status read_one(const load_ctx *x, hid_t g, const char *dname, hid_t mem, void *buf) {
    hid_t ds = H5Dopen2(g, dname, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    aq_h5_close_id(ds);
    if (rc >= 0) return AQ_OK;
    char d[256];
    return LOAD_FAIL(x, "cannot read dataset %s: %s", x->c->path, x->layer, dname,
                     aq_h5_error_desc(d, sizeof d));
}

static aq_status read_all(const load_ctx *x, hid_t g, aq_layer_stats *s) {
    aq_status st = AQ_OK;
    for (int i = 0; st == AQ_OK && i < AQ_CALIB_N_SCALARS; ++i)
        st = read_one(x, g, aq_calib_scalar_names[i], H5T_NATIVE_DOUBLE, aq_calib_scalar(s, i));
    if (st == AQ_OK) st = read_one(x, g, "sq_mean", H5T_NATIVE_FLOAT, s->sq_mean);
    if (st == AQ_OK) st = read_one(x, g, "absmax", H5T_NATIVE_FLOAT, s->absmax);
    if (st == AQ_OK && s->B > 0) st = read_one(x, g, "hist", H5T_NATIVE_DOUBLE, s->hist);
    return st;
}

static aq_status load_group(const load_ctx *x, hid_t g, int64_t expect_in, aq_layer_stats *out) {
    int64_t in = 0;
    int B = 0;
    hsize_t dims[1];
    aq_status st = check_channels(x, g, expect_in, &in);
    for (int i = 0; st == AQ_OK && i < AQ_CALIB_N_SCALARS; ++i)
        st = check_shape(x, g, aq_calib_scalar_names[i], 1, dims);
    if (st == AQ_OK) st = check_hist(x, g, &B);
    if (st == AQ_OK) st = aq_layer_stats_alloc(out, x->layer, x->c->T, in, B, x->err);
    if (st == AQ_OK) st = read_all(x, g, out);
    if (st == AQ_OK) out->synthetic = x->c->synthetic;
    return st;
}

aq_status aq_calib_load(const aq_calib *c, const char *name, int64_t expect_in, aq_layer_stats *out,
                        aq_err *err) {
    if (!c || !name || !out)
        return aq_err_set(err, AQ_E_VALUE, "aq_calib_load: missing file, name or output");
    memset(out, 0, sizeof *out);
    if (!aq_calib_has(c, name))
        return aq_err_set(err, AQ_E_FORMAT, "%s: no statistics for layer %s", c->path, name);
    load_ctx x = {c, name, err};
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t g = H5Gopen2(c->stats, name, H5P_DEFAULT);
    aq_status st;
    if (g < 0) {
        char d[256];
        st =
            LOAD_FAIL(&x, "not a readable group: %s", c->path, name, aq_h5_error_desc(d, sizeof d));
    } else {
        st = load_group(&x, g, expect_in, out);
    }
    aq_h5_close_id(g);
    H5Eclear2(H5E_DEFAULT);
    aq_h5_quiet_end(&q);
    if (st == AQ_OK) st = aq_layer_stats_check(out, c->path, err);
    if (st != AQ_OK) aq_layer_stats_free(out);
    return st;
}
