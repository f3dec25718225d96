/*
 * aq-mpi — unit tests of the /act and /timegroups writer (include/aq/h5out.h): write with
 * the writer, commit, read back with the HDF5 C API.
 */
#include <check.h>

#include "aq_check.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/h5out.h"

static char g_dir[256];
static char g_path[320];

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/aq_h5act_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/out.h5", g_dir);
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static aq_h5_writer *create(void) {
    aq_h5_root_info r = {.producer = "t",
                         .created = "2026-01-01T00:00:00Z",
                         .config_text = "",
                         .source_model = "m",
                         .ranks = 1,
                         .threads = 1};
    aq_h5_writer *w = NULL;
    aq_err e = {0};
    ck_assert_msg(aq_h5_create(g_path, 3, &r, &w, &e) == AQ_OK, "%s", e.msg);
    return w;
}

static void commit(aq_h5_writer *w) {
    aq_err e = {0};
    ck_assert_msg(aq_h5_commit(w, &e) == AQ_OK, "%s", e.msg);
}

static const float LO[3] = {-4.0f, -3.5f, -2.0f}, HI[3] = {45.0f, 36.0f, 27.0f};
static const float SC[3] = {0.1921569f, 0.1549020f, 0.1137255f};
static const int32_t ZE[3] = {21, 23, 18};
static const float SS[6] = {0.19f, 0.18f, 0.16f, 0.14f, 0.12f, 0.11f};
static const float SZ[6] = {21.0f, 21.5f, 22.5f, 22.0f, 19.0f, 18.0f};

static aq_h5_act sample_act(void) {
    aq_h5_act a = {.K = 3,
                   .T = 6,
                   .act_bits = 8,
                   .lo = LO,
                   .hi = HI,
                   .scale = SC,
                   .zero = ZE,
                   .schedule_scale = SS,
                   .schedule_zero = SZ,
                   .smoothness_before = 0.7,
                   .smoothness_after = 0.9,
                   .violations = 2,
                   .violations_high = 1,
                   .violations_medium = 1,
                   .violations_low = 0,
                   .max_jump_before = 0.25,
                   .max_jump_after = 0.1,
                   .expected_err_before = 1e-3,
                   .expected_err_after = 9e-4,
                   .opt_iterations = 0,
                   .opt_converged = 0,
                   .opt_initial_loss = NAN,
                   .opt_final_loss = NAN,
                   .stats_source = "synthetic"};
    return a;
}

static double num_attr(hid_t loc, const char *obj, const char *name, hid_t want_type) {
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "attribute %s/%s", obj, name);
    hid_t t = H5Aget_type(a);
    ck_assert_msg(H5Tequal(t, want_type) > 0, "type of %s/%s", obj, name);
    double v = 0;
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_DOUBLE, &v), 0);
    H5Tclose(t);
    H5Aclose(a);
    return v;
}

static void assert_str_attr(hid_t loc, const char *obj, const char *name, const char *want) {
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5T_CSET_UTF8);
    char *v = NULL;
    ck_assert_int_ge(H5Aread(a, mt, &v), 0);
    ck_assert_str_eq(v, want);
    H5free_memory(v);
    H5Tclose(mt);
    H5Aclose(a);
}

/* Reads 1-D dataset `path` (checking its file type and length) into buf as mem_type. */
static void read_1d(hid_t f, const char *path, hid_t file_type, hid_t mem_type, hsize_t n,
                    void *buf) {
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "open %s", path);
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    ck_assert(H5Tequal(t, file_type) > 0);
    hsize_t dims[1] = {0};
    ck_assert_int_eq(H5Sget_simple_extent_dims(s, dims, NULL), 1);
    ck_assert_uint_eq(dims[0], n);
    hid_t p = H5Dget_create_plist(d);
    ck_assert_int_eq(H5Pget_layout(p), H5D_CHUNKED);
    ck_assert_int_gt(H5Pget_nfilters(p), 0);
    ck_assert_int_ge(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Pclose(p);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
}

#define L0 "model.layers.0.mlp.down_proj.weight"
#define L1 "model.layers.0.self_attn.o_proj.weight"

