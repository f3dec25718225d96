/*
 * aq-mpi — Hessians in the calibration file (layout in include/aq/hessian.h): the store
 * (open / put / close, each layer written under a temporary name and renamed when complete)
 * and the reader with its checks, every message naming file and layer.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/hessian.h"
#include "calib_internal.h"

#define HESSIAN_GROUP "hessian"
#define CHUNK_VALUES ((hsize_t)1 << 20)

struct aq_hessian_store {
    char *path;
    hid_t file, group;
};

/*-*********************************************
 *  Attributes
 ***********************************************/

static int put_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = s < 0 ? -1 : H5Acreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, mtype, v) < 0) ? -1 : 0;
    if (aq_h5_close_id(a) < 0) rc = -1;
    aq_h5_close_id(s);
    return rc;
}

/* Fixed-length null-terminated UTF-8, as calib_write.c (checksummed object header). */
static int put_str(hid_t loc, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    int rc = (t < 0 || H5Tset_size(t, strlen(v) + 1) < 0 ||
              H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)
                 ? -1
                 : put_attr(loc, name, t, t, v);
    aq_h5_close_id(t);
    return rc;
}

static int get_f64(hid_t loc, const char *name, double *v) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), sp = a < 0 ? -1 : H5Aget_space(a);
    hid_t t = a < 0 ? -1 : H5Aget_type(a);
    int rc = (sp < 0 || t < 0 || H5Sget_simple_extent_npoints(sp) != 1 ||
              (H5Tget_class(t) != H5T_FLOAT && H5Tget_class(t) != H5T_INTEGER) ||
              H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0)
                 ? -1
                 : 0;
    aq_h5_close_id(t);
    aq_h5_close_id(sp);
    aq_h5_close_id(a);
    return rc;
}

static aq_status check_schedule(const aq_hessian_schedule *s, aq_err *err) {
    if (!s || s->T < 1 || !s->schedule || !s->time_weight || !s->w)
        return aq_err_set(err, AQ_E_VALUE, "Hessian schedule: T >= 1, names and weights needed");
    for (int t = 0; t < s->T; ++t)
        if (!isfinite(s->w[t]) || s->w[t] < 0.0)
            return aq_err_set(err, AQ_E_VALUE, "Hessian schedule: time weight w_%d = %g", t,
                              s->w[t]);
    return AQ_OK;
}

static int name_ok(const char *nm) {
    return nm && nm[0] && !strchr(nm, '/') && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0;
}

/* The first non-finite value or negative diagonal of a packed triangle: 0, or -1 with
 * *bi, *bj, *bv set. */
static int scan_packed(const float *Hp, int64_t n, int64_t *bi, int64_t *bj, float *bv) {
    int64_t off = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i; j < n; ++j, ++off)
            if (!isfinite(Hp[off]) || (j == i && Hp[off] < 0.0f)) {
                *bi = i;
                *bj = j;
                *bv = Hp[off];
                return -1;
            }
    return 0;
}

static aq_status bad_value(aq_err *err, const char *path, const char *layer, int64_t i, int64_t j,
                           float v) {
    return aq_err_set(err, AQ_E_VALUE, "%s: layer %s: Hessian %s %g at [%lld, %lld]", path, layer,
                      i == j && isfinite(v) ? "has a negative diagonal" : "has a non-finite value",
                      (double)v, (long long)i, (long long)j);
}

static aq_status h5_fail(aq_err *err, const char *path, const char *what) {
    char d[256];
    aq_h5_error_desc(d, sizeof d);
    return aq_err_set(err, AQ_E_HDF5, "%s: %s: %s", path, what, d);
}

/*-*********************************************
 *  Store
 ***********************************************/

static int write_schedule(hid_t g, const aq_hessian_schedule *s, double tokens_per_bin) {
    const int T = s->T, complete = 0;
    int rc = put_attr(g, "T", H5T_STD_I32LE, H5T_NATIVE_INT, &T);
    if (rc == 0) rc = put_str(g, "schedule", s->schedule);
    if (rc == 0) rc = put_str(g, "time_weight", s->time_weight);
    if (rc == 0)
        rc = put_attr(g, "tokens_per_bin", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &tokens_per_bin);
    if (rc == 0)
        rc = put_str(g, "definition",
                     "H = sum_t w_t E[x x^T | t], upper triangle packed by rows, float32");
    if (rc == 0) rc = put_attr(g, "complete", H5T_STD_I32LE, H5T_NATIVE_INT, &complete);
    if (rc < 0) return rc;
    hsize_t dim = (hsize_t)T;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = sp < 0 ? -1
                     : H5Dcreate2(g, "time_weights", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT);
    rc =
        (d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->w) < 0) ? -1 : 0;
    if (aq_h5_close_id(d) < 0) rc = -1;
    aq_h5_close_id(sp);
    return rc;
}

