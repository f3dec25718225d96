/*
 * aq-mpi — the double-quantized layout through the format table, the HDF5 writer and
 * reader: a tensor quantized with aq_dq_quantize_tensor() is written with the "dq" row's
 * arrays and attributes (aq/qformat.h), the datasets and attributes of docs/FORMAT.md are
 * checked with the HDF5 C API, and aq_qread_tensor() must return exactly the decode of the
 * buffers that were written.
 */
#include <check.h>

#include "aq_check.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dq.h"
#include "aq/h5in.h"
#include "aq/h5out.h"
#include "aq/qformat.h"

static char g_dir[256];

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/aq_h5dq_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Deterministic heavy-tailed weights (a few large values, like real layers). */
static void fill(float *w, int64_t n, unsigned seed) {
    uint32_t s = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        float u = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f;
        w[i] = 0.02f * u * ((s & 0xff) == 7 ? 20.0f : 1.0f);
    }
}

/* Per-row sizes of the four dq arrays. */
typedef struct {
    size_t codes, sub, scale, min;
    int64_t params;
} row_sizes;

typedef struct {
    aq_quant_params p;
    aq_dq_layout L;
    int64_t rows, cols;
    row_sizes z;
    float *w;
    uint8_t *codes, *sub;
    uint16_t *d, *dmin;
    aq_quant_metrics m;
} dq_case;

static void case_make(dq_case *c, int bits, int gs, int dq_bits, int64_t rows, int64_t cols) {
    memset(c, 0, sizeof *c);
    c->p = (aq_quant_params){bits, gs, AQ_METHOD_MSE, AQ_SCALE_DQ, dq_bits, 0};
    aq_err err;
    ck_assert_int_eq(aq_quant_params_check(&c->p, &err), AQ_OK);
    c->L = aq_quant_dq_layout(&c->p);
    c->rows = rows;
    c->cols = cols;
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    ck_assert_int_eq(aq_qformat_arrays(&c->p, cols, a), 4);
    ck_assert_str_eq(a[0].name, "codes");
    ck_assert_str_eq(a[1].name, "sub");
    ck_assert_str_eq(a[2].name, "super_scale");
    ck_assert_str_eq(a[3].name, "super_min");
    ck_assert(a[0].elem == AQ_ELEM_U8 && a[1].elem == AQ_ELEM_U8 && a[2].elem == AQ_ELEM_F16 &&
              a[3].elem == AQ_ELEM_F16);
    c->z = (row_sizes){(size_t)a[0].row_elems, (size_t)a[1].row_elems, 2 * (size_t)a[2].row_elems,
                       2 * (size_t)a[3].row_elems, a[2].row_elems};
    ck_assert_uint_eq(c->z.codes, aq_packed_row_bytes(cols, bits));
    ck_assert_uint_eq(c->z.sub, aq_dq_sub_row_bytes(cols, &c->L));
    ck_assert_int_eq(c->z.params, aq_dq_supers(cols));
    ck_assert_uint_eq(aq_qformat_tensor_bytes(&c->p, rows, cols),
                      (uint64_t)rows * (c->z.codes + c->z.sub + c->z.scale + c->z.min));
    c->w = malloc((size_t)(rows * cols) * sizeof *c->w);
    c->codes = malloc((size_t)rows * c->z.codes);
    c->sub = malloc((size_t)rows * c->z.sub);
    c->d = malloc((size_t)rows * c->z.scale);
    c->dmin = malloc((size_t)rows * c->z.min);
    ck_assert(c->w && c->codes && c->sub && c->d && c->dmin);
    fill(c->w, rows * cols, (unsigned)(bits * 100 + gs));
    ck_assert_int_eq(aq_dq_quantize_tensor(NULL, &c->L, AQ_DT_F32, c->w, rows, cols, NULL, "t",
                                           c->codes, c->sub, c->d, c->dmin, &c->m, &err),
                     AQ_OK);
}

static void case_free(dq_case *c) {
    free(c->w);
    free(c->codes);
    free(c->sub);
    free(c->d);
    free(c->dmin);
}

/* What the job does: the table's arrays and attributes for the case's params. */
static void describe(aq_h5_quantized *q, const dq_case *c, const void *sub) {
    q->n_arrays = aq_qformat_arrays(&c->p, c->cols, q->arrays);
    q->data[0] = c->codes;
    q->data[1] = sub;
    q->data[2] = c->d;
    q->data[3] = c->dmin;
    q->n_attrs = aq_qformat_attrs(&c->p, q->attrs);
}

static void write_case(const char *path, const dq_case *c) {
    aq_h5_root_info root = {"aq-mpi test", "2026-01-01T00:00:00Z", "[quant]\n", "/m", 1, 1};
    aq_h5_writer *w = NULL;
    aq_err err;
    ck_assert_int_eq(aq_h5_create(path, 3, &root, &w, &err), AQ_OK);
    const int64_t shape[2] = {c->rows, c->cols};
    aq_h5_quantized q = {.ndim = 2,
                         .shape = shape,
                         .orig_dtype = AQ_DT_F32,
                         .rows = c->rows,
                         .cols = c->cols,
                         .metrics = c->m};
    describe(&q, c, c->sub);
    ck_assert_int_eq(aq_h5_write_quantized(w, "layer.weight", &q, &err), AQ_OK);
    ck_assert_int_eq(aq_h5_commit(w, &err), AQ_OK);
}

