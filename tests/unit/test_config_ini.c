/* Config: defaults, file errors with line numbers, --set overrides, INI round trip. */
#include <check.h>

#include "aq_check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/config.h"
#include "aq/qformat.h"

static char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/aq_cfg_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static aq_status load_text(const char *text, aq_config *c, aq_err *err) {
    aq_config_defaults(c);
    char *path = write_tmp(text);
    aq_status st = aq_config_load(c, path, err);
    unlink(path);
    return st;
}

START_TEST(valid_file) {
    aq_config c;
    aq_err err = {0};
    ck_assert_int_eq(load_text("[model]\npath = /m\n[quant]\nbits = 2\ngroup_size = 32\n"
                               "method = rtn\nscale_dtype = f32\n[output]\npath = /o.h5\n",
                               &c, &err),
                     AQ_OK);
    ck_assert_str_eq(c.model_path, "/m");
    ck_assert_int_eq(c.quant.bits, 2);
    ck_assert_int_eq(c.quant.group_size, 32);
    ck_assert_int_eq(c.quant.method, AQ_METHOD_RTN);
    ck_assert_int_eq(c.quant.scale_dtype, AQ_SCALE_F32);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
}
END_TEST

START_TEST(errors_name_file_and_line) {
    aq_config c;
    aq_err err = {0};
    ck_assert_int_eq(load_text("[quant]\nbits = 4\nbogus = 1\n", &c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, ":3: unknown key 'bogus'"));
    ck_assert_int_eq(load_text("[quant]\n\nbits = 5\n", &c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, ":3: quant.bits: '5' is not one of: 2, 3, 4, 8"));
    ck_assert_int_eq(load_text("[nope]\nx = 1\n", &c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, ":2: unknown section [nope]"));
    ck_assert_int_eq(load_text("[output]\ncompression_level = 99\n", &c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "99 is out of range [1, 22]"));
    ck_assert_int_eq(load_text("[phase1]\nthreshold = abc\n", &c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "'abc' is not a number"));
    ck_assert_int_eq(load_text("[quant]\nembeddings = maybe\n", &c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a boolean"));
    ck_assert_int_eq(load_text("[quant\n", &c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, ":1: syntax error"));
    ck_assert_int_eq(aq_config_load(&c, "/nonexistent/x.ini", &err), AQ_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.ini"));
}
END_TEST

START_TEST(overrides) {
    aq_config c;
    aq_err err = {0};
    aq_config_defaults(&c);
    ck_assert_int_eq(aq_config_set(&c, "quant.bits=8", &err), AQ_OK);
    ck_assert_int_eq(c.quant.bits, 8);
    ck_assert_int_eq(aq_config_set(&c, "output.path=/a=b.h5", &err), AQ_OK);
    ck_assert_str_eq(c.output_path, "/a=b.h5");
    ck_assert_int_eq(aq_config_set(&c, "quant.bits", &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "--set quant.bits"));
    ck_assert_int_eq(aq_config_set(&c, "quant.nope=1", &err), AQ_E_CONFIG);
    ck_assert_int_eq(aq_config_set(&c, "run.threads=-1", &err), AQ_E_CONFIG);
}
END_TEST

START_TEST(check_cross_key_rules) {
    aq_config c;
    aq_err err = {0};
    aq_config_defaults(&c);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "model.path"));
    aq_config_set(&c, "model.path=/m", &err);
    aq_config_set(&c, "output.path=/o.h5", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    aq_config_set(&c, "phase3.enabled=true", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "calib.synthetic"));
    aq_config_set(&c, "calib.synthetic=true", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    aq_config_set(&c, "calib.path=/x.h5", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_E_CONFIG);
    aq_config_set(&c, "run.simd=avx512", &err); /* kernels exist: the CPU check is the job's */
    aq_config_set(&c, "calib.synthetic=false", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
}
END_TEST

/* Double quantization (issue 8): 3-bit only with dq, dq only with mse, dq_bits 0 or 4..8. */
START_TEST(check_dq_rules) {
    aq_config c;
    aq_err err = {0};
    aq_config_defaults(&c);
    aq_config_set(&c, "model.path=/m", &err);
    aq_config_set(&c, "output.path=/o.h5", &err);
    ck_assert_int_eq(aq_config_set(&c, "quant.bits=3", &err), AQ_OK);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "scale_dtype = dq"));
    ck_assert_int_eq(aq_config_set(&c, "quant.scale_dtype=dq", &err), AQ_OK);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    aq_config_set(&c, "quant.method=rtn", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "method = mse"));
    aq_config_set(&c, "quant.method=mse", &err);
    aq_config_set(&c, "quant.dq_bits=3", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "dq_bits"));
    aq_config_set(&c, "quant.dq_bits=6", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    ck_assert_int_eq(aq_config_set(&c, "quant.bits=5", &err), AQ_E_CONFIG);
    char *ini = aq_config_to_ini(&c);
    ck_assert_ptr_nonnull(strstr(ini, "scale_dtype = dq\ndq_bits = 6\n"));
    free(ini);
}
END_TEST

