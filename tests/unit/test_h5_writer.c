/*
 * aq-mpi — unit tests of the HDF5 result writer (include/aq/h5out.h) and of the zstd
 * filter 32015: write a small file by hand, read it back with the HDF5 C API.
 */
#include <check.h>

#include "aq_check.h"
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/h5out.h"
#include "../../src/io/h5/zstd_filter.h"

/*-*********************************************
 *  Fixtures and helpers
 ***********************************************/
static char g_dir[256];

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/aq_h5_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void path_in_dir(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", g_dir, name);
}

static int exists(const char *p) {
    return access(p, F_OK) == 0;
}

static aq_h5_root_info root_info(void) {
    aq_h5_root_info r = {.producer = "aq-mpi test",
                         .created = "2026-01-01T00:00:00Z",
                         .config_text = "[quant]\nbits = 4\n",
                         .source_model = "/models/x",
                         .ranks = 2,
                         .threads = 3};
    return r;
}

static hid_t f16_type(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

static char *read_str_attr(hid_t loc, const char *obj, const char *name) {
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    hid_t ft = H5Aget_type(a);
    ck_assert(H5Tis_variable_str(ft) > 0);
    ck_assert_int_eq(H5Tget_cset(ft), H5T_CSET_UTF8);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    char *v = NULL;
    ck_assert_int_ge(H5Aread(a, mt, &v), 0);
    char *copy = strdup(v);
    H5free_memory(v);
    H5Tclose(mt);
    H5Tclose(ft);
    H5Aclose(a);
    return copy;
}

static void assert_str_attr(hid_t loc, const char *obj, const char *name, const char *want) {
    char *v = read_str_attr(loc, obj, name);
    ck_assert_str_eq(v, want);
    free(v);
}

static double read_num_attr(hid_t loc, const char *obj, const char *name) {
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    double v = 0;
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_DOUBLE, &v), 0);
    H5Aclose(a);
    return v;
}

static int attr_type_is(hid_t loc, const char *obj, const char *name, hid_t want) {
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    int eq = H5Tequal(t, want) > 0;
    H5Tclose(t);
    H5Aclose(a);
    return eq;
}

/* Reads a whole dataset as `mem_type` into `buf`; returns its element count. */
static hssize_t read_ds(hid_t f, const char *path, hid_t mem_type, void *buf) {
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "open %s", path);
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    if (n > 0) ck_assert_int_ge(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Sclose(s);
    H5Dclose(d);
    return n;
}

static int ds_dims(hid_t f, const char *path, hsize_t *dims) {
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    int r = H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    H5Dclose(d);
    return r;
}

/* The dataset is chunked with filter 32015 (mandatory, cd_values[0] = level) then
 * Fletcher32, and nothing else (no shuffle). */
static void assert_zstd(hid_t f, const char *path, int level) {
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    hid_t p = H5Dget_create_plist(d);
    ck_assert_int_eq(H5Pget_layout(p), H5D_CHUNKED);
    ck_assert_int_eq(H5Pget_nfilters(p), 2);
    unsigned flags = 0, cd[4] = {0};
    size_t ncd = 4;
    char name[64];
    unsigned cfg = 0;
    H5Z_filter_t id = H5Pget_filter2(p, 0, &flags, &ncd, cd, sizeof name, name, &cfg);
    ck_assert_int_eq(id, AQ_H5Z_FILTER_ZSTD);
    ck_assert_uint_eq(ncd, 1);
    ck_assert_uint_eq(cd[0], (unsigned)level);
    ck_assert_uint_eq(flags & H5Z_FLAG_OPTIONAL, 0);
    ncd = 0;
    ck_assert_int_eq(H5Pget_filter2(p, 1, &flags, &ncd, cd, sizeof name, name, &cfg),
                     H5Z_FILTER_FLETCHER32);
    H5Pclose(p);
    H5Dclose(d);
}

/*-*********************************************
 *  The sample file
 ***********************************************/
#define Q_ROWS 3
#define Q_COLS 10 /* 4-bit: 5 bytes per row; group 4: 3 groups (short last group) */

static const uint8_t Q_CODES[Q_ROWS * 5] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xff, 0x00, 0xa5,
                                            0x5a, 0x0f, 0x01, 0x23, 0x45, 0x67, 0x09};