aq_status aq_hessian_store_open(const char *path, const aq_hessian_schedule *s,
                                double tokens_per_bin, aq_hessian_store **out, aq_err *err) {
    *out = NULL;
    aq_status st = check_schedule(s, err);
    if (st != AQ_OK) return st;
    if (!(tokens_per_bin > 0.0) || !isfinite(tokens_per_bin))
        return aq_err_set(err, AQ_E_VALUE, "%s: tokens per bin = %g: must be > 0", path,
                          tokens_per_bin);
    aq_hessian_store *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    h->file = h->group = -1;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    h->file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (h->file < 0) {
        char d[256];
        st = aq_err_set(err, AQ_E_IO, "cannot open calibration file %s for writing: %s", path,
                        aq_h5_error_desc(d, sizeof d));
    } else if (H5Lexists(h->file, HESSIAN_GROUP, H5P_DEFAULT) != 0) {
        st = aq_err_set(err, AQ_E_FORMAT, "%s: already has /%s", path, HESSIAN_GROUP);
    } else {
        h->group = H5Gcreate2(h->file, HESSIAN_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (h->group < 0 || write_schedule(h->group, s, tokens_per_bin) < 0)
            st = h5_fail(err, path, "writing /hessian");
    }
    aq_h5_quiet_end(&q);
    if (st != AQ_OK) {
        aq_hessian_store_abort(h);
        return st;
    }
    *out = h;
    return AQ_OK;
}

static hid_t packed_dcpl(hsize_t size) {
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk = size < CHUNK_VALUES ? size : CHUNK_VALUES;
    if (p < 0 || H5Pset_chunk(p, 1, &chunk) < 0 || H5Pset_shuffle(p) < 0 ||
        H5Pset_deflate(p, 1) < 0) {
        aq_h5_close_id(p);
        return -1;
    }
    return p;
}

static int write_layer(hid_t g, const char *tmp, const char *layer, int64_t n, const float *Hp) {
    const hsize_t size = (hsize_t)aq_hessian_packed_size(n);
    hid_t sp = H5Screate_simple(1, &size, NULL), dcpl = packed_dcpl(size);
    hid_t d = sp < 0 || dcpl < 0
                  ? -1
                  : H5Dcreate2(g, tmp, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    const long long nn = n;
    int rc = (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, Hp) < 0 ||
              put_attr(d, "n", H5T_STD_I64LE, H5T_NATIVE_LLONG, &nn) < 0)
                 ? -1
                 : 0;
    if (aq_h5_close_id(d) < 0) rc = -1;
    aq_h5_close_id(dcpl);
    aq_h5_close_id(sp);
    if (rc == 0 && H5Lmove(g, tmp, g, layer, H5P_DEFAULT, H5P_DEFAULT) < 0) rc = -1;
    return rc;
}

aq_status aq_hessian_store_put(aq_hessian_store *st, const char *layer, int64_t n, const float *Hp,
                               aq_err *err) {
    if (!name_ok(layer))
        return aq_err_set(err, AQ_E_VALUE, "%s: layer name \"%s\" not usable as an HDF5 link",
                          st->path, layer ? layer : "");
    if (n < 1 || !Hp)
        return aq_err_set(err, AQ_E_VALUE, "%s: layer %s: Hessian size %lld", st->path, layer,
                          (long long)n);
    int64_t bi, bj;
    float bv;
    if (scan_packed(Hp, n, &bi, &bj, &bv) != 0) return bad_value(err, st->path, layer, bi, bj, bv);
    const size_t len = strlen(layer);
    char *tmp = malloc(len + sizeof ".partial");
    if (!tmp) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", st->path);
    memcpy(tmp, layer, len);
    memcpy(tmp + len, ".partial", sizeof ".partial");
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status rs = AQ_OK;
    if (H5Lexists(st->group, layer, H5P_DEFAULT) != 0)
        rs = aq_err_set(err, AQ_E_VALUE, "%s: layer %s: Hessian given twice", st->path, layer);
    else if (write_layer(st->group, tmp, layer, n, Hp) < 0)
        rs = h5_fail(err, st->path, layer);
    aq_h5_quiet_end(&q);
    free(tmp);
    return rs;
}

void aq_hessian_store_abort(aq_hessian_store *st) {
    if (!st) return;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_h5_close_id(st->group);
    aq_h5_close_id(st->file);
    aq_h5_quiet_end(&q);
    free(st->path);
    free(st);
}

aq_status aq_hessian_store_close(aq_hessian_store *st, aq_err *err) {
    if (!st) return AQ_OK;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    const int one = 1;
    aq_status rs = AQ_OK;
    hid_t a = H5Aopen(st->group, "complete", H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, H5T_NATIVE_INT, &one) < 0) rs = h5_fail(err, st->path, "complete");
    aq_h5_close_id(a);
    if (aq_h5_close_id(st->group) < 0 && rs == AQ_OK) rs = h5_fail(err, st->path, "/hessian");
    st->group = -1;
    if (st->file >= 0 && H5Fclose(st->file) < 0 && rs == AQ_OK)
        rs = h5_fail(err, st->path, "close");
    st->file = -1;
    aq_h5_quiet_end(&q);
    free(st->path);
    free(st);
    return rs;
}

