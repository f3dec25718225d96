/*
 * Unit tests of the time-weighted Hessians (include/aq/hessian.h): accumulation against a
 * naive double sum, the store/read round trip in a real calibration file (bit-exact, lower
 * triangle mirrored), every reader error naming file and layer (no /hessian, interrupted
 * store, schedule mismatch in T / names / one weight, missing layer, wrong size, a dataset of
 * the wrong size, non-finite values and negative diagonals written behind the store's back),
 * the store's own refusals, and "not positive definite after damping" from GPTQ's Cholesky
 * with the reader's label (layer and file named).
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
#include "aq/gptq.h"
#include "aq/hessian.h"

static const double W4[4] = {0.4, 0.3, 0.2, 0.1};

static aq_hessian_schedule sched(void) {
    return (aq_hessian_schedule){4, "mask", "alphabar", W4};
}

static uint64_t rs = 1;
static float frand(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (float)((double)(rs >> 11) / 9007199254740992.0 - 0.5);
}

/* A calibration file with one synthetic layer, path into buf. */
static void calib_file(char *buf, size_t n, const char *tag) {
    snprintf(buf, n, "/tmp/aq_test_hessian_%d_%s.h5", (int)getpid(), tag);
    aq_layer_stats s;
    aq_err err = {0};
    ck_assert_int_eq(aq_calib_synthetic("w0", 16, 4, 1, &s, &err), AQ_OK);
    ck_assert_int_eq(aq_calib_write(buf, "test", "bin", &s, 1, &err), AQ_OK);
    aq_layer_stats_free(&s);
}

/* A packed SPD triangle: A^T A / m + I for random A [m, n]. */
static float *spd_packed(int64_t n) {
    const int64_t m = 3 * n;
    float *X = malloc((size_t)(m * n) * sizeof *X);
    for (int64_t i = 0; i < m * n; ++i)
        X[i] = frand();
    double *acc = calloc((size_t)aq_hessian_packed_size(n), sizeof *acc);
    float *scratch = malloc((size_t)(n * n) * sizeof *scratch);
    aq_hessian_accumulate(acc, scratch, n, X, m, 1.0);
    float *Hp = malloc((size_t)aq_hessian_packed_size(n) * sizeof *Hp);
    aq_err err = {0};
    ck_assert_int_eq(aq_hessian_finish(acc, n, (double)m, "x", Hp, &err), AQ_OK);
    free(X);
    free(acc);
    free(scratch);
    return Hp;
}

START_TEST(accumulate_matches_naive) {
    const int64_t n = 37, tok[2] = {50, 23};
    double *acc = calloc((size_t)aq_hessian_packed_size(n), sizeof *acc);
    double *ref = calloc((size_t)(n * n), sizeof *ref);
    float *scratch = malloc((size_t)(n * n) * sizeof *scratch);
    for (int b = 0; b < 2; ++b) {
        float *X = malloc((size_t)(tok[b] * n) * sizeof *X);
        for (int64_t i = 0; i < tok[b] * n; ++i)
            X[i] = frand();
        aq_hessian_accumulate(acc, scratch, n, X, tok[b], W4[b]);
        for (int64_t t = 0; t < tok[b]; ++t)
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j < n; ++j)
                    ref[i * n + j] += W4[b] * (double)X[t * n + i] * (double)X[t * n + j];
        free(X);
    }
    float *Hp = malloc((size_t)aq_hessian_packed_size(n) * sizeof *Hp);
    aq_err err = {0};
    ck_assert_int_eq(aq_hessian_finish(acc, n, 10.0, "l", Hp, &err), AQ_OK);
    for (int64_t i = 0, off = 0; i < n; ++i)
        for (int64_t j = i; j < n; ++j, ++off)
            ck_assert_msg(fabs(Hp[off] - ref[i * n + j] / 10.0) <=
                              1e-5 * (1.0 + fabs(ref[i * n + j])),
                          "[%lld, %lld]", (long long)i, (long long)j);
    ck_assert_int_eq(aq_hessian_finish(acc, n, 0.0, "l", Hp, &err), AQ_E_VALUE);
    acc[5] = 1e300;
    ck_assert_int_eq(aq_hessian_finish(acc, n, 1.0, "lay", Hp, &err), AQ_E_VALUE);
    ck_assert_msg(strstr(err.msg, "lay") && strstr(err.msg, "[0, 5]"), "%s", err.msg);
    free(acc);
    free(ref);
    free(scratch);
    free(Hp);
}
END_TEST