/* f16 bits: 1.0, 0.5, 2.0, -1.0, 0.25, 0.125, 0, 65504, 1/1024 */
static const uint16_t Q_SCALE16[Q_ROWS * 3] = {0x3c00, 0x3800, 0x4000, 0xbc00, 0x3400,
                                               0x3000, 0x0000, 0x7bff, 0x1400};
static const uint16_t Q_MIN16[Q_ROWS * 3] = {0xbc00, 0x0000, 0xc000, 0x3c00, 0x8000,
                                             0x0001, 0x3555, 0xfbff, 0x0400};
/* 2-bit, 5 cols: 2 bytes per row; group 2: 3 groups */
static const uint8_t Q2_CODES[2 * 2] = {0xe4, 0x03, 0x1b, 0x02};
static const float Q2_SCALE[2 * 3] = {0.5f, 1.5f, -2.0f, 1e-3f, 0.0f, 3.0f};
static const float Q2_MIN[2 * 3] = {-1.0f, 0.25f, 7.0f, -1e-3f, 0.0f, -3.0f};

static const uint16_t BF16_DATA[2 * 3] = {0x3f80, 0x4000, 0xbf80, 0x0000, 0x7f80, 0x3e80};
static const float F32_DATA[4] = {1.5f, -2.25f, 0.0f, 1e30f};
static const float SCALAR[1] = {42.0f};

/* The plain layout's arrays and attributes, spelled out (the writer knows no format; the
 * job takes them from aq_qformat_arrays() / aq_qformat_attrs()). */
static void plain_layout(aq_h5_quantized *q, int bits, int gs, const char *method, int f32,
                         const void *codes, const void *scale, const void *min) {
    const int64_t groups = (q->cols + gs - 1) / gs;
    const aq_elem e = f32 ? AQ_ELEM_F32 : AQ_ELEM_F16;
    q->n_arrays = 3;
    q->arrays[0] = (aq_qarray){"codes", AQ_ELEM_U8, (q->cols * bits + 7) / 8, q->cols * bits};
    q->arrays[1] = (aq_qarray){"scale", e, groups, 0};
    q->arrays[2] = (aq_qarray){"min", e, groups, 0};
    q->data[0] = codes;
    q->data[1] = scale;
    q->data[2] = min;
    q->n_attrs = 5;
    q->attrs[0] = (aq_qattr){"bits", NULL, bits};
    q->attrs[1] = (aq_qattr){"group_size", NULL, gs};
    q->attrs[2] = (aq_qattr){"method", method, 0};
    q->attrs[3] = (aq_qattr){"scale_dtype", f32 ? "f32" : "f16", 0};
    q->attrs[4] = (aq_qattr){"packing", "lsb-first-row-aligned", 0};
}

static void write_quantized_f16(aq_h5_writer *w) {
    aq_err e = {0};
    const int64_t shape[3] = {3, 2, 5}; /* reshaped to [3, 10] */
    aq_h5_quantized q = {
        .ndim = 3,
        .shape = shape,
        .orig_dtype = AQ_DT_BF16,
        .rows = Q_ROWS,
        .cols = Q_COLS,
        .metrics = {.rel_mse = 0.01, .sqnr_db = 20.0, .cosine = 0.995, .weighted_rel_err = 0.02}};
    plain_layout(&q, 4, 4, "mse", 0, Q_CODES, Q_SCALE16, Q_MIN16);
    ck_assert_msg(aq_h5_write_quantized(w, "model.layers.0.mlp.up_proj.weight", &q, &e) == AQ_OK,
                  "%s", e.msg);
}

static void write_quantized_f32(aq_h5_writer *w) {
    aq_err e = {0};
    const int64_t shape[2] = {2, 5};
    aq_h5_quantized q = {
        .ndim = 2,
        .shape = shape,
        .orig_dtype = AQ_DT_F32,
        .rows = 2,
        .cols = 5,
        .metrics = {.rel_mse = 0, .sqnr_db = 1.0 / 0.0, .cosine = 1, .weighted_rel_err = 0}};
    plain_layout(&q, 2, 2, "rtn", 1, Q2_CODES, Q2_SCALE, Q2_MIN);
    ck_assert_msg(aq_h5_write_quantized(w, "q2.weight", &q, &e) == AQ_OK, "%s", e.msg);
}

