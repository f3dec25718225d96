/*
 * aq-mpi — libFuzzer harness: the calibration reader (aq_calib_open, aq_calib_load).
 *
 * Raw bytes would mostly exercise libhdf5's own file parser (not ours, and the file format
 * 1.8 metadata checksums refuse most damage), so the input is a small program that BUILDS
 * a calibration file through the HDF5 API with hostile contents: root attribute T missing,
 * of the wrong type or out of range; layers whose datasets are absent, of the wrong class
 * or rank, with row counts that disagree with T, channel counts that disagree with the
 * model or with each other, hist with a lying B attribute, non-finite or inconsistent
 * values; a layer that is a dataset instead of a group.  Then every layer is loaded with
 * an `expect_in` taken from the input.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aq/calib.h"
#include "fuzz_util.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} prog;

static unsigned take(prog *g) {
    if (g->n == 0) return 0;
    g->n--;
    return *g->p++;
}

static const double VALUES[8] = {0.0, 1.0, -1.0, 0.5, 2.0, NAN, INFINITY, 1e30};
static const char *const DSETS[8] = {"min",   "max",     "mean",   "std",
                                     "count", "sq_mean", "absmax", "hist"};

static void attr_int(hid_t loc, const char *name, hid_t type, int v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        double d = v;
        H5Awrite(a, H5Tget_class(type) == H5T_FLOAT ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT,
                 H5Tget_class(type) == H5T_FLOAT ? (void *)&d : (void *)&v);
        H5Aclose(a);
    }
    H5Sclose(s);
}

static void attr_str(hid_t loc, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, t, v);
        H5Aclose(a);
    }
    H5Sclose(s);
    H5Tclose(t);
}

/* An attribute that is absent, an integer, a float or a string, per the program. */
static void attr_any(prog *g, hid_t loc, const char *name) {
    unsigned mode = take(g) % 4;
    int v = (int)(take(g) % 12) - 2;
    if (mode == 1) attr_int(loc, name, H5T_NATIVE_INT, v);
    if (mode == 2) attr_int(loc, name, H5T_NATIVE_DOUBLE, v);
    if (mode == 3) attr_str(loc, name, "x");
}

/* One dataset: absent, float64 [r] / [r, c], int, wrong rank or string. */
static void dataset(prog *g, hid_t grp, const char *name, int rank) {
    unsigned mode = take(g) % 6;
    if (mode == 0) return;
    hsize_t dims[3] = {0, 0, 2};
    dims[0] = take(g) % 6;
    dims[1] = take(g) % 6;
    int r = mode == 3 ? (rank == 1 ? 2 : 3) : rank;
    size_t n = (size_t)dims[0] * (r > 1 ? dims[1] : 1) * (r > 2 ? dims[2] : 1);
    double buf[72];
    for (size_t i = 0; i < n; ++i)
        buf[i] = VALUES[take(g) % 8] * (double)(1 + i % 3);
    hid_t type = mode == 4   ? H5Tcopy(H5T_NATIVE_INT)
                 : mode == 5 ? H5Tcopy(H5T_C_S1)
                             : H5Tcopy(H5T_IEEE_F64LE);
    hid_t s = H5Screate_simple(r, dims, NULL);
    hid_t d = H5Dcreate2(grp, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0 && n > 0 && mode != 5)
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (d >= 0 && strcmp(name, "hist") == 0) attr_any(g, d, "B");
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Tclose(type);
}

static void layer(prog *g, hid_t stats, const char *name) {
    if (take(g) % 8 == 0) { /* a dataset where a group should be */
        hsize_t one = 1;
        hid_t s = H5Screate_simple(1, &one, NULL);
        hid_t d = H5Dcreate2(stats, name, H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0) H5Dclose(d);
        H5Sclose(s);
        return;
    }
    hid_t grp = H5Gcreate2(stats, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0) return;
    for (int i = 0; i < 8; ++i)
        dataset(g, grp, DSETS[i], i < 5 ? 1 : 2);
    H5Gclose(grp);
}

static int build(prog *g, const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    attr_any(g, f, "T");
    attr_any(g, f, "synthetic");
    if (take(g) % 2) attr_str(f, "source", "fuzz");
    if (take(g) % 8 != 0) {
        hid_t stats = H5Gcreate2(f, "stats", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        unsigned nl = take(g) % 4;
        char name[16];
        for (unsigned i = 0; stats >= 0 && i < nl; ++i) {
            snprintf(name, sizeof name, "w%u", i);
            layer(g, stats, name);
        }
        if (stats >= 0) H5Gclose(stats);
    }
    return H5Fclose(f) < 0 ? -1 : 0;
}

static void load_all(prog *g, const aq_calib *c) {
    char name[16];
    for (unsigned i = 0; i < 4; ++i) {
        snprintf(name, sizeof name, "w%u", i);
        aq_layer_stats s;
        aq_err err = {0};
        int64_t expect = (int64_t)(take(g) % 7) - 1;
        if (aq_calib_load(c, name, expect, &s, &err) == AQ_OK) {
            if (s.T != aq_calib_T(c) || (expect >= 0 && s.in != expect)) abort();
            aq_layer_stats_free(&s);
        } else if (err.msg[0] == '\0') {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet; /* once per process */
    if (!quiet) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    quiet = 1;
    char path[512];
    fuzz_path(path, sizeof path, fuzz_tmpdir(), "calib.h5");
    prog g = {data, size};
    if (build(&g, path) != 0) return 0;
    aq_calib *c = NULL;
    aq_err err = {0};
    if (aq_calib_open(path, &c, &err) == AQ_OK) {
        (void)aq_calib_source(c);
        load_all(&g, c);
        aq_calib_close(c);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    return 0;
}