static void assert_dims(hid_t f, const char *ds, hsize_t d0, hsize_t d1) {
    char path[128];
    snprintf(path, sizeof path, "/tensors/layer.weight/%s", ds);
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "dataset %s missing", ds);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), 2);
    ck_assert_msg(dims[0] == d0 && dims[1] == d1, "%s: [%llu, %llu], want [%llu, %llu]", ds,
                  (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)d0,
                  (unsigned long long)d1);
    H5Sclose(sp);
    H5Dclose(d);
}

static int int_attr(hid_t f, const char *name) {
    int v = -1;
    hid_t a = H5Aopen_by_name(f, "/tensors/layer.weight", name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "attribute %s missing", name);
    ck_assert(H5Aread(a, H5T_NATIVE_INT, &v) >= 0);
    H5Aclose(a);
    return v;
}

static void check_file(const char *path, const dq_case *c) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    assert_dims(f, "codes", (hsize_t)c->rows, c->z.codes);
    assert_dims(f, "sub", (hsize_t)c->rows, c->z.sub);
    assert_dims(f, "super_scale", (hsize_t)c->rows, (hsize_t)c->z.params);
    assert_dims(f, "super_min", (hsize_t)c->rows, (hsize_t)c->z.params);
    ck_assert_int_eq(H5Lexists(f, "/tensors/layer.weight/scale", H5P_DEFAULT), 0);
    ck_assert_int_eq(int_attr(f, "dq_bits"), c->L.sub_bits);
    ck_assert_int_eq(int_attr(f, "super_size"), AQ_DQ_SUPER);
    ck_assert_int_eq(int_attr(f, "bits"), c->L.bits);
    H5Fclose(f);
}

/* The reader's tensor equals the decode of the written buffers, bit for bit. */
static void check_read_back(const char *path, const dq_case *c) {
    aq_h5in *h = NULL;
    aq_err err;
    ck_assert_int_eq(aq_h5in_open(path, &h, &err), AQ_OK);
    aq_h5in_info info;
    ck_assert_int_eq(aq_h5in_tensor_info(h, "layer.weight", &info, &err), AQ_OK);
    ck_assert_int_eq(info.bits, c->L.bits);
    int32_t dq_bits = 0;
    ck_assert_int_eq(aq_h5in_attr_i32(h, "layer.weight", "dq_bits", &dq_bits), 0);
    ck_assert_int_eq(dq_bits, c->L.sub_bits);
    const int64_t n = c->rows * c->cols;
    float *got = malloc((size_t)n * sizeof *got), *want = malloc((size_t)n * sizeof *want);
    ck_assert(got && want);
    ck_assert_int_eq(aq_qread_tensor(h, "layer.weight", got, n, &err), AQ_OK);
    for (int64_t r = 0; r < c->rows; ++r)
        aq_dq_dequantize_row(&c->L, c->codes + r * (int64_t)c->z.codes,
                             c->sub + r * (int64_t)c->z.sub, c->d + r * c->z.params,
                             c->dmin + r * c->z.params, c->cols, want + r * c->cols);
    ck_assert_int_eq(memcmp(got, want, (size_t)n * sizeof *got), 0);
    double e2 = 0, w2 = 0;
    for (int64_t i = 0; i < n; ++i) {
        e2 += ((double)got[i] - c->w[i]) * ((double)got[i] - c->w[i]);
        w2 += (double)c->w[i] * c->w[i];
    }
    ck_assert_double_eq_tol(e2 / w2, c->m.rel_mse, 1e-9 * (1.0 + c->m.rel_mse));
    free(got);
    free(want);
    aq_h5in_close(h);
}

static void round_trip(int bits, int gs, int dq_bits, int64_t rows, int64_t cols) {
    dq_case c;
    case_make(&c, bits, gs, dq_bits, rows, cols);
    char path[300];
    snprintf(path, sizeof path, "%s/dq_%d_%d.h5", g_dir, bits, gs);
    write_case(path, &c);
    check_file(path, &c);
    check_read_back(path, &c);
    case_free(&c);
}

START_TEST(dq2_g16_round_trip) {
    round_trip(2, 16, 4, 7, 300);
}
END_TEST

START_TEST(dq3_g32_round_trip) {
    round_trip(3, 32, 0, 5, 512);
}
END_TEST

START_TEST(dq4_g32_tail_round_trip) {
    round_trip(4, 32, 6, 3, 700);
}
END_TEST

/* A dq description without its sub codes is refused before anything is written. */
START_TEST(dq_missing_sub_refused) {
    dq_case c;
    case_make(&c, 2, 16, 4, 2, 256);
    char path[300];
    snprintf(path, sizeof path, "%s/bad.h5", g_dir);
    aq_h5_root_info root = {"aq-mpi test", "2026-01-01T00:00:00Z", "", "/m", 1, 1};
    aq_h5_writer *w = NULL;
    aq_err err;
    ck_assert_int_eq(aq_h5_create(path, 3, &root, &w, &err), AQ_OK);
    const int64_t shape[2] = {c.rows, c.cols};
    aq_h5_quantized q = {.ndim = 2,
                         .shape = shape,
                         .orig_dtype = AQ_DT_F32,
                         .rows = c.rows,
                         .cols = c.cols,
                         .metrics = c.m};
    describe(&q, &c, NULL);
    ck_assert_int_eq(aq_h5_write_quantized(w, "x.weight", &q, &err), AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "x.weight"));
    aq_h5_abort(w, 0);
    case_free(&c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quant_h5_dq");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dq2_g16_round_trip);
    tcase_add_test(tc, dq3_g32_round_trip);
    tcase_add_test(tc, dq4_g32_tail_round_trip);
    tcase_add_test(tc, dq_missing_sub_refused);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