static void write_passthroughs(aq_h5_writer *w) {
    aq_err e = {0};
    const int64_t s_bf[2] = {2, 3}, s_f32[1] = {4}, s_empty[2] = {0, 8};
    ck_assert_msg(aq_h5_write_passthrough(w, "model.embed_tokens.weight", AQ_DT_BF16, 2, s_bf,
                                          BF16_DATA, &e) == AQ_OK,
                  "%s", e.msg);
    ck_assert_msg(
        aq_h5_write_passthrough(w, "model.norm.weight", AQ_DT_F32, 1, s_f32, F32_DATA, &e) == AQ_OK,
        "%s", e.msg);
    ck_assert_msg(aq_h5_write_passthrough(w, "scalar", AQ_DT_F32, 0, NULL, SCALAR, &e) == AQ_OK,
                  "%s", e.msg);
    ck_assert_msg(aq_h5_write_passthrough(w, "empty", AQ_DT_F16, 2, s_empty, NULL, &e) == AQ_OK,
                  "%s", e.msg);
    ck_assert_msg(aq_h5_write_alias(w, "lm_head.weight", "model.embed_tokens.weight", &e) == AQ_OK,
                  "%s", e.msg);
}

static void write_run(aq_h5_writer *w) {
    aq_err e = {0};
    const int32_t units[2] = {2, 1}, unit_rank[3] = {0, 0, 1};
    const int64_t bytes[2] = {100, 50}, rss[2] = {1 << 20, 2 << 20};
    const double sq[2] = {0.5, 0.25}, ss[2] = {0.1, 0.2}, st[2] = {1.0, 1.5};
    const char *const names[3] = {"embed", "layers.0", "lm_head"};
    aq_h5_run_info r = {.ranks = 2,
                        .units = units,
                        .bytes = bytes,
                        .seconds_quant = sq,
                        .seconds_send = ss,
                        .seconds_total = st,
                        .peak_rss = rss,
                        .n_units = 3,
                        .unit_names = names,
                        .unit_rank = unit_rank};
    ck_assert_msg(aq_h5_write_run(w, &r, &e) == AQ_OK, "%s", e.msg);
}

static void write_sample(const char *path) {
    aq_err e = {0};
    aq_h5_root_info r = root_info();
    aq_h5_writer *w = NULL;
    ck_assert_msg(aq_h5_create(path, 5, &r, &w, &e) == AQ_OK, "%s", e.msg);
    write_quantized_f16(w);
    write_quantized_f32(w);
    write_passthroughs(w);
    write_run(w);
    char partial[300];
    snprintf(partial, sizeof partial, "%s.partial", path);
    ck_assert(exists(partial));
    ck_assert(!exists(path));
    ck_assert_msg(aq_h5_commit(w, &e) == AQ_OK, "%s", e.msg);
    ck_assert(!exists(partial));
    ck_assert(exists(path));
}

/*-*********************************************
 *  Tests
 ***********************************************/
