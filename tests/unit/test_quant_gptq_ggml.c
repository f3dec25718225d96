/*
 * Unit tests of GPTQ (include/aq/gptq.h) for ggml's block formats, every one of the ten rows
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (src/quant/ggml/ggml_gptq.c):
 *   - H = identity: GPTQ stores exactly the blocks of the format's own quantize_row (byte for
 *     byte, with and without importance);
 *   - the contract of aq_qf_gptq: emit() of fitted parameters and rounded codes decodes through
 *     the format's dequantize_row to round()'s values bit for bit, also for weights moved away
 *     from the fitted ones (as GPTQ's updates move them: clamped codes);
 *   - correlated inputs (random SPD H = X^T X / N): tr((W - Q) H (W - Q)^T) of GPTQ is below
 *     that of the format's own search with importance diag H;
 *   - 1 and 2 OpenMP threads, panel sizes and kernel sets give identical bytes (rows are
 *     independent, so rank-free determinism is structural).
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/gptq.h"
#include "aq/qformat.h"
#include "aq/quant.h"

/*-*********************************************
 *  Helpers
 ***********************************************/

#include "aq_gptq_fixtures.h"

static const int k_ids[] = {AQ_QFMT_Q8_0, AQ_QFMT_Q4_0, AQ_QFMT_Q4_1, AQ_QFMT_Q5_0, AQ_QFMT_Q5_1,
                            AQ_QFMT_Q2_K, AQ_QFMT_Q3_K, AQ_QFMT_Q4_K, AQ_QFMT_Q5_K, AQ_QFMT_Q6_K};
#define N_IDS ((int)(sizeof k_ids / sizeof k_ids[0]))