/*-*********************************************
 *  Reader
 ***********************************************/

const char *aq_hessian_label(const char *path, const char *layer, char *buf, size_t size) {
    snprintf(buf, size, "%s (Hessian from %s)", layer ? layer : "(unnamed)", path ? path : "?");
    return buf;
}

static aq_status mismatch(aq_err *err, const char *path, int T, const char *sch, const char *tw,
                          int t, double wt, const aq_hessian_schedule *e) {
    char what[96] = "";
    if (t >= 0) snprintf(what, sizeof what, ", w_%d = %.9g (the job: %.9g)", t, wt, e->w[t]);
    return aq_err_set(err, AQ_E_FORMAT,
                      "%s: Hessians made for schedule %s, time_weight %s, T = %d%s; the job uses "
                      "schedule %s, time_weight %s, T = %d: run aq-calib --hessian again with the "
                      "job's schedule",
                      path, sch ? sch : "?", tw ? tw : "?", T, what, e->schedule, e->time_weight,
                      e->T);
}

/* T, names and weights of /hessian against `e`. */
static aq_status read_schedule(hid_t g, const char *path, const aq_hessian_schedule *e,
                               aq_err *err) {
    int T = 0, complete = 0;
    char *sch = NULL, *tw = NULL;
    aq_status st = AQ_OK;
    if (aq_calib_attr_int(g, "complete", &complete) != 1 || complete != 1)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: Hessians incomplete (aq-calib --hessian was interrupted)", path);
    if (aq_calib_attr_int(g, "T", &T) != 1 || aq_calib_attr_str(g, "schedule", &sch) != 1 ||
        aq_calib_attr_str(g, "time_weight", &tw) != 1)
        st = aq_err_set(err, AQ_E_FORMAT,
                        "%s: /hessian: attribute T, schedule or time_weight "
                        "missing or invalid",
                        path);
    else if (T != e->T || strcmp(sch, e->schedule) != 0 || strcmp(tw, e->time_weight) != 0)
        st = mismatch(err, path, T, sch, tw, -1, 0.0, e);
    double *w = st == AQ_OK ? malloc((size_t)T * sizeof *w) : NULL;
    if (st == AQ_OK && !w) st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    if (st == AQ_OK) {
        hid_t d = H5Dopen2(g, "time_weights", H5P_DEFAULT), sp = d < 0 ? -1 : H5Dget_space(d);
        if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 ||
            H5Sget_simple_extent_npoints(sp) != T ||
            H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) < 0)
            st = aq_err_set(err, AQ_E_FORMAT, "%s: /hessian/time_weights missing or not [%d]", path,
                            T);
        aq_h5_close_id(sp);
        aq_h5_close_id(d);
    }
    for (int t = 0; st == AQ_OK && t < T; ++t)
        if (!(fabs(w[t] - e->w[t]) <= 1e-6 * fmax(fabs(e->w[t]), 1e-12)))
            st = mismatch(err, path, T, sch, tw, t, w[t], e);
    free(w);
    free(sch);
    free(tw);
    return st;
}