START_TEST(round_trip) {
    char path[256];
    calib_file(path, sizeof path, "rt");
    const int64_t n1 = 33, n2 = 8;
    float *A = spd_packed(n1), *B = spd_packed(n2);
    aq_hessian_store *st = NULL;
    aq_err err = {0};
    const aq_hessian_schedule s = sched();
    ck_assert_int_eq(aq_hessian_store_open(path, &s, 128.0, &st, &err), AQ_OK);
    ck_assert_int_eq(
        aq_hessian_store_put(st, "model.layers.0.self_attn.q_proj.weight", n1, A, &err), AQ_OK);
    ck_assert_int_eq(aq_hessian_store_put(st, "down", n2, B, &err), AQ_OK);
    ck_assert_int_eq(aq_hessian_store_put(st, "down", n2, B, &err), AQ_E_VALUE);
    ck_assert_msg(strstr(err.msg, "twice"), "%s", err.msg);
    ck_assert_int_eq(aq_hessian_store_close(st, &err), AQ_OK);
    /* the statistics are still readable */
    aq_calib *c = NULL;
    ck_assert_int_eq(aq_calib_open(path, &c, &err), AQ_OK);
    ck_assert(aq_calib_has(c, "w0"));
    aq_calib_close(c);
    float *H = malloc((size_t)(n1 * n1) * sizeof *H);
    ck_assert_msg(
        aq_hessian_read(path, "model.layers.0.self_attn.q_proj.weight", n1, &s, H, &err) == AQ_OK,
        "%s", err.msg);
    for (int64_t i = 0, off = 0; i < n1; ++i)
        for (int64_t j = i; j < n1; ++j, ++off) {
            ck_assert(H[i * n1 + j] == A[off]);
            ck_assert(H[j * n1 + i] == A[off]);
        }
    /* and GPTQ takes it */
    aq_gptq_opts o = aq_gptq_opts_default();
    aq_gptq_hinv *hv = NULL;
    ck_assert_int_eq(aq_gptq_hinv_create(H, n1, &o, "q", &hv, &err), AQ_OK);
    aq_gptq_hinv_free(hv);
    /* a second store on the same file is refused */
    ck_assert_int_eq(aq_hessian_store_open(path, &s, 128.0, &st, &err), AQ_E_FORMAT);
    free(H);
    free(A);
    free(B);
    unlink(path);
}
END_TEST

/* Writes a raw dataset into /hessian behind the store's back (bad files). */
static void raw_dataset(const char *path, const char *name, const float *v, hsize_t count,
                        long long n) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "hessian", H5P_DEFAULT);
    hid_t sp = H5Screate_simple(1, &count, NULL);
    hid_t d = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(d >= 0);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    hid_t as = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(d, "n", H5T_STD_I64LE, as, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_LLONG, &n);
    H5Aclose(a);
    H5Sclose(as);
    H5Dclose(d);
    H5Sclose(sp);
    H5Gclose(g);
    H5Fclose(f);
}

#define EXPECT(call, code, ...)                                                                    \
    do {                                                                                           \
        ck_assert_int_eq((call), (code));                                                          \
        const char *want_[] = {__VA_ARGS__};                                                       \
        for (size_t i_ = 0; i_ < sizeof want_ / sizeof want_[0]; ++i_)                             \
            ck_assert_msg(strstr(err.msg, want_[i_]), "missing \"%s\" in: %s", want_[i_],          \
                          err.msg);                                                                \
    } while (0)

