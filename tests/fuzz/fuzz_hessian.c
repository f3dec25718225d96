/*
 * aq-mpi — libFuzzer harness: the Hessian reader (aq_hessian_read, include/aq/hessian.h).
 *
 * As fuzz_calib.c, the input is a small program that BUILDS a calibration file through the
 * HDF5 API with a hostile /hessian: the attributes complete, T, schedule, time_weight absent,
 * of the wrong type or value; time_weights of the wrong length or type; layers whose dataset
 * is absent, a group, of the wrong class, rank or length, with an n attribute that is absent,
 * a string, or lies, and values that are NaN, infinite or negative on the diagonal.  Each
 * layer is then read with an n taken from the input.  Invariants: an accepted matrix is
 * finite and symmetric with a non-negative diagonal; a refusal carries a message.
 */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/hessian.h"
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

static const double W[4] = {0.4, 0.3, 0.2, 0.1};
static const float VALUES[8] = {0.0f, 1.0f, -1.0f, 0.5f, 2.0f, NAN, INFINITY, 3.0f};

static void attr_num(hid_t loc, const char *name, hid_t type, double v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
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

/* absent, int, float, string "mask"/"alphabar"/"x", per the program */
static void attr_any(prog *g, hid_t loc, const char *name, double good, const char *sgood) {
    const unsigned mode = take(g) % 6;
    const double v = take(g) % 4 ? good : (double)(take(g) % 9) - 2.0;
    if (mode == 1) attr_num(loc, name, H5T_NATIVE_INT, v);
    if (mode == 2) attr_num(loc, name, H5T_NATIVE_DOUBLE, v);
    if (mode == 3) attr_str(loc, name, sgood ? sgood : "x");
    if (mode >= 4) attr_str(loc, name, "x");
}

static void dataset(prog *g, hid_t grp, const char *name, hsize_t good_len, int weights) {
    const unsigned mode = take(g) % 7;
    if (mode == 0) return;
    if (mode == 6) { /* a group where a dataset should be */
        hid_t x = H5Gcreate2(grp, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (x >= 0) H5Gclose(x);
        return;
    }
    hsize_t dims[2] = {take(g) % 3 ? good_len : take(g) % 40, 2};
    const int rank = mode == 3 ? 2 : 1;
    const size_t n = (size_t)dims[0] * (rank == 2 ? 2 : 1);
    float *buf = malloc((n ? n : 1) * sizeof *buf);
    double *wb = malloc((n ? n : 1) * sizeof *wb);
    for (size_t i = 0; i < n; ++i) {
        buf[i] = take(g) % 4 ? 1.0f + (float)(i % 5) * 0.1f : VALUES[take(g) % 8];
        wb[i] = i < 4 && take(g) % 4 ? W[i] : (double)buf[i];
    }
    hid_t type = mode == 4   ? H5Tcopy(H5T_NATIVE_INT)
                 : mode == 5 ? H5Tcopy(H5T_C_S1)
                             : H5Tcopy(H5T_IEEE_F32LE);
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(grp, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0 && n > 0 && mode != 5)
        H5Dwrite(d, weights ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                 weights ? (void *)wb : (void *)buf);
    if (d >= 0 && !weights) {
        hsize_t nn = 1;
        while (nn * (nn + 1) / 2 < good_len)
            ++nn;
        attr_any(g, d, "n", (double)nn, NULL);
    }
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Tclose(type);
    free(buf);
    free(wb);
}

static int build(prog *g, const char *path, int64_t n) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    if (take(g) % 8 != 0) {
        hid_t h = H5Gcreate2(f, "hessian", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        attr_any(g, h, "complete", 1.0, NULL);
        attr_any(g, h, "T", 4.0, NULL);
        attr_any(g, h, "schedule", 0.0, "mask");
        attr_any(g, h, "time_weight", 0.0, "alphabar");
        dataset(g, h, "time_weights", 4, 1);
        char name[16];
        for (unsigned i = 0; i < 3; ++i) {
            snprintf(name, sizeof name, "l%u", i);
            dataset(g, h, name, (hsize_t)(n * (n + 1) / 2), 0);
        }
        H5Gclose(h);
    }
    return H5Fclose(f) < 0 ? -1 : 0;
}

static void check_matrix(const float *H, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        if (!(H[i * n + i] >= 0.0f)) abort();
        for (int64_t j = 0; j < n; ++j)
            if (!isfinite(H[i * n + j]) || H[i * n + j] != H[j * n + i]) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet; /* once per process */
    if (!quiet) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    quiet = 1;
    char path[512];
    fuzz_path(path, sizeof path, fuzz_tmpdir(), "hessian.h5");
    prog g = {data, size};
    const int64_t n = 1 + (int64_t)(take(&g) % 8);
    if (build(&g, path, n) != 0) return 0;
    const aq_hessian_schedule s = {4, "mask", "alphabar", W};
    float H[64];
    char name[16];
    for (unsigned i = 0; i < 4; ++i) {
        snprintf(name, sizeof name, "l%u", i);
        const int64_t want = take(&g) % 4 ? n : 1 + (int64_t)(take(&g) % 8);
        aq_err err = {0};
        if (aq_hessian_read(path, name, want, &s, H, &err) == AQ_OK)
            check_matrix(H, want);
        else if (err.msg[0] == '\0')
            abort();
    }
    return 0;
}