START_TEST(test_root_attrs) {
    char path[300];
    path_in_dir(path, sizeof path, "out.h5");
    write_sample(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    assert_str_attr(f, ".", "format", "aq-mpi/1");
    assert_str_attr(f, ".", "producer", "aq-mpi test");
    assert_str_attr(f, ".", "created", "2026-01-01T00:00:00Z");
    assert_str_attr(f, ".", "config", "[quant]\nbits = 4\n");
    assert_str_attr(f, ".", "source_model", "/models/x");
    ck_assert(attr_type_is(f, ".", "ranks", H5T_STD_I32LE));
    ck_assert_int_eq((int)read_num_attr(f, ".", "ranks"), 2);
    ck_assert_int_eq((int)read_num_attr(f, ".", "threads"), 3);
    H5Fclose(f);
}
END_TEST

START_TEST(test_quantized_f16) {
    char path[300];
    path_in_dir(path, sizeof path, "out.h5");
    write_sample(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    const char *g = "/tensors/model.layers.0.mlp.up_proj.weight";
    char ds[200];
    uint8_t codes[Q_ROWS * 5];
    uint16_t s16[Q_ROWS * 3], m16[Q_ROWS * 3];
    hsize_t dims[2];
    snprintf(ds, sizeof ds, "%s/codes", g);
    ck_assert_int_eq(ds_dims(f, ds, dims), 2);
    ck_assert(dims[0] == Q_ROWS && dims[1] == 5);
    ck_assert_int_eq(read_ds(f, ds, H5T_NATIVE_UINT8, codes), Q_ROWS * 5);
    ck_assert_mem_eq(codes, Q_CODES, sizeof codes);
    assert_zstd(f, ds, 5);
    hid_t t16 = f16_type();
    snprintf(ds, sizeof ds, "%s/scale", g);
    ck_assert_int_eq(ds_dims(f, ds, dims), 2);
    ck_assert(dims[0] == Q_ROWS && dims[1] == 3);
    hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
    hid_t ft = H5Dget_type(d);
    ck_assert(H5Tequal(ft, t16) > 0); /* stored as IEEE half, not as uint16 */
    H5Tclose(ft);
    H5Dclose(d);
    read_ds(f, ds, t16, s16);
    ck_assert_mem_eq(s16, Q_SCALE16, sizeof s16);
    assert_zstd(f, ds, 5);
    snprintf(ds, sizeof ds, "%s/min", g);
    read_ds(f, ds, t16, m16);
    ck_assert_mem_eq(m16, Q_MIN16, sizeof m16);
    /* HDF5 converts our half to float: 1.0, 0.5, 2.0 */
    float sf[Q_ROWS * 3];
    snprintf(ds, sizeof ds, "%s/scale", g);
    read_ds(f, ds, H5T_NATIVE_FLOAT, sf);
    ck_assert(sf[0] == 1.0f && sf[1] == 0.5f && sf[2] == 2.0f && sf[3] == -1.0f);
    ck_assert(sf[7] == 65504.0f);
    H5Tclose(t16);

    assert_str_attr(f, g, "kind", "quantized");
    assert_str_attr(f, g, "orig_dtype", "BF16");
    assert_str_attr(f, g, "method", "mse");
    assert_str_attr(f, g, "scale_dtype", "f16");
    assert_str_attr(f, g, "packing", "lsb-first-row-aligned");
    ck_assert(attr_type_is(f, g, "bits", H5T_STD_I32LE));
    ck_assert_int_eq((int)read_num_attr(f, g, "bits"), 4);
    ck_assert_int_eq((int)read_num_attr(f, g, "group_size"), 4);
    ck_assert(attr_type_is(f, g, "rel_mse", H5T_IEEE_F64LE));
    ck_assert(read_num_attr(f, g, "rel_mse") == 0.01);
    ck_assert(read_num_attr(f, g, "sqnr_db") == 20.0);
    ck_assert(read_num_attr(f, g, "cosine") == 0.995);
    ck_assert(read_num_attr(f, g, "weighted_rel_err") == 0.02);
    ck_assert_int_eq((int)read_num_attr(f, g, "complete"), 1);
    int64_t shape[3];
    hid_t a = H5Aopen_by_name(f, g, "shape", H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, shape);
    H5Aclose(a);
    ck_assert(shape[0] == 3 && shape[1] == 2 && shape[2] == 5);
    H5Fclose(f);
}
END_TEST

/* `complete` must be the last attribute written (resume trusts a group that has it). */
START_TEST(test_complete_is_last) {
    char path[300];
    path_in_dir(path, sizeof path, "out.h5");
    write_sample(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    const char *groups[] = {"/tensors/q2.weight", "/tensors/model.norm.weight"};
    for (int i = 0; i < 2; ++i) {
        hid_t g = H5Gopen2(f, groups[i], H5P_DEFAULT);
        H5O_info_t info;
        H5Oget_info2(g, &info, H5O_INFO_NUM_ATTRS);
        char name[64];
        H5Aget_name_by_idx(g, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, info.num_attrs - 1, name,
                           sizeof name, H5P_DEFAULT);
        ck_assert_str_eq(name, "complete");
        H5Gclose(g);
    }
    H5Fclose(f);
}
END_TEST

START_TEST(test_quantized_f32) {
    char path[300];
    path_in_dir(path, sizeof path, "out.h5");
    write_sample(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    uint8_t codes[4];
    float s[6], m[6];
    ck_assert_int_eq(read_ds(f, "/tensors/q2.weight/codes", H5T_NATIVE_UINT8, codes), 4);
    ck_assert_mem_eq(codes, Q2_CODES, 4);
    hid_t d = H5Dopen2(f, "/tensors/q2.weight/scale", H5P_DEFAULT);
    hid_t ft = H5Dget_type(d);
    ck_assert(H5Tequal(ft, H5T_IEEE_F32LE) > 0);
    H5Tclose(ft);
    H5Dclose(d);
    read_ds(f, "/tensors/q2.weight/scale", H5T_NATIVE_FLOAT, s);
    read_ds(f, "/tensors/q2.weight/min", H5T_NATIVE_FLOAT, m);
    ck_assert_mem_eq(s, Q2_SCALE, sizeof s);
    ck_assert_mem_eq(m, Q2_MIN, sizeof m);
    assert_str_attr(f, "/tensors/q2.weight", "method", "rtn");
    assert_str_attr(f, "/tensors/q2.weight", "scale_dtype", "f32");
    assert_str_attr(f, "/tensors/q2.weight", "orig_dtype", "F32");
    double sq = read_num_attr(f, "/tensors/q2.weight", "sqnr_db");
    ck_assert(sq > 0 && sq == 1.0 / 0.0);
    H5Fclose(f);
}
END_TEST

START_TEST(test_passthrough) {
    char path[300];
    path_in_dir(path, sizeof path, "out.h5");
    write_sample(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    uint16_t bf[6];
    hsize_t dims[2];
    const char *bfp = "/tensors/model.embed_tokens.weight/data";
    ck_assert_int_eq(ds_dims(f, bfp, dims), 2);
    ck_assert(dims[0] == 2 && dims[1] == 3);
    ck_assert_int_eq(read_ds(f, bfp, H5T_NATIVE_UINT16, bf), 6);
    ck_assert_mem_eq(bf, BF16_DATA, sizeof bf);
    assert_str_attr(f, bfp, "dtype", "bf16");
    assert_zstd(f, bfp, 5);
    assert_str_attr(f, "/tensors/model.embed_tokens.weight", "kind", "passthrough");
    assert_str_attr(f, "/tensors/model.embed_tokens.weight", "orig_dtype", "BF16");

    float f32[4];
    ck_assert_int_eq(read_ds(f, "/tensors/model.norm.weight/data", H5T_NATIVE_FLOAT, f32), 4);
    ck_assert_mem_eq(f32, F32_DATA, sizeof f32);
    ck_assert_int_eq((int)read_num_attr(f, "/tensors/model.norm.weight", "complete"), 1);

    /* 0-d: data has shape [1], attr shape is empty */
    float sc = 0;
    ck_assert_int_eq(ds_dims(f, "/tensors/scalar/data", dims), 1);
    ck_assert_int_eq(read_ds(f, "/tensors/scalar/data", H5T_NATIVE_FLOAT, &sc), 1);
    ck_assert(sc == 42.0f);
    hid_t a = H5Aopen_by_name(f, "/tensors/scalar", "shape", H5P_DEFAULT, H5P_DEFAULT);
    hid_t s = H5Aget_space(a);
    ck_assert_int_eq(H5Sget_simple_extent_npoints(s), 0);
    H5Sclose(s);
    H5Aclose(a);

    /* empty [0, 8] */
    ck_assert_int_eq(ds_dims(f, "/tensors/empty/data", dims), 2);
    ck_assert(dims[0] == 0 && dims[1] == 8);
    ck_assert_int_eq((int)read_num_attr(f, "/tensors/empty", "complete"), 1);
    H5Fclose(f);
}
END_TEST

START_TEST(test_alias_and_run) {
    char path[300];
    path_in_dir(path, sizeof path, "out.h5");
    write_sample(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5O_info_t a, b;
    ck_assert_int_ge(
        H5Oget_info_by_name2(f, "/tensors/lm_head.weight", &a, H5O_INFO_BASIC, H5P_DEFAULT), 0);
    H5Oget_info_by_name2(f, "/tensors/model.embed_tokens.weight", &b, H5O_INFO_BASIC, H5P_DEFAULT);
    ck_assert(a.addr == b.addr);
    ck_assert_uint_eq(a.rc, 2);
    H5L_info_t li;
    H5Lget_info(f, "/tensors/lm_head.weight", &li, H5P_DEFAULT);
    ck_assert_int_eq(li.type, H5L_TYPE_HARD);

    int32_t units[2], ur[3];
    int64_t bytes[2], rss[2];
    double st[2];
    ck_assert_int_eq(read_ds(f, "/run/units", H5T_NATIVE_INT32, units), 2);
    ck_assert(units[0] == 2 && units[1] == 1);
    read_ds(f, "/run/bytes", H5T_NATIVE_INT64, bytes);
    ck_assert(bytes[0] == 100 && bytes[1] == 50);
    read_ds(f, "/run/peak_rss_bytes", H5T_NATIVE_INT64, rss);
    ck_assert(rss[1] == 2 << 20);
    read_ds(f, "/run/seconds_total", H5T_NATIVE_DOUBLE, st);
    ck_assert(st[0] == 1.0 && st[1] == 1.5);
    read_ds(f, "/run/seconds_quant", H5T_NATIVE_DOUBLE, st);
    ck_assert(st[1] == 0.25);
    read_ds(f, "/run/seconds_send", H5T_NATIVE_DOUBLE, st);
    ck_assert(st[0] == 0.1);
    read_ds(f, "/run/unit_rank", H5T_NATIVE_INT32, ur);
    ck_assert(ur[0] == 0 && ur[2] == 1);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    char *names[3] = {0};
    ck_assert_int_eq(read_ds(f, "/run/unit_names", mt, names), 3);
    ck_assert_str_eq(names[1], "layers.0");
    ck_assert_str_eq(names[2], "lm_head");
    for (int i = 0; i < 3; ++i)
        H5free_memory(names[i]);
    H5Tclose(mt);
    H5Fclose(f);
}
END_TEST

/* Chunks hold whole rows, at most 1 MiB and 256 rows; the data survive the round trip. */
START_TEST(test_large_chunks) {
    char path[300];
    path_in_dir(path, sizeof path, "big.h5");
    aq_err e = {0};
    aq_h5_root_info r = root_info();
    aq_h5_writer *w = NULL;
    ck_assert_msg(aq_h5_create(path, 3, &r, &w, &e) == AQ_OK, "%s", e.msg);
    const int64_t rows = 1024, cols = 4096; /* 4-bit: 2048 bytes per row, 2 MiB */
    size_t nb = (size_t)rows * 2048, ng = (size_t)rows * 32;
    uint8_t *codes = malloc(nb);
    float *sc = calloc(ng, sizeof *sc), *mn = calloc(ng, sizeof *mn);
    for (size_t i = 0; i < nb; ++i)
        codes[i] = (uint8_t)(i * 2654435761u >> 13);
    const int64_t shape[2] = {rows, cols};
    aq_h5_quantized q = {
        .ndim = 2, .shape = shape, .orig_dtype = AQ_DT_F16, .rows = rows, .cols = cols};
    plain_layout(&q, 4, 128, "rtn", 1, codes, sc, mn);
    ck_assert_msg(aq_h5_write_quantized(w, "big", &q, &e) == AQ_OK, "%s", e.msg);
    ck_assert_msg(aq_h5_commit(w, &e) == AQ_OK, "%s", e.msg);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/tensors/big/codes", H5P_DEFAULT);
    hid_t p = H5Dget_create_plist(d);
    hsize_t chunk[2];
    ck_assert_int_eq(H5Pget_chunk(p, 2, chunk), 2);
    ck_assert(chunk[1] == 2048 && chunk[0] == 256); /* 512 fit 1 MiB; at most 256 rows */
    H5Pclose(p);
    H5Dclose(d);
    uint8_t *back = malloc(nb);
    read_ds(f, "/tensors/big/codes", H5T_NATIVE_UINT8, back);
    ck_assert_mem_eq(back, codes, nb);
    H5Fclose(f);
    free(back);
    free(codes);
    free(sc);
    free(mn);
}
END_TEST

START_TEST(test_abort) {
    char path[300], partial[320];
    path_in_dir(path, sizeof path, "ab.h5");
    snprintf(partial, sizeof partial, "%s.partial", path);
    aq_err e = {0};
    aq_h5_root_info r = root_info();
    aq_h5_writer *w = NULL;
    ck_assert(aq_h5_create(path, 3, &r, &w, &e) == AQ_OK);
    write_passthroughs(w);
    aq_h5_abort(w, 0);
    ck_assert(!exists(path));
    ck_assert(!exists(partial));
    ck_assert(aq_h5_create(path, 3, &r, &w, &e) == AQ_OK);
    aq_h5_abort(w, 1);
    ck_assert(!exists(path));
    ck_assert(exists(partial));
    aq_h5_abort(NULL, 0);
}
END_TEST

START_TEST(test_missing_dir) {
    char path[300];
    path_in_dir(path, sizeof path, "no/such/dir/out.h5");
    aq_err e = {0};
    aq_h5_root_info r = root_info();
    aq_h5_writer *w = (aq_h5_writer *)1;
    ck_assert_int_eq(aq_h5_create(path, 3, &r, &w, &e), AQ_E_IO);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(e.code, AQ_E_IO);
    ck_assert_msg(strstr(e.msg, path) != NULL, "message does not name the path: %s", e.msg);
}
END_TEST

START_TEST(test_errors_name_tensor) {
    char path[300];
    path_in_dir(path, sizeof path, "err.h5");
    aq_err e = {0};
    aq_h5_root_info r = root_info();
    aq_h5_writer *w = NULL;
    ck_assert(aq_h5_create(path, 3, &r, &w, &e) == AQ_OK);
    write_passthroughs(w);
    const int64_t s[1] = {4};
    ck_assert_int_eq(aq_h5_write_passthrough(w, "model.norm.weight", AQ_DT_F32, 1, s, F32_DATA, &e),
                     AQ_E_HDF5);
    ck_assert_ptr_nonnull(strstr(e.msg, "model.norm.weight"));
    ck_assert_int_eq(aq_h5_write_alias(w, "a.weight", "missing.weight", &e), AQ_E_HDF5);
    ck_assert_ptr_nonnull(strstr(e.msg, "missing.weight"));
    ck_assert_int_eq(aq_h5_write_passthrough(w, "a/b", AQ_DT_F32, 1, s, F32_DATA, &e), AQ_E_VALUE);
    /* the writer stays usable after an error */
    ck_assert(aq_h5_write_passthrough(w, "later", AQ_DT_F32, 1, s, F32_DATA, &e) == AQ_OK);
    ck_assert(aq_h5_commit(w, &e) == AQ_OK);
}
END_TEST

/* The filter callback on its own: round trip, and corrupt input fails with 0. */
START_TEST(test_filter_callback) {
    size_t n = 10000, size = n;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; ++i)
        buf[i] = (unsigned char)(i % 7);
    void *p = buf;
    unsigned level = 9;
    size_t c = aq_h5z_zstd_filter(0, 1, &level, n, &size, &p);
    ck_assert(c > 0 && c < n);
    size_t d = aq_h5z_zstd_filter(H5Z_FLAG_REVERSE, 1, &level, c, &size, &p);
    ck_assert_uint_eq(d, n);
    for (size_t i = 0; i < n; ++i)
        ck_assert_uint_eq(((unsigned char *)p)[i], i % 7);
    memset(p, 0xab, 64);
    ck_assert_uint_eq(aq_h5z_zstd_filter(H5Z_FLAG_REVERSE, 1, &level, 64, &size, &p), 0);
    free(p);
    ck_assert_int_eq(aq_h5z_zstd_class()->id, AQ_H5Z_FILTER_ZSTD);
    aq_err e = {0};
    ck_assert(aq_h5z_zstd_register(&e) == AQ_OK);
    ck_assert(aq_h5z_zstd_register(&e) == AQ_OK);
    ck_assert_int_gt(H5Zfilter_avail(AQ_H5Z_FILTER_ZSTD), 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("h5_writer");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_root_attrs);
    tcase_add_test(tc, test_quantized_f16);
    tcase_add_test(tc, test_complete_is_last);
    tcase_add_test(tc, test_quantized_f32);
    tcase_add_test(tc, test_passthrough);
    tcase_add_test(tc, test_alias_and_run);
    tcase_add_test(tc, test_large_chunks);
    tcase_add_test(tc, test_abort);
    tcase_add_test(tc, test_missing_dir);
    tcase_add_test(tc, test_errors_name_tensor);
    tcase_add_test(tc, test_filter_callback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