/* Params of block format id (bits: its nominal width; the block rows ignore the rest). */
static aq_quant_params params_of(int id) {
    const aq_qformat *f = aq_qformat_get(id);
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(f->gptq != NULL, "%s has no GPTQ operations", f->name);
    aq_quant_params p = {f->widths[0], 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    p.format = id;
    return p;
}

/*-*********************************************
 *  H = identity: the format's own quantization
 ***********************************************/

START_TEST(identity_is_own_search) {
    const aq_quant_params p = params_of(k_ids[_i]);
    const int64_t rows = 5, cols = 768;
    float *W = make_weights(rows, cols, 11 + (uint64_t)_i);
    float *H = identity(cols);
    float *h = malloc((size_t)cols * sizeof *h);
    uint64_t s = 5;
    for (int64_t j = 0; j < cols; ++j)
        h[j] = (float)(0.1 + rng_unif(&s) * (j % 5 == 0 ? 20.0 : 1.0));
    for (int with_h = 0; with_h < 2; ++with_h) {
        const float *hh = with_h ? h : NULL;
        arrays own = arrays_alloc(&p, rows, cols), gq = arrays_alloc(&p, rows, cols);
        aq_err err = {0};
        aq_quant_metrics m1, m2;
        ck_assert_int_eq(aq_qformat_quantize_tensor(&p, NULL, AQ_DT_F32, W, rows, cols, hh, "t",
                                                    own.arr, &m1, &err),
                         AQ_OK);
        aq_gptq_opts o = aq_gptq_opts_default();
        o.block = 48; /* not a multiple of the block: rounded up inside */
        ck_assert_msg(
            aq_gptq_quantize(H, &o, &p, NULL, W, rows, cols, hh, "t", gq.arr, &m2, &err) == AQ_OK,
            "%s", err.msg);
        ck_assert_msg(arrays_equal(&own, &gq), "%s, h %d: GPTQ with H = I differs from the format",
                      aq_qformat_get(p.format)->name, with_h);
        ck_assert(m1.rel_mse == m2.rel_mse && m1.weighted_rel_err == m2.weighted_rel_err);
        guards_intact(&gq);
        arrays_free(&own);
        arrays_free(&gq);
    }
    free(W);
    free(H);
    free(h);
}
END_TEST

/*-*********************************************
 *  The contract: emit decodes to round's values
 ***********************************************/

START_TEST(emit_decodes_to_round) {
    const aq_quant_params p = params_of(k_ids[_i]);
    const aq_qformat *f = aq_qformat_get(p.format);
    const aq_qf_gptq *g = f->gptq;
    const aq_qf_env env = {f, &p, aq_kernels_select(0), NULL};
    const int64_t cols = 512, bc = g->block_cols(&p), nblk = cols / bc;
    ck_assert_int_eq(cols % bc, 0);
    ck_assert_uint_le(g->param_bytes(&p), 256);
    float *W = make_weights(1, cols, 31 + (uint64_t)_i);
    float *y = malloc((size_t)cols * sizeof *y), *dec = malloc((size_t)cols * sizeof *dec);
    uint8_t *codes = malloc((size_t)cols);
    unsigned char *par = malloc((size_t)nblk * g->param_bytes(&p));
    ck_assert(y && dec && codes && par);
    uint64_t s = 17;
    for (int trial = 0; trial < 3; ++trial) {
        for (int64_t b = 0; b < nblk; ++b)
            ck_assert_int_eq(g->fit(&env, W + b * bc, NULL, bc, par + b * g->param_bytes(&p)), 0);
        for (int64_t j = 0; j < cols; ++j) {
            /* trial 0: the fitted weights; 1: moved by noise; 2: moved far (clamped codes) */
            const float x = W[j] + (float)(trial * trial * 0.02 * rng_gauss(&s));
            y[j] = g->round(&p, par + (j / bc) * g->param_bytes(&p), j % bc, x, &codes[j]);
        }
        arrays a = arrays_alloc(&p, 1, cols);
        g->emit(&env, codes, par, cols, a.arr);
        guards_intact(&a);
        aq_qformat_dequantize_rows(&p, (const void *const *)a.arr, 1, cols, dec);
        for (int64_t j = 0; j < cols; ++j)
            ck_assert_msg(memcmp(&y[j], &dec[j], sizeof y[j]) == 0,
                          "%s trial %d column %lld: round %.9g, decoded %.9g", f->name, trial,
                          (long long)j, (double)y[j], (double)dec[j]);
        arrays_free(&a);
    }
    free(W);
    free(y);
    free(dec);
    free(codes);
    free(par);
}
END_TEST

/*-*********************************************
 *  The LDL form (default) against the U form
 ***********************************************/

/* Same algorithm in exact arithmetic (include/aq/gptq.h "LDL form"): output errors within
 * 2 % (measured here: 0.9946x-1.0073x; a flipped rounding changes the rest of its row),
 * both orders. */
START_TEST(ldl_form_equals_u_form) {
    const aq_quant_params p = params_of(k_ids[_i]);
    const int64_t rows = 16, cols = 512;
    float *W = make_weights(rows, cols, 71 + (uint64_t)_i);
    float *H = make_hessian(cols, 1500, 0.9, 13);
    float *h = diag_of(H, cols);
    for (int act = 0; act < 2; ++act) {
        arrays au = arrays_alloc(&p, rows, cols), al = arrays_alloc(&p, rows, cols);
        aq_err err = {0};
        aq_gptq_opts o = aq_gptq_opts_default();
        o.act_order = act;
        ck_assert_int_eq(
            aq_gptq_quantize(H, &o, &p, NULL, W, rows, cols, h, "t", al.arr, NULL, &err), AQ_OK);
        o.form = AQ_GPTQ_FORM_U;
        ck_assert_int_eq(
            aq_gptq_quantize(H, &o, &p, NULL, W, rows, cols, h, "t", au.arr, NULL, &err), AQ_OK);
        const double eu = output_error(&p, &au, W, H, rows, cols),
                     el = output_error(&p, &al, W, H, rows, cols);
        printf("gptq %-5s act %d: output error LDL %.5e, U %.5e (%.4fx)\n",
               aq_qformat_get(p.format)->name, act, el, eu, el / eu);
        fflush(stdout);
        ck_assert_msg(fabs(el / eu - 1.0) < 0.02, "act %d: LDL %g, U %g", act, el, eu);
        arrays_free(&au);
        arrays_free(&al);
    }
    free(W);
    free(H);
    free(h);
}
END_TEST

/*-*********************************************
 *  Correlated inputs: GPTQ below the format's own search
 ***********************************************/

START_TEST(beats_own_search) {
    const aq_quant_params p = params_of(k_ids[_i]);
    const int64_t rows = 16, cols = 512;
    float *W = make_weights(rows, cols, 101 + (uint64_t)_i);
    float *H = make_hessian(cols, 1024, 0.9, 7);
    float *h = diag_of(H, cols);
    arrays own = arrays_alloc(&p, rows, cols), gq = arrays_alloc(&p, rows, cols);
    aq_err err = {0};
    ck_assert_int_eq(
        aq_qformat_quantize_tensor(&p, NULL, AQ_DT_F32, W, rows, cols, h, "t", own.arr, NULL, &err),
        AQ_OK);
    aq_gptq_opts o = aq_gptq_opts_default();
    ck_assert_msg(aq_gptq_quantize(H, &o, &p, NULL, W, rows, cols, h, "t", gq.arr, NULL, &err) ==
                      AQ_OK,
                  "%s", err.msg);
    const double e_own = output_error(&p, &own, W, H, rows, cols);
    const double e_g = output_error(&p, &gq, W, H, rows, cols);
    const char *name = aq_qformat_get(p.format)->name;
    printf("gptq %-5s tr((W-Q)H(W-Q)^T): own %.4e  gptq %.4e (%.3fx)\n", name, e_own, e_g,
           e_g / e_own);
    ck_assert_msg(e_g < e_own, "%s: GPTQ %g not below the own search %g", name, e_g, e_own);
    arrays_free(&own);
    arrays_free(&gq);
    free(W);
    free(H);
    free(h);
}
END_TEST

/*-*********************************************
 *  Determinism
 ***********************************************/

START_TEST(threads_panels_kernels) {
    const aq_quant_params p = params_of(k_ids[_i]);
    const int64_t rows = 13, cols = 512;
    float *W = make_weights(rows, cols, 3 + (uint64_t)_i);
    float *H = make_hessian(cols, 600, 0.8, 9);
    float *h = diag_of(H, cols);
    for (int act = 0; act < 2; ++act) {
        aq_gptq_opts o = aq_gptq_opts_default();
        o.act_order = act;
        aq_gptq_hinv *hv = NULL;
        aq_err err = {0};
        ck_assert_int_eq(aq_gptq_hinv_create(H, cols, &o, "t", &hv, &err), AQ_OK);
        arrays ref = arrays_alloc(&p, rows, cols);
        omp_set_num_threads(1);
        o.panel = 1;
        ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, &p, aq_kernels_select(AQ_SIMD_SCALAR),
                                                 AQ_DT_F32, W, rows, cols, h, "t", ref.arr, NULL,
                                                 &err),
                         AQ_OK);
        const int panels[] = {1, 5, 32};
        for (int th = 1; th <= 2; ++th)
            for (int pi = 0; pi < 3; ++pi)
                for (int simd = AQ_SIMD_SCALAR; simd < AQ_SIMD_N; ++simd) {
                    const aq_kernels *k = aq_kernels_select(simd);
                    if (!k) continue; /* this CPU lacks the set: covered where it has it */
                    omp_set_num_threads(th);
                    o.panel = panels[pi];
                    arrays a = arrays_alloc(&p, rows, cols);
                    ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, &p, k, AQ_DT_F32, W, rows,
                                                             cols, h, "t", a.arr, NULL, &err),
                                     AQ_OK);
                    ck_assert_msg(
                        arrays_equal(&ref, &a), "%s act %d threads %d panel %d %s: result differs",
                        aq_qformat_get(p.format)->name, act, th, panels[pi], aq_kernels_name(k));
                    arrays_free(&a);
                }
        omp_set_num_threads(2);
        arrays_free(&ref);
        aq_gptq_hinv_free(hv);
    }
    free(W);
    free(H);
    free(h);
}
END_TEST

static Suite *gptq_ggml_suite(void) {
    Suite *s = suite_create("quant_gptq_ggml");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, identity_is_own_search, 0, N_IDS);
    tcase_add_loop_test(tc, emit_decodes_to_round, 0, N_IDS);
    tcase_add_loop_test(tc, beats_own_search, 0, N_IDS);
    tcase_add_loop_test(tc, threads_panels_kernels, 0, N_IDS);
    tcase_add_loop_test(tc, ldl_form_equals_u_form, 0, N_IDS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(gptq_ggml_suite());
}