/* The packed dataset of `layer` into the first n (n + 1) / 2 floats of H. */
static aq_status read_packed(hid_t g, const char *path, const char *layer, int64_t n, float *H,
                             aq_err *err) {
    htri_t ex = H5Lexists(g, layer, H5P_DEFAULT);
    if (ex <= 0) return aq_err_set(err, AQ_E_FORMAT, "%s: no Hessian for layer %s", path, layer);
    hid_t d = H5Dopen2(g, layer, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d), t = d < 0 ? -1 : H5Dget_type(d);
    aq_status st = AQ_OK;
    double fn = 0.0;
    if (sp < 0 || t < 0 || H5Tget_class(t) != H5T_FLOAT || H5Sget_simple_extent_ndims(sp) != 1)
        st = aq_err_set(err, AQ_E_FORMAT, "%s: layer %s: Hessian is not a 1-D float dataset", path,
                        layer);
    else if (get_f64(d, "n", &fn) != 0 || !(fn >= 1.0) || fn > 1e7)
        st = aq_err_set(err, AQ_E_FORMAT, "%s: layer %s: Hessian attribute n missing or invalid",
                        path, layer);
    else if ((int64_t)fn != n)
        st = aq_err_set(err, AQ_E_FORMAT,
                        "%s: layer %s: Hessian is %lld x %lld, the weight has %lld columns", path,
                        layer, (long long)fn, (long long)fn, (long long)n);
    else if (H5Sget_simple_extent_npoints(sp) != aq_hessian_packed_size(n))
        st = aq_err_set(err, AQ_E_FORMAT,
                        "%s: layer %s: Hessian dataset has %lld values, a %lld x %lld triangle "
                        "has %lld",
                        path, layer, (long long)H5Sget_simple_extent_npoints(sp), (long long)n,
                        (long long)n, (long long)aq_hessian_packed_size(n));
    else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, H) < 0)
        st = h5_fail(err, path, layer);
    aq_h5_close_id(t);
    aq_h5_close_id(sp);
    aq_h5_close_id(d);
    return st;
}

/* Packed rows (at the start of H) to their places in the full matrix, last row first (a row's
 * destination never lies below its source), then the lower triangle mirrored. */
static void unpack(float *H, int64_t n) {
    for (int64_t i = n - 1; i >= 0; --i) {
        const int64_t off = i * n - i * (i - 1) / 2;
        memmove(H + i * n + i, H + off, (size_t)(n - i) * sizeof *H);
    }
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j)
            H[j * n + i] = H[i * n + j];
}

/* Opens `path` read-only and its /hessian group into *f and *g (-1 when not opened; the
 * caller closes both, inside a quiet error stack).
 * @return : AQ_OK; AQ_E_IO (cannot open); AQ_E_FORMAT (no /hessian group). */
static aq_status open_group(const char *path, hid_t *f, hid_t *g, aq_err *err) {
    *g = -1;
    *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*f < 0) {
        char d[256];
        return aq_err_set(err, AQ_E_IO, "cannot open calibration file %s: %s", path,
                          aq_h5_error_desc(d, sizeof d));
    }
    if (H5Lexists(*f, HESSIAN_GROUP, H5P_DEFAULT) <= 0 ||
        (*g = H5Gopen2(*f, HESSIAN_GROUP, H5P_DEFAULT)) < 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: no Hessians (run aq-calib --hessian)", path);
    return AQ_OK;
}

aq_status aq_hessian_read(const char *path, const char *layer, int64_t n,
                          const aq_hessian_schedule *expect, float *H, aq_err *err) {
    aq_status st = check_schedule(expect, err);
    if (st != AQ_OK) return st;
    if (!name_ok(layer) || n < 1 || !H)
        return aq_err_set(err, AQ_E_VALUE, "%s: bad layer name or size", path);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t f, g;
    st = open_group(path, &f, &g, err);
    if (st == AQ_OK) {
        st = read_schedule(g, path, expect, err);
        if (st == AQ_OK) st = read_packed(g, path, layer, n, H, err);
    }
    aq_h5_close_id(g);
    aq_h5_close_id(f);
    aq_h5_quiet_end(&q);
    if (st != AQ_OK) return st;
    int64_t bi, bj;
    float bv;
    if (scan_packed(H, n, &bi, &bj, &bv) != 0) return bad_value(err, path, layer, bi, bj, bv);
    unpack(H, n);
    return AQ_OK;
}

aq_status aq_hessian_file_T(const char *path, int *T, aq_err *err) {
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t f, g;
    aq_status st = open_group(path, &f, &g, err);
    if (st == AQ_OK && (aq_calib_attr_int(g, "T", T) != 1 || *T < 1 || *T > 1000000)) {
        st = aq_err_set(err, AQ_E_FORMAT, "%s: /hessian: attribute T missing or invalid", path);
    }
    aq_h5_close_id(g);
    aq_h5_close_id(f);
    aq_h5_quiet_end(&q);
    return st;
}

aq_status aq_hessian_file_has(const char *path, const char *layer, int *has, aq_err *err) {
    *has = 0;
    if (!name_ok(layer)) return aq_err_set(err, AQ_E_VALUE, "%s: bad layer name", path);
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    hid_t f, g;
    aq_status st = open_group(path, &f, &g, err);
    if (st == AQ_OK) {
        *has = H5Lexists(g, layer, H5P_DEFAULT) > 0;
    }
    aq_h5_close_id(g);
    aq_h5_close_id(f);
    aq_h5_quiet_end(&q);
    return st;
}