START_TEST(check_format_rules) {
    aq_config c, b;
    aq_err err = {0};
    aq_config_defaults(&c);
    ck_assert_int_eq(c.quant.format, 0);
    aq_config_set(&c, "model.path=/m", &err);
    aq_config_set(&c, "output.path=/o.h5", &err);
    ck_assert_int_eq(aq_config_set(&c, "quant.format=q4_k", &err), AQ_OK);
    ck_assert_int_eq(c.quant.format, AQ_QFMT_Q4_K);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    /* bits / group_size / scale_dtype are ignored under a ggml format */
    aq_config_set(&c, "quant.scale_dtype=dq", &err);
    aq_config_set(&c, "quant.method=rtn", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    ck_assert_int_eq(aq_config_set(&c, "quant.format=q4_K", &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "q2_k, q3_k, q4_k"));
    ck_assert_int_eq(aq_config_set(&c, "quant.format=f16", &err), AQ_E_CONFIG);
    aq_config_set(&c, "quant.budget_bits=4.5", &err); /* a budget across ggml's formats */
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    /* KL by name and format (aq-eval --layer-kl, layers[].format) */
    aq_config_set(&c, "quant.budget_kl_path=/kl.json", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    aq_config_set(&c, "quant.budget_kl_path=", &err);
    aq_config_set(&c, "quant.budget_bits=0", &err);
    aq_config_set(&c, "quant.fallback=true", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_E_CONFIG);
    aq_config_set(&c, "quant.fallback=false", &err);
    char *ini = aq_config_to_ini(&c);
    ck_assert_ptr_nonnull(strstr(ini, "format = q4_k\n"));
    ck_assert_int_eq(load_text(ini, &b, &err), AQ_OK);
    ck_assert_int_eq(b.quant.format, AQ_QFMT_Q4_K);
    free(ini);
    ck_assert_int_eq(aq_config_set(&c, "quant.format=none", &err), AQ_OK);
    ck_assert_int_eq(c.quant.format, 0);
}
END_TEST

/* GPTQ (issue 15): needs a Hessian file (quant.hessian_path or calib.path); defaults 0.01 /
 * 128 / false; damp > 0 and block >= 1 are enforced by the key ranges. */
START_TEST(check_gptq_rules) {
    aq_config c;
    aq_err err = {0};
    aq_config_defaults(&c);
    ck_assert(c.gptq == 0 && c.gptq_damp == 0.01 && c.gptq_block == 128 && !c.gptq_act_order);
    aq_config_set(&c, "model.path=/m", &err);
    aq_config_set(&c, "output.path=/o.h5", &err);
    ck_assert_int_eq(aq_config_set(&c, "quant.gptq=true", &err), AQ_OK);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "quant.hessian_path"));
    aq_config_set(&c, "calib.path=/c.h5", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    aq_config_set(&c, "calib.path=", &err);
    aq_config_set(&c, "quant.hessian_path=/h.h5", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    ck_assert_int_eq(aq_config_set(&c, "quant.gptq_damp=0", &err), AQ_E_CONFIG);
    ck_assert_int_eq(aq_config_set(&c, "quant.gptq_block=0", &err), AQ_E_CONFIG);
    ck_assert_int_eq(aq_config_set(&c, "quant.gptq_block=64", &err), AQ_OK);
    ck_assert_int_eq(aq_config_set(&c, "quant.gptq_act_order=yes", &err), AQ_OK);
    ck_assert_int_eq(aq_config_set(&c, "quant.scale_dtype=dq", &err), AQ_OK);
    aq_config_set(&c, "quant.group_size=32", &err);
    ck_assert_int_eq(aq_config_check(&c, &err), AQ_OK);
    /* every ggml block format has GPTQ operations (src/quant/ggml/ggml_gptq.c) */
    const char *fmts[] = {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
                          "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"};
    for (int i = 0; i < 10; ++i) {
        char kv[32];
        snprintf(kv, sizeof kv, "quant.format=%s", fmts[i]);
        ck_assert_int_eq(aq_config_set(&c, kv, &err), AQ_OK);
        ck_assert_msg(aq_config_check(&c, &err) == AQ_OK, "%s: %s", fmts[i], err.msg);
    }
    ck_assert_int_eq(aq_config_set(&c, "quant.format=none", &err), AQ_OK);
    char *ini = aq_config_to_ini(&c);
    ck_assert_ptr_nonnull(strstr(ini, "gptq = true\n"));
    ck_assert_ptr_nonnull(strstr(ini, "gptq_block = 64\n"));
    ck_assert_ptr_nonnull(strstr(ini, "hessian_path = /h.h5\n"));
    free(ini);
}
END_TEST

START_TEST(ini_round_trip) {
    aq_config a, b;
    aq_err err = {0};
    aq_config_defaults(&a);
    aq_config_set(&a, "quant.method=rtn", &err);
    aq_config_set(&a, "phase3.learning_rate=0.123456789", &err);
    aq_config_set(&a, "model.path=/some where/m", &err);
    char *ini = aq_config_to_ini(&a);
    ck_assert_ptr_nonnull(ini);
    ck_assert_int_eq(load_text(ini, &b, &err), AQ_OK);
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
    free(ini);
}
END_TEST

int main(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, valid_file);
    tcase_add_test(tc, errors_name_file_and_line);
    tcase_add_test(tc, overrides);
    tcase_add_test(tc, check_cross_key_rules);
    tcase_add_test(tc, check_dq_rules);
    tcase_add_test(tc, check_format_rules);
    tcase_add_test(tc, check_gptq_rules);
    tcase_add_test(tc, ini_round_trip);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