START_TEST(test_act_round_trip) {
    aq_h5_writer *w = create();
    aq_err e = {0};
    aq_h5_act a = sample_act();
    ck_assert_msg(aq_h5_write_act(w, L0, &a, &e) == AQ_OK, "%s", e.msg);
    a.stats_source = "calibration";
    a.opt_iterations = 17;
    a.opt_converged = 1;
    a.opt_initial_loss = 1.0;
    a.opt_final_loss = 0.75;
    ck_assert_msg(aq_h5_write_act(w, L1, &a, &e) == AQ_OK, "%s", e.msg); /* /act reused */
    commit(w);

    hid_t f = H5Fopen(g_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    float fk[3], ft[6];
    int32_t ik[3];
    read_1d(f, "act/" L0 "/lo", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, fk);
    ck_assert(!memcmp(fk, LO, sizeof fk));
    read_1d(f, "act/" L0 "/hi", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, fk);
    ck_assert(!memcmp(fk, HI, sizeof fk));
    read_1d(f, "act/" L0 "/scale", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, fk);
    ck_assert(!memcmp(fk, SC, sizeof fk));
    read_1d(f, "act/" L0 "/zero", H5T_STD_I32LE, H5T_NATIVE_INT32, 3, ik);
    ck_assert(!memcmp(ik, ZE, sizeof ik));
    read_1d(f, "act/" L1 "/schedule_scale", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 6, ft);
    ck_assert(!memcmp(ft, SS, sizeof ft));
    read_1d(f, "act/" L1 "/schedule_zero", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 6, ft);
    ck_assert(!memcmp(ft, SZ, sizeof ft));

    const char *g0 = "act/" L0, *g1 = "act/" L1;
    ck_assert(num_attr(f, g0, "act_bits", H5T_STD_I32LE) == 8);
    ck_assert(num_attr(f, g0, "smoothness_before", H5T_IEEE_F64LE) == 0.7);
    ck_assert(num_attr(f, g0, "smoothness_after", H5T_IEEE_F64LE) == 0.9);
    ck_assert(num_attr(f, g0, "violations", H5T_STD_I32LE) == 2);
    ck_assert(num_attr(f, g0, "violations_high", H5T_STD_I32LE) == 1);
    ck_assert(num_attr(f, g0, "violations_medium", H5T_STD_I32LE) == 1);
    ck_assert(num_attr(f, g0, "violations_low", H5T_STD_I32LE) == 0);
    ck_assert(num_attr(f, g0, "max_jump_before", H5T_IEEE_F64LE) == 0.25);
    ck_assert(num_attr(f, g0, "max_jump_after", H5T_IEEE_F64LE) == 0.1);
    ck_assert(num_attr(f, g0, "expected_err_before", H5T_IEEE_F64LE) == 1e-3);
    ck_assert(num_attr(f, g0, "expected_err_after", H5T_IEEE_F64LE) == 9e-4);
    ck_assert(num_attr(f, g0, "opt_iterations", H5T_STD_I32LE) == 0);
    ck_assert(isnan(num_attr(f, g0, "opt_final_loss", H5T_IEEE_F64LE)));
    ck_assert(isnan(num_attr(f, g0, "opt_initial_loss", H5T_IEEE_F64LE)));
    assert_str_attr(f, g0, "stats_source", "synthetic");
    ck_assert(num_attr(f, g1, "opt_iterations", H5T_STD_I32LE) == 17);
    ck_assert(num_attr(f, g1, "opt_converged", H5T_STD_I32LE) == 1);
    ck_assert(num_attr(f, g1, "opt_initial_loss", H5T_IEEE_F64LE) == 1.0);
    ck_assert(num_attr(f, g1, "opt_final_loss", H5T_IEEE_F64LE) == 0.75);
    assert_str_attr(f, g1, "stats_source", "calibration");
    H5Fclose(f);
}
END_TEST

START_TEST(test_timegroups_round_trip) {
    aq_h5_writer *w = create();
    aq_err e = {0};
    const int32_t b[4] = {0, 2, 5, 8};
    float tw[8], ab[8];
    for (int t = 0; t < 8; ++t) {
        ab[t] = 1.0f - ((float)t + 0.5f) / 8.0f;
        tw[t] = ab[t] / 4.0f;
    }
    ck_assert_msg(aq_h5_write_timegroups(w, 3, b, 8, tw, ab, "mask", "alphabar", "optimized", &e) ==
                      AQ_OK,
                  "%s", e.msg);
    ck_assert_int_ne(
        aq_h5_write_timegroups(w, 3, b, 8, tw, ab, "mask", "alphabar", "optimized", &e),
        AQ_OK); /* only once */
    ck_assert_msg(strstr(e.msg, "/timegroups"), "%s", e.msg);
    commit(w);

    hid_t f = H5Fopen(g_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int32_t rb[4];
    float r[8];
    read_1d(f, "timegroups/boundaries", H5T_STD_I32LE, H5T_NATIVE_INT32, 4, rb);
    ck_assert(!memcmp(rb, b, sizeof rb));
    read_1d(f, "timegroups/time_weight", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 8, r);
    ck_assert(!memcmp(r, tw, sizeof r));
    read_1d(f, "timegroups/alphabar", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 8, r);
    ck_assert(!memcmp(r, ab, sizeof r));
    ck_assert(num_attr(f, "timegroups", "K", H5T_STD_I32LE) == 3);
    ck_assert(num_attr(f, "timegroups", "T", H5T_STD_I32LE) == 8);
    assert_str_attr(f, "timegroups", "schedule", "mask");
    assert_str_attr(f, "timegroups", "time_weight_mode", "alphabar");
    assert_str_attr(f, "timegroups", "boundaries_mode", "optimized");
    ck_assert_int_eq(H5Lexists(f, "act", H5P_DEFAULT), 0); /* /act only when written */
    H5Fclose(f);
}
END_TEST

START_TEST(test_invalid_input) {
    aq_h5_writer *w = create();
    aq_err e = {0};
    aq_h5_act a = sample_act();
    ck_assert_int_eq(aq_h5_write_act(w, "a/b", &a, &e), AQ_E_VALUE);
    ck_assert_int_eq(aq_h5_write_act(w, "", &a, &e), AQ_E_VALUE);
    ck_assert_int_eq(aq_h5_write_act(w, L0, NULL, &e), AQ_E_VALUE);
    a.stats_source = "guess";
    ck_assert_int_eq(aq_h5_write_act(w, L0, &a, &e), AQ_E_VALUE);
    ck_assert_msg(strstr(e.msg, L0) && strstr(e.msg, "stats_source"), "%s", e.msg);
    a = sample_act();
    a.zero = NULL;
    ck_assert_int_eq(aq_h5_write_act(w, L0, &a, &e), AQ_E_VALUE);
    a = sample_act();
    a.K = 0;
    ck_assert_int_eq(aq_h5_write_act(w, L0, &a, &e), AQ_E_VALUE);
    a = sample_act();
    ck_assert_int_eq(aq_h5_write_act(w, L0, &a, &e), AQ_OK);
    ck_assert_int_eq(aq_h5_write_act(w, L0, &a, &e), AQ_E_HDF5); /* duplicate */
    ck_assert_msg(strstr(e.msg, "act " L0), "%s", e.msg);
    ck_assert_ptr_null(strchr(e.msg, '\n'));

    const int32_t bad1[3] = {0, 5, 4}, bad2[3] = {1, 2, 4}, bad3[3] = {0, 2, 2};
    const int32_t ok[3] = {0, 2, 4};
    float tw[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    ck_assert_int_eq(
        aq_h5_write_timegroups(w, 2, bad1, 4, tw, tw, "mask", "uniform", "uniform", &e),
        AQ_E_VALUE);
    ck_assert_int_eq(
        aq_h5_write_timegroups(w, 2, bad2, 4, tw, tw, "mask", "uniform", "uniform", &e),
        AQ_E_VALUE);
    ck_assert_int_eq(
        aq_h5_write_timegroups(w, 2, bad3, 4, tw, tw, "mask", "uniform", "uniform", &e),
        AQ_E_VALUE);
    ck_assert_int_eq(aq_h5_write_timegroups(w, 5, ok, 4, tw, tw, "mask", "uniform", "uniform", &e),
                     AQ_E_VALUE);
    ck_assert_int_eq(
        aq_h5_write_timegroups(w, 2, ok, 4, NULL, tw, "mask", "uniform", "uniform", &e),
        AQ_E_VALUE);
    ck_assert_int_eq(aq_h5_write_timegroups(w, 2, ok, 4, tw, tw, "mask", "uniform", "uniform", &e),
                     AQ_OK);
    commit(w);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("h5_act");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_act_round_trip);
    tcase_add_test(tc, test_timegroups_round_trip);
    tcase_add_test(tc, test_invalid_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