START_TEST(reader_errors) {
    char path[256];
    calib_file(path, sizeof path, "err");
    const aq_hessian_schedule s = sched();
    const int64_t n = 6;
    float *H = malloc((size_t)(n * n) * sizeof *H);
    aq_err err = {0};
    EXPECT(aq_hessian_read("/nonexistent/c.h5", "l", n, &s, H, &err), AQ_E_IO, "/nonexistent/c.h5");
    EXPECT(aq_hessian_read(path, "l", n, &s, H, &err), AQ_E_FORMAT, path, "no Hessians");
    /* interrupted store: no complete flag */
    aq_hessian_store *st = NULL;
    float *A = spd_packed(n);
    ck_assert_int_eq(aq_hessian_store_open(path, &s, 64.0, &st, &err), AQ_OK);
    ck_assert_int_eq(aq_hessian_store_put(st, "l", n, A, &err), AQ_OK);
    aq_hessian_store_abort(st);
    EXPECT(aq_hessian_read(path, "l", n, &s, H, &err), AQ_E_FORMAT, path, "interrupted");
    unlink(path);

    calib_file(path, sizeof path, "err2");
    ck_assert_int_eq(aq_hessian_store_open(path, &s, 64.0, &st, &err), AQ_OK);
    ck_assert_int_eq(aq_hessian_store_put(st, "l", n, A, &err), AQ_OK);
    /* the store refuses bad values and names */
    float bad[21];
    memcpy(bad, A, sizeof bad);
    bad[7] = NAN; /* [1, 2] */
    EXPECT(aq_hessian_store_put(st, "b", n, bad, &err), AQ_E_VALUE, "layer b", "[1, 2]");
    bad[7] = A[7];
    bad[6] = -1.0f; /* diagonal [1, 1] */
    EXPECT(aq_hessian_store_put(st, "b", n, bad, &err), AQ_E_VALUE, "negative diagonal", "[1, 1]");
    EXPECT(aq_hessian_store_put(st, "a/b", n, A, &err), AQ_E_VALUE, "a/b");
    ck_assert_int_eq(aq_hessian_store_close(st, &err), AQ_OK);
    raw_dataset(path, "negdiag", bad, 21, 6); /* diag -1 at [1, 1] */
    bad[6] = A[6];
    bad[20] = INFINITY;
    raw_dataset(path, "inf", bad, 21, 6);
    raw_dataset(path, "short", A, 20, 6);
    raw_dataset(path, "n7", A, 21, 7);

    EXPECT(aq_hessian_read(path, "missing", n, &s, H, &err), AQ_E_FORMAT, path, "layer missing");
    EXPECT(aq_hessian_read(path, "l", 8, &s, H, &err), AQ_E_FORMAT, "layer l", "6 x 6",
           "8 columns");
    EXPECT(aq_hessian_read(path, "short", n, &s, H, &err), AQ_E_FORMAT, "layer short", "20 values");
    EXPECT(aq_hessian_read(path, "n7", n, &s, H, &err), AQ_E_FORMAT, "layer n7", "7 x 7");
    EXPECT(aq_hessian_read(path, "negdiag", n, &s, H, &err), AQ_E_VALUE, "layer negdiag",
           "negative diagonal", "[1, 1]");
    EXPECT(aq_hessian_read(path, "inf", n, &s, H, &err), AQ_E_VALUE, "layer inf", "non-finite",
           "[5, 5]");
    /* schedule mismatches */
    aq_hessian_schedule m = s;
    m.T = 3;
    EXPECT(aq_hessian_read(path, "l", n, &m, H, &err), AQ_E_FORMAT, path, "T = 4", "T = 3");
    m = s;
    m.schedule = "cosine";
    EXPECT(aq_hessian_read(path, "l", n, &m, H, &err), AQ_E_FORMAT, "schedule mask",
           "schedule cosine");
    m = s;
    m.time_weight = "uniform";
    EXPECT(aq_hessian_read(path, "l", n, &m, H, &err), AQ_E_FORMAT, "time_weight uniform");
    const double w2[4] = {0.4, 0.3, 0.25, 0.05};
    m = s;
    m.w = w2;
    EXPECT(aq_hessian_read(path, "l", n, &m, H, &err), AQ_E_FORMAT, "w_2 = 0.2");
    ck_assert_int_eq(aq_hessian_read(path, "l", n, &s, H, &err), AQ_OK);

    /* not positive definite after damping: GPTQ's Cholesky, labelled by the reader */
    float ind[21] = {0};
    for (int i = 0, off = 0; i < 6; ++i)
        for (int j = i; j < 6; ++j, ++off)
            ind[off] = i == j ? 1.0f : (i == 0 && j == 1 ? 3.0f : 0.0f);
    raw_dataset(path, "indef", ind, 21, 6);
    ck_assert_int_eq(aq_hessian_read(path, "indef", n, &s, H, &err), AQ_OK);
    char label[512];
    aq_gptq_opts o = aq_gptq_opts_default();
    aq_gptq_hinv *hv = NULL;
    EXPECT(aq_gptq_hinv_create(H, n, &o, aq_hessian_label(path, "indef", label, sizeof label), &hv,
                               &err),
           AQ_E_VALUE, "indef", path, "not positive definite after damping");
    free(A);
    free(H);
    unlink(path);
}
END_TEST

static Suite *hessian_suite(void) {
    Suite *s = suite_create("calib_hessian");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, accumulate_matches_naive);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, reader_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(hessian_suite());
}
