/*
 * aq-mpi — unit tests of the calibration statistics (include/aq/calib.h): write / open /
 * load round trip, the reader's checks on damaged files, aq_layer_stats_check() and the
 * synthetic generator's determinism and shape.
 */
#include <check.h>

#include "aq_check.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/calib.h"

/*-*********************************************
 *  Fixtures and helpers
 ***********************************************/
static char g_dir[256];
static char g_path[320];

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/aq_calib_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/calib.h5", g_dir);
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A consistent layer with distinct, exactly representable values. */
static void make_layer(aq_layer_stats *s, const char *name, int T, int64_t in, int B) {
    aq_err e = {0};
    ck_assert_int_eq(aq_layer_stats_alloc(s, name, T, in, B, &e), AQ_OK);
    for (int t = 0; t < T; ++t) {
        s->min[t] = -1.0 - t;
        s->max[t] = 2.0 + 0.25 * t;
        s->mean[t] = 0.125 * t;
        s->std[t] = 0.5 + t;
        s->count[t] = 1000.0 + t;
        for (int64_t j = 0; j < in; ++j) {
            s->sq_mean[t * in + j] = (float)(0.5 + 0.01 * (double)(t * in + j));
            s->absmax[t * in + j] = (float)(1.0 + 0.03 * (double)j);
        }
        for (int b = 0; b < B; ++b)
            s->hist[t * B + b] = (double)(t * B + b);
    }
}

static void write_two(int synthetic) {
    aq_layer_stats L[2];
    make_layer(&L[0], "model.layers.0.mlp.down_proj.weight", 4, 12, 5);
    make_layer(&L[1], "model.layers.0.self_attn.o_proj.weight", 4, 8, 0);
    L[1].synthetic = synthetic;
    aq_err e = {0};
    ck_assert_msg(aq_calib_write(g_path, "unit test", "mask ratio bin centre", L, 2, &e) == AQ_OK,
                  "%s", e.msg);
    aq_layer_stats_free(&L[0]);
    aq_layer_stats_free(&L[1]);
}

static void assert_same(const aq_layer_stats *a, const aq_layer_stats *b) {
    ck_assert_str_eq(a->name, b->name);
    ck_assert_int_eq(a->T, b->T);
    ck_assert_int_eq(a->in, b->in);
    ck_assert_int_eq(a->B, b->B);
    size_t T = (size_t)a->T, ti = T * (size_t)a->in;
    ck_assert(!memcmp(a->min, b->min, T * sizeof(double)));
    ck_assert(!memcmp(a->max, b->max, T * sizeof(double)));
    ck_assert(!memcmp(a->mean, b->mean, T * sizeof(double)));
    ck_assert(!memcmp(a->std, b->std, T * sizeof(double)));
    ck_assert(!memcmp(a->count, b->count, T * sizeof(double)));
    ck_assert(!memcmp(a->sq_mean, b->sq_mean, ti * sizeof(float)));
    ck_assert(!memcmp(a->absmax, b->absmax, ti * sizeof(float)));
    if (a->B > 0)
        ck_assert(!memcmp(a->hist, b->hist, T * (size_t)a->B * sizeof(double)));
    else
        ck_assert_ptr_null(b->hist);
}

/* Opens g_path, expects load of `layer` to fail with `code` and a message containing
 * every non-NULL needle. */
static void expect_load_error(const char *layer, int64_t in, aq_status code, const char *n1,
                              const char *n2) {
    aq_calib *c = NULL;
    aq_err e = {0};
    ck_assert_msg(aq_calib_open(g_path, &c, &e) == AQ_OK, "%s", e.msg);
    aq_layer_stats s;
    ck_assert_int_eq(aq_calib_load(c, layer, in, &s, &e), code);
    ck_assert_msg(strstr(e.msg, g_path) != NULL, "no path in: %s", e.msg);
    ck_assert_msg(!n1 || strstr(e.msg, n1), "no '%s' in: %s", n1, e.msg);
    ck_assert_msg(!n2 || strstr(e.msg, n2), "no '%s' in: %s", n2, e.msg);
    ck_assert_ptr_null(s.min); /* nothing left allocated */
    aq_calib_close(c);
}

static void expect_open_error(aq_status code, const char *needle) {
    aq_calib *c = (aq_calib *)1;
    aq_err e = {0};
    ck_assert_int_eq(aq_calib_open(g_path, &c, &e), code);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(e.msg, g_path) && strstr(e.msg, needle), "message: %s", e.msg);
    ck_assert_ptr_null(strchr(e.msg, '\n'));
}

/* Replaces /stats/<layer>/<dname> by a dataset of the given type and shape. */
static void replace_dataset(const char *layer, const char *dname, hid_t type, int rank,
                            const hsize_t *dims, const void *buf) {
    hid_t f = H5Fopen(g_path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    hid_t g = H5Gopen2(f, "stats", H5P_DEFAULT);
    hid_t l = H5Gopen2(g, layer, H5P_DEFAULT);
    ck_assert_int_ge(l, 0);
    if (H5Lexists(l, dname, H5P_DEFAULT) > 0) ck_assert_int_ge(H5Ldelete(l, dname, H5P_DEFAULT), 0);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(l, dname, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    if (buf) ck_assert_int_ge(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Gclose(l);
    H5Gclose(g);
    H5Fclose(f);
}

/* A plain HDF5 file with optional root attribute T (int32 value or a string). */
static void make_root_only(const int *T, const char *T_as_string, int with_stats) {
    hid_t f = H5Fcreate(g_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (T) {
        hid_t a = H5Acreate2(f, "T", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT, T);
        H5Aclose(a);
    } else if (T_as_string) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(T_as_string) + 1);
        hid_t a = H5Acreate2(f, "T", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, T_as_string);
        H5Aclose(a);
        H5Tclose(t);
    }
    if (with_stats) H5Gclose(H5Gcreate2(f, "stats", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(sp);
    H5Fclose(f);
}

#define DOWN "model.layers.0.mlp.down_proj.weight"
#define OPROJ "model.layers.0.self_attn.o_proj.weight"

/*-*********************************************
 *  Round trip
 ***********************************************/
START_TEST(test_round_trip) {
    write_two(0);
    ck_assert_int_ne(access(g_path, F_OK), -1);
    char partial[400];
    snprintf(partial, sizeof partial, "%s.partial", g_path);
    ck_assert_int_eq(access(partial, F_OK), -1);
    aq_calib *c = NULL;
    aq_err e = {0};
    ck_assert_msg(aq_calib_open(g_path, &c, &e) == AQ_OK, "%s", e.msg);
    ck_assert_int_eq(aq_calib_T(c), 4);
    ck_assert_str_eq(aq_calib_source(c), "unit test");
    ck_assert_int_eq(aq_calib_is_synthetic(c), 0);
    ck_assert(aq_calib_has(c, DOWN) && aq_calib_has(c, OPROJ));
    ck_assert(!aq_calib_has(c, "model.layers.1.mlp.down_proj.weight"));
    aq_layer_stats want[2], got;
    make_layer(&want[0], DOWN, 4, 12, 5);
    make_layer(&want[1], OPROJ, 4, 8, 0);
    ck_assert_msg(aq_calib_load(c, DOWN, 12, &got, &e) == AQ_OK, "%s", e.msg);
    assert_same(&want[0], &got);
    ck_assert_int_eq(got.synthetic, 0);
    aq_layer_stats_free(&got);
    ck_assert_msg(aq_calib_load(c, OPROJ, -1, &got, &e) == AQ_OK, "%s", e.msg);
    assert_same(&want[1], &got);
    aq_layer_stats_free(&got);
    aq_layer_stats_free(&want[0]);
    aq_layer_stats_free(&want[1]);
    aq_calib_close(c);
}
END_TEST

START_TEST(test_synthetic_flag_in_file) {
    write_two(1); /* one synthetic layer labels the whole file */
    aq_calib *c = NULL;
    aq_err e = {0};
    ck_assert(aq_calib_open(g_path, &c, &e) == AQ_OK);
    ck_assert_int_eq(aq_calib_is_synthetic(c), 1);
    aq_layer_stats s;
    ck_assert(aq_calib_load(c, DOWN, 12, &s, &e) == AQ_OK);
    ck_assert_int_eq(s.synthetic, 1);
    aq_layer_stats_free(&s);
    aq_calib_close(c);
}
END_TEST

START_TEST(test_write_rejects) {
    aq_layer_stats L[2];
    make_layer(&L[0], DOWN, 4, 12, 0);
    make_layer(&L[1], OPROJ, 5, 8, 0);
    aq_err e = {0};
    ck_assert_int_eq(aq_calib_write(g_path, "x", "y", L, 2, &e), AQ_E_VALUE);
    ck_assert_msg(strstr(e.msg, "T=5") && strstr(e.msg, "T=4"), "%s", e.msg);
    ck_assert_int_eq(access(g_path, F_OK), -1);
    aq_layer_stats_free(&L[1]);
    make_layer(&L[1], DOWN, 4, 12, 0); /* same name twice */
    ck_assert_int_eq(aq_calib_write(g_path, "x", "y", L, 2, &e), AQ_E_VALUE);
    L[0].std[1] = -1.0; /* inconsistent statistics are refused as values */
    ck_assert_int_eq(aq_calib_write(g_path, "x", "y", L, 1, &e), AQ_E_VALUE);
    ck_assert_msg(strstr(e.msg, "negative std at t=1"), "%s", e.msg);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/c.h5", g_dir);
    L[0].std[1] = 1.0;
    ck_assert_int_eq(aq_calib_write(bad, "x", "y", L, 1, &e), AQ_E_IO);
    ck_assert_msg(strstr(e.msg, bad), "%s", e.msg);
    ck_assert_int_eq(aq_calib_write(g_path, "x", "y", L, 0, &e), AQ_E_VALUE);
    aq_layer_stats_free(&L[0]);
    aq_layer_stats_free(&L[1]);
}
END_TEST

/*-*********************************************
 *  Reader errors
 ***********************************************/
START_TEST(test_wrong_channels_and_missing_layer) {
    write_two(0);
    expect_load_error(DOWN, 128, AQ_E_FORMAT, "layer " DOWN ": sq_mean has 12 channels",
                      "the model's weight has 128");
    expect_load_error("model.layers.9.mlp.up_proj.weight", 12, AQ_E_FORMAT,
                      "no statistics for layer model.layers.9.mlp.up_proj.weight", NULL);
}
END_TEST

static herr_t count_prints(hid_t stack, void *data) {
    (void)stack;
    ++*(int *)data;
    return 0;
}

START_TEST(test_open_errors) {
    /* HDF5 must stay quiet during our calls and the caller's printer come back after. */
    int prints = 0;
    H5Eset_auto2(H5E_DEFAULT, count_prints, &prints);
    expect_open_error(AQ_E_IO, "cannot read"); /* missing */
    FILE *f = fopen(g_path, "w");
    fputs("T = 8\nnot hdf5 at all\n", f);
    fclose(f);
    expect_open_error(AQ_E_FORMAT, "not an HDF5 file");
    make_root_only(NULL, NULL, 1);
    expect_open_error(AQ_E_FORMAT, "root attribute T missing");
    make_root_only(NULL, "8", 1);
    expect_open_error(AQ_E_FORMAT, "T is not an integer");
    int zero = 0, eight = 8;
    make_root_only(&zero, NULL, 1);
    expect_open_error(AQ_E_FORMAT, "T = 0");
    make_root_only(&eight, NULL, 0);
    expect_open_error(AQ_E_FORMAT, "no group /stats");
    make_root_only(&eight, NULL, 1); /* minimal valid file: no layers, defaults */
    aq_calib *c = NULL;
    aq_err e = {0};
    ck_assert_msg(aq_calib_open(g_path, &c, &e) == AQ_OK, "%s", e.msg);
    ck_assert_int_eq(aq_calib_T(c), 8);
    ck_assert_str_eq(aq_calib_source(c), "");
    ck_assert(!aq_calib_has(c, DOWN));
    aq_calib_close(c);
    ck_assert_int_eq(prints, 0);
    H5E_auto2_t func = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    ck_assert(func == count_prints && data == &prints);
}
END_TEST

START_TEST(test_bad_datasets) {
    int32_t ibuf[4 * 12] = {0};
    float fbuf[4 * 12] = {0};
    hsize_t d2[2] = {4, 12}, d1[1] = {48}, d3[2] = {3, 12}, dm[2] = {4, 1};
    write_two(0);
    replace_dataset(DOWN, "sq_mean", H5T_STD_I32LE, 2, d2, ibuf);
    expect_load_error(DOWN, 12, AQ_E_FORMAT, "sq_mean has integer values", NULL);
    replace_dataset(DOWN, "sq_mean", H5T_IEEE_F32LE, 1, d1, fbuf);
    expect_load_error(DOWN, 12, AQ_E_FORMAT, "sq_mean has rank 1, expected 2", NULL);
    replace_dataset(DOWN, "sq_mean", H5T_IEEE_F32LE, 2, d3, fbuf);
    expect_load_error(DOWN, 12, AQ_E_FORMAT, "sq_mean has 3 rows, the file's T is 4", NULL);
    hsize_t d5[1] = {5};
    double five[5] = {0};
    replace_dataset(OPROJ, "max", H5T_IEEE_F64LE, 1, d5, five);
    expect_load_error(OPROJ, 8, AQ_E_FORMAT, "layer " OPROJ ": dataset max has 5 rows", NULL);
    replace_dataset(OPROJ, "max", H5T_IEEE_F64LE, 2, dm, five);
    expect_load_error(OPROJ, 8, AQ_E_FORMAT, "max has rank 2", NULL);
    /* A group where a dataset belongs. */
    write_two(0);
    hid_t f = H5Fopen(g_path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "stats/" OPROJ "/absmax", H5P_DEFAULT);
    H5Gclose(H5Gcreate2(f, "stats/" OPROJ "/absmax", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Ldelete(f, "stats/" DOWN "/count", H5P_DEFAULT);
    H5Fclose(f);
    expect_load_error(OPROJ, 8, AQ_E_FORMAT, "absmax is not a readable dataset", NULL);
    expect_load_error(DOWN, 12, AQ_E_FORMAT, "missing dataset count", NULL);
}
END_TEST

START_TEST(test_hist_attr) {
    write_two(0);
    hid_t f = H5Fopen(g_path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "stats/" DOWN "/hist", H5P_DEFAULT);
    ck_assert_int_ge(H5Adelete(d, "B"), 0); /* B inferred from the shape */
    H5Dclose(d);
    H5Fclose(f);
    aq_calib *c = NULL;
    aq_err e = {0};
    aq_layer_stats s;
    ck_assert(aq_calib_open(g_path, &c, &e) == AQ_OK);
    ck_assert_msg(aq_calib_load(c, DOWN, 12, &s, &e) == AQ_OK, "%s", e.msg);
    ck_assert_int_eq(s.B, 5);
    ck_assert(s.hist[4 * 5 - 1] == 19.0);
    aq_layer_stats_free(&s);
    aq_calib_close(c);
    f = H5Fopen(g_path, H5F_ACC_RDWR, H5P_DEFAULT);
    d = H5Dopen2(f, "stats/" DOWN "/hist", H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    int six = 6;
    hid_t a = H5Acreate2(d, "B", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &six);
    H5Aclose(a);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    expect_load_error(DOWN, 12, AQ_E_FORMAT, "hist attribute B", NULL);
}
END_TEST

START_TEST(test_bad_values_in_file) {
    write_two(0);
    float nan_row[4 * 8];
    for (int i = 0; i < 32; ++i)
        nan_row[i] = 1.0f;
    nan_row[2 * 8 + 3] = NAN;
    hsize_t d2[2] = {4, 8};
    replace_dataset(OPROJ, "sq_mean", H5T_IEEE_F32LE, 2, d2, nan_row);
    expect_load_error(OPROJ, 8, AQ_E_FORMAT, "sq_mean negative or not finite at t=2, channel 3",
                      NULL);
}
END_TEST

/*-*********************************************
 *  aq_layer_stats_check
 ***********************************************/
START_TEST(test_check) {
    aq_layer_stats s;
    aq_err e = {0};
    make_layer(&s, "L", 3, 4, 2);
    ck_assert_int_eq(aq_layer_stats_check(&s, "lbl", &e), AQ_OK);
    s.min[1] = 10.0;
    ck_assert_int_eq(aq_layer_stats_check(&s, "lbl", &e), AQ_E_FORMAT);
    ck_assert_str_eq(e.msg, "lbl: layer L: min > max at t=1");
    s.min[1] = -2.0;
    s.std[2] = -0.5;
    ck_assert_int_eq(aq_layer_stats_check(&s, "lbl", &e), AQ_E_FORMAT);
    ck_assert_str_eq(e.msg, "lbl: layer L: negative std at t=2");
    s.std[2] = 0.5;
    s.mean[0] = NAN;
    ck_assert_int_eq(aq_layer_stats_check(&s, "lbl", &e), AQ_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "non-finite") && strstr(e.msg, "t=0"), "%s", e.msg);
    s.mean[0] = 0.0;
    s.absmax[1 * 4 + 2] = -1.0f;
    ck_assert_int_eq(aq_layer_stats_check(&s, "lbl", &e), AQ_E_FORMAT);
    ck_assert_str_eq(e.msg, "lbl: layer L: absmax negative or not finite at t=1, channel 2");
    s.absmax[6] = 1.0f;
    s.hist[5] = INFINITY;
    ck_assert_int_eq(aq_layer_stats_check(&s, "lbl", &e), AQ_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "hist") && strstr(e.msg, "t=2, bin 1"), "%s", e.msg);
    s.hist[5] = 0.0;
    s.mean[2] = 100.0;
    ck_assert_int_eq(aq_layer_stats_check(&s, "lbl", &e), AQ_E_FORMAT);
    ck_assert_msg(strstr(e.msg, "mean outside"), "%s", e.msg);
    aq_layer_stats_free(&s);
    aq_layer_stats_free(&s); /* idempotent */
    aq_layer_stats z;
    memset(&z, 0, sizeof z);
    aq_layer_stats_free(&z);
    ck_assert_int_eq(aq_layer_stats_alloc(&z, "x", 0, 4, 0, &e), AQ_E_VALUE);
    ck_assert_int_eq(aq_layer_stats_check(&z, "lbl", &e), AQ_E_FORMAT);
}
END_TEST

/*-*********************************************
 *  Synthetic statistics
 ***********************************************/
static int same_stats(const aq_layer_stats *a, const aq_layer_stats *b) {
    size_t T = (size_t)a->T, ti = T * (size_t)a->in;
    return !memcmp(a->max, b->max, T * sizeof(double)) &&
           !memcmp(a->std, b->std, T * sizeof(double)) &&
           !memcmp(a->sq_mean, b->sq_mean, ti * sizeof(float)) &&
           !memcmp(a->absmax, b->absmax, ti * sizeof(float));
}

START_TEST(test_synthetic_deterministic) {
    aq_layer_stats a, b, c, d;
    aq_err e = {0};
    ck_assert(aq_calib_synthetic(DOWN, 512, 8, 42, &a, &e) == AQ_OK);
    ck_assert(aq_calib_synthetic(DOWN, 512, 8, 42, &b, &e) == AQ_OK);
    ck_assert(aq_calib_synthetic("model.layers.1.mlp.down_proj.weight", 512, 8, 42, &c, &e) ==
              AQ_OK);
    ck_assert(aq_calib_synthetic(DOWN, 512, 8, 43, &d, &e) == AQ_OK);
    ck_assert(same_stats(&a, &b));
    ck_assert(!same_stats(&a, &c));
    ck_assert(!same_stats(&a, &d));
    ck_assert_int_eq(a.synthetic, 1);
    ck_assert_int_eq(aq_layer_stats_check(&a, "synthetic", &e), AQ_OK);
    aq_layer_stats_free(&a);
    aq_layer_stats_free(&b);
    aq_layer_stats_free(&c);
    aq_layer_stats_free(&d);
}
END_TEST

/* Channels whose absmax exceeds `k` times the layer's std at step t. */
static int64_t channels_above(const aq_layer_stats *s, int t, double k) {
    int64_t n = 0;
    for (int64_t j = 0; j < s->in; ++j)
        n += s->absmax[t * s->in + j] > k * s->std[t];
    return n;
}

START_TEST(test_synthetic_drift_and_outliers) {
    aq_layer_stats s, o;
    aq_err e = {0};
    const int T = 10;
    ck_assert(aq_calib_synthetic(DOWN, 2000, T, 7, &s, &e) == AQ_OK);
    ck_assert(aq_calib_synthetic(OPROJ, 2000, T, 7, &o, &e) == AQ_OK);
    for (int t = 0; t + 1 < T; ++t) {
        ck_assert(s.std[t + 1] > s.std[t]);
        ck_assert(s.max[t + 1] < s.max[t]);
        ck_assert(o.std[t + 1] > o.std[t]);
    }
    /* docs/DESIGN.md §4: max 45 at u = 0.05 and 27 at u = 0.95 (ratio 0.6); std grows by ~1.44. */
    ck_assert_double_eq_tol(s.max[T - 1] / s.max[0], 27.0 / 45.0, 0.01);
    ck_assert_double_eq_tol(s.std[T - 1] / s.std[0], 1.475 / 1.025, 1e-9);
    ck_assert(s.min[0] < -0.9 * s.max[0]);
    /* 1 % heavy outliers in down_proj (20-40x s0), none that large elsewhere. */
    ck_assert_int_eq(channels_above(&s, 0, 18.0), 20);
    ck_assert_int_eq(channels_above(&o, 0, 18.0), 0);
    ck_assert_int_ge(channels_above(&o, 0, 6.0), 1);
    /* Channel spreads average to the layer's: mean_j sq_mean = std^2 + mean^2. */
    double acc = 0.0;
    for (int64_t j = 0; j < s.in; ++j)
        acc += s.sq_mean[3 * s.in + j];
    double want = s.std[3] * s.std[3] + s.mean[3] * s.mean[3];
    ck_assert_double_eq_tol(acc / (double)s.in, want, 1e-4 * want);
    ck_assert_int_eq(aq_layer_stats_check(&o, "synthetic", &e), AQ_OK);
    aq_layer_stats_free(&s);
    aq_layer_stats_free(&o);
    aq_layer_stats tiny;
    ck_assert(aq_calib_synthetic(DOWN, 1, 1, 7, &tiny, &e) == AQ_OK);
    ck_assert_int_eq(aq_layer_stats_check(&tiny, "synthetic", &e), AQ_OK);
    aq_layer_stats_free(&tiny);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("calib_io");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_synthetic_flag_in_file);
    tcase_add_test(tc, test_write_rejects);
    tcase_add_test(tc, test_wrong_channels_and_missing_layer);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_bad_datasets);
    tcase_add_test(tc, test_hist_attr);
    tcase_add_test(tc, test_bad_values_in_file);
    tcase_add_test(tc, test_check);
    tcase_add_test(tc, test_synthetic_deterministic);
    tcase_add_test(tc, test_synthetic_drift_and_outliers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
