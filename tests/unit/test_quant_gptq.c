/*
 * Unit tests of GPTQ (include/aq/gptq.h) for every format of the table that has GPTQ
 * operations (f16, f32, dq):
 *   - H = identity: U is diagonal, no error is propagated, and every parameter block is
 *     fitted from its unchanged weights, so GPTQ must store exactly what the format's own
 *     tensor driver stores (bit for bit, tails and importance included);
 *   - correlated inputs X ~ N(0, Sigma) (AR(1) channels with log-normal scales): the output
 *     error tr((W - Q) H (W - Q)^T) of GPTQ is below the format's own search (with the same
 *     importance diag H) at 2/3/4 bits, natural order and act-order;
 *   - bit-identical arrays for 1 and 2 OpenMP threads, panel sizes 1/3/32/96/200 and every
 *     kernel set the CPU has; the update kernel's twins against the reference;
 *   - row blocks (aq_gptq_quantize_rows) give the whole tensor's bytes and metrics;
 *   - act-order changes the result and is deterministic;
 *   - dead columns, and every error return (not PD after damping, non-finite, negative
 *     diagonal, wrong size, bad options).
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

/* Formats and widths exercised: plain f16 rtn/mse, f32 mse, dq at 2/3/4 (default layouts). */
static const aq_quant_params k_params[] = {
    {2, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0}, {4, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0},
    {2, 64, AQ_METHOD_RTN, AQ_SCALE_F16, 0, 0}, {4, 128, AQ_METHOD_MSE, AQ_SCALE_F32, 0, 0},
    {8, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0}, {2, 16, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0},
    {3, 32, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0},  {4, 32, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0},
};
#define N_PARAMS ((int)(sizeof k_params / sizeof k_params[0]))

static const char *pname(const aq_quant_params *p, char *buf, size_t n) {
    snprintf(buf, n, "%s %d-bit G%d %s", aq_scale_dtype_name(p->scale_dtype), p->bits,
             p->group_size, aq_method_name(p->method));
    return buf;
}

/*-*********************************************
 *  H = identity: the format's own quantization
 ***********************************************/

START_TEST(identity_is_own_search) {
    const aq_quant_params *p = &k_params[_i];
    /* 600 columns: a short last group (plain) and a short last super-block (dq) */
    const int64_t rows = 7, cols = 600;
    float *W = make_weights(rows, cols, 11 + (uint64_t)_i);
    float *H = identity(cols);
    float *h = malloc((size_t)cols * sizeof *h);
    uint64_t s = 5;
    for (int64_t j = 0; j < cols; ++j)
        h[j] = (float)(0.1 + rng_unif(&s));
    for (int with_h = 0; with_h < 2; ++with_h) {
        const float *hh = with_h ? h : NULL;
        arrays own = arrays_alloc(p, rows, cols), gq = arrays_alloc(p, rows, cols);
        aq_err err = {0};
        aq_quant_metrics m1, m2;
        ck_assert_int_eq(aq_qformat_quantize_tensor(p, NULL, AQ_DT_F32, W, rows, cols, hh, "t",
                                                    own.arr, &m1, &err),
                         AQ_OK);
        aq_gptq_opts o = aq_gptq_opts_default();
        o.block = 48; /* not a multiple of the group: rounded up inside */
        ck_assert_msg(aq_gptq_quantize(H, &o, p, NULL, W, rows, cols, hh, "t", gq.arr, &m2, &err) ==
                          AQ_OK,
                      "%s", err.msg);
        char b[64];
        ck_assert_msg(arrays_equal(&own, &gq), "%s, h %d: GPTQ with H = I differs from the format",
                      pname(p, b, sizeof b), with_h);
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
 *  Correlated inputs: GPTQ below the format's own search
 ***********************************************/

START_TEST(beats_own_search) {
    const aq_quant_params *p = &k_params[_i];
    if (p->bits == 8) return; /* 8-bit: both near exact; nothing meaningful to compare */
    const int64_t rows = 24, cols = 512;
    float *W = make_weights(rows, cols, 101 + (uint64_t)_i);
    float *H = make_hessian(cols, 2048, 0.9, 7);
    float *h = diag_of(H, cols);
    arrays own = arrays_alloc(p, rows, cols), gq = arrays_alloc(p, rows, cols),
           ga = arrays_alloc(p, rows, cols);
    aq_err err = {0};
    ck_assert_int_eq(
        aq_qformat_quantize_tensor(p, NULL, AQ_DT_F32, W, rows, cols, h, "t", own.arr, NULL, &err),
        AQ_OK);
    aq_gptq_opts o = aq_gptq_opts_default();
    ck_assert_msg(aq_gptq_quantize(H, &o, p, NULL, W, rows, cols, h, "t", gq.arr, NULL, &err) ==
                      AQ_OK,
                  "%s", err.msg);
    o.act_order = 1;
    ck_assert_msg(aq_gptq_quantize(H, &o, p, NULL, W, rows, cols, h, "t", ga.arr, NULL, &err) ==
                      AQ_OK,
                  "%s", err.msg);
    const double e_own = output_error(p, &own, W, H, rows, cols);
    const double e_g = output_error(p, &gq, W, H, rows, cols);
    const double e_a = output_error(p, &ga, W, H, rows, cols);
    char b[64];
    printf("gptq %-22s tr((W-Q)H(W-Q)^T): own %.4e  gptq %.4e (%.3fx)  act-order %.4e (%.3fx)\n",
           pname(p, b, sizeof b), e_own, e_g, e_g / e_own, e_a, e_a / e_own);
    ck_assert_msg(e_g < e_own, "%s: GPTQ %g not below the own search %g", b, e_g, e_own);
    ck_assert_msg(e_a < e_own, "%s: GPTQ act-order %g not below the own search %g", b, e_a, e_own);
    arrays_free(&own);
    arrays_free(&gq);
    arrays_free(&ga);
    free(W);
    free(H);
    free(h);
}
END_TEST

/*-*********************************************
 *  Determinism
 ***********************************************/

START_TEST(threads_panels_kernels) {
    const aq_quant_params *p = &k_params[_i];
    const int64_t rows = 37, cols = 320;
    float *W = make_weights(rows, cols, 3 + (uint64_t)_i);
    float *H = make_hessian(cols, 700, 0.8, 9);
    float *h = diag_of(H, cols);
    for (int act = 0; act < 2; ++act) {
        aq_gptq_opts o = aq_gptq_opts_default();
        o.act_order = act;
        o.block = 64;
        aq_gptq_hinv *hv = NULL;
        aq_err err = {0};
        ck_assert_int_eq(aq_gptq_hinv_create(H, cols, &o, "t", &hv, &err), AQ_OK);
        arrays ref = arrays_alloc(p, rows, cols);
        aq_quant_metrics m0, m;
        omp_set_num_threads(1);
        o.panel = 1;
        ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, p, aq_kernels_select(AQ_SIMD_SCALAR),
                                                 AQ_DT_F32, W, rows, cols, h, "t", ref.arr, &m0,
                                                 &err),
                         AQ_OK);
        const int panels[] = {1, 3, 32, 96, 200};
        for (int th = 1; th <= 2; ++th)
            for (int pi = 0; pi < 5; ++pi)
                for (int simd = AQ_SIMD_SCALAR; simd < AQ_SIMD_N; ++simd) {
                    const aq_kernels *k = aq_kernels_select(simd);
                    if (!k) continue; /* this CPU lacks the set: covered where it has it */
                    omp_set_num_threads(th);
                    o.panel = panels[pi];
                    arrays a = arrays_alloc(p, rows, cols);
                    ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, p, k, AQ_DT_F32, W, rows, cols,
                                                             h, "t", a.arr, &m, &err),
                                     AQ_OK);
                    ck_assert_msg(arrays_equal(&ref, &a),
                                  "act %d threads %d panel %d %s: result differs", act, th,
                                  panels[pi], aq_kernels_name(k));
                    ck_assert(memcmp(&m0, &m, sizeof m) == 0);
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

/* One row alone gives the same bytes as the same row inside a tensor. */
START_TEST(row_alone_equals_row_in_panel) {
    const aq_quant_params p = {4, 32, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0};
    const int64_t rows = 9, cols = 256;
    float *W = make_weights(rows, cols, 77);
    float *H = make_hessian(cols, 600, 0.85, 2);
    aq_gptq_opts o = aq_gptq_opts_default();
    o.panel = 9;
    arrays all = arrays_alloc(&p, rows, cols);
    aq_err err = {0};
    ck_assert_int_eq(
        aq_gptq_quantize(H, &o, &p, NULL, W, rows, cols, NULL, "t", all.arr, NULL, &err), AQ_OK);
    for (int64_t r = 0; r < rows; ++r) {
        arrays one = arrays_alloc(&p, 1, cols);
        ck_assert_int_eq(aq_gptq_quantize(H, &o, &p, NULL, W + r * cols, 1, cols, NULL, "t",
                                          one.arr, NULL, &err),
                         AQ_OK);
        for (int i = 0; i < one.n; ++i)
            ck_assert(memcmp(one.arr[i], (unsigned char *)all.arr[i] + (size_t)r * one.bytes[i],
                             one.bytes[i]) == 0);
        arrays_free(&one);
    }
    arrays_free(&all);
    free(W);
    free(H);
}
END_TEST

/* Row blocks (row-sharding, aq_gptq_quantize_rows): concatenated arrays equal the whole
 * tensor's bytes and the metrics from the blocks' row sums equal the whole tensor's bits;
 * rows in error messages are the tensor's. */
/* A factorization sent to another rank (meta record + U) quantizes exactly as the original;
 * damaged records are refused. */
START_TEST(meta_roundtrip) {
    const aq_quant_params *p = &k_params[0];
    const int64_t rows = 9, cols = 96;
    float *W = make_weights(rows, cols, 77);
    float *H = make_hessian(cols, 300, 0.7, 5);
    H[10 * cols + 10] = 0.0f; /* one dead column */
    float *h = diag_of(H, cols);
    aq_gptq_opts o = aq_gptq_opts_default();
    o.act_order = 1;
    aq_gptq_hinv *hv = NULL, *copy = NULL;
    aq_err err = {0};
    ck_assert_int_eq(aq_gptq_hinv_create(H, cols, &o, "t", &hv, &err), AQ_OK);
    const size_t nb = aq_gptq_hinv_meta_bytes(cols);
    unsigned char *rec = malloc(nb);
    ck_assert_ptr_nonnull(rec);
    aq_gptq_hinv_meta_pack(hv, rec);
    ck_assert_int_eq(aq_gptq_hinv_meta_unpack(rec, nb, "t", &copy, &err), AQ_OK);
    memcpy(aq_gptq_hinv_u_mut(copy), aq_gptq_hinv_u(hv), (size_t)(cols * cols) * sizeof(float));
    ck_assert_int_eq(aq_gptq_hinv_cols(copy), cols);
    ck_assert_int_eq(aq_gptq_hinv_dead(copy), aq_gptq_hinv_dead(hv));
    ck_assert(aq_gptq_hinv_lambda(copy) == aq_gptq_hinv_lambda(hv));
    ck_assert(memcmp(aq_gptq_hinv_perm(copy), aq_gptq_hinv_perm(hv), (size_t)cols * 8) == 0);
    arrays a = arrays_alloc(p, rows, cols), b = arrays_alloc(p, rows, cols);
    aq_quant_metrics ma, mb;
    ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, p, NULL, AQ_DT_F32, W, rows, cols, h, "t",
                                             a.arr, &ma, &err),
                     AQ_OK);
    ck_assert_int_eq(aq_gptq_quantize_tensor(copy, &o, p, NULL, AQ_DT_F32, W, rows, cols, h, "t",
                                             b.arr, &mb, &err),
                     AQ_OK);
    for (int i = 0; i < a.n; ++i)
        ck_assert(memcmp(a.arr[i], b.arr[i], a.bytes[i]) == 0);
    ck_assert(memcmp(&ma, &mb, sizeof ma) == 0);
    aq_gptq_hinv *bad = NULL;
    ck_assert_int_eq(aq_gptq_hinv_meta_unpack(rec, nb - 1, "x", &bad, &err), AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "x: factorization record of"));
    int64_t twice = 3;
    memcpy(rec + 32 + 8, &twice, 8); /* perm[1] = perm[0]? make two entries equal */
    memcpy(rec + 32, &twice, 8);
    ck_assert_int_eq(aq_gptq_hinv_meta_unpack(rec, nb, "x", &bad, &err), AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a permutation"));
    ck_assert_ptr_null(bad);
    arrays_free(&a);
    arrays_free(&b);
    aq_gptq_hinv_free(hv);
    aq_gptq_hinv_free(copy);
    free(rec);
    free(W);
    free(H);
    free(h);
}
END_TEST

START_TEST(row_blocks_equal_whole) {
    const aq_quant_params *p = &k_params[_i];
    const int64_t rows = 23, cols = 256, cut[] = {0, 5, 6, 16, 23};
    float *W = make_weights(rows, cols, 31 + (uint64_t)_i);
    float *H = make_hessian(cols, 500, 0.8, 4);
    float *h = diag_of(H, cols);
    aq_gptq_opts o = aq_gptq_opts_default();
    o.act_order = _i % 2;
    aq_gptq_hinv *hv = NULL;
    aq_err err = {0};
    ck_assert_int_eq(aq_gptq_hinv_create(H, cols, &o, "t", &hv, &err), AQ_OK);
    arrays all = arrays_alloc(p, rows, cols);
    aq_quant_metrics m0, m;
    ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, p, NULL, AQ_DT_F32, W, rows, cols, h, "t",
                                             all.arr, &m0, &err),
                     AQ_OK);
    double *sums = malloc((size_t)rows * AQ_QF_ROW_SUMS * sizeof *sums);
    ck_assert_ptr_nonnull(sums);
    for (int b = 0; b < 4; ++b) {
        const int64_t r0 = cut[b], n = cut[b + 1] - cut[b];
        arrays blk = arrays_alloc(p, n, cols);
        ck_assert_int_eq(aq_gptq_quantize_rows(hv, &o, p, NULL, AQ_DT_F32, W, rows, r0, r0 + n,
                                               cols, h, "t", blk.arr, sums + r0 * AQ_QF_ROW_SUMS,
                                               &err),
                         AQ_OK);
        for (int i = 0; i < blk.n; ++i)
            ck_assert_msg(
                memcmp(blk.arr[i], (unsigned char *)all.arr[i] + (size_t)r0 * (blk.bytes[i] / n),
                       blk.bytes[i]) == 0,
                "rows [%lld, %lld) array %d differ", (long long)r0, (long long)(r0 + n), i);
        arrays_free(&blk);
    }
    aq_qf_metrics_from_row_sums(sums, rows, &m);
    ck_assert(memcmp(&m0, &m, sizeof m) == 0);
    /* a bad range, and a non-finite weight reported at its tensor row */
    arrays one = arrays_alloc(p, 1, cols);
    ck_assert_int_eq(aq_gptq_quantize_rows(hv, &o, p, NULL, AQ_DT_F32, W, rows, 20, 24, cols, h,
                                           "t", one.arr, NULL, &err),
                     AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "rows [20, 24) outside [0, 23)"));
    W[17 * cols + 3] = NAN;
    ck_assert_int_eq(aq_gptq_quantize_rows(hv, &o, p, NULL, AQ_DT_F32, W, rows, 17, 18, cols, h,
                                           "t", one.arr, NULL, &err),
                     AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(err.msg, "at [17, 3]"));
    arrays_free(&one);
    arrays_free(&all);
    aq_gptq_hinv_free(hv);
    free(sums);
    free(W);
    free(H);
    free(h);
}
END_TEST

/* One shape: every kernel set, with aq_gptq_update() and with an unaligned caller workspace,
 * against the definition written out (E rows at stride lde > K, U and W at ld > ncols). */
static void update_case(int R, int K, int64_t n, uint64_t seed) {
    uint64_t s = seed;
    const int64_t lde = K + 3, ld = n + 5;
    float *E = malloc((size_t)R * (size_t)lde * sizeof *E);
    float *U = malloc((size_t)K * (size_t)ld * sizeof *U);
    float *W0 = malloc((size_t)R * (size_t)ld * sizeof *W0);
    float *W1 = malloc((size_t)R * (size_t)ld * sizeof *W1);
    float *ref = malloc((size_t)R * (size_t)ld * sizeof *ref);
    float *ws = malloc((aq_gptq_update_ws_floats(R) + 1) * sizeof *ws);
    ck_assert(E && U && W0 && W1 && ref && ws);
    for (int64_t i = 0; i < R * lde; ++i)
        E[i] = (float)rng_gauss(&s);
    for (int64_t i = 0; i < K * ld; ++i)
        U[i] = (float)rng_gauss(&s);
    for (int64_t i = 0; i < R * ld; ++i)
        W0[i] = (float)rng_gauss(&s);
    memcpy(ref, W0, (size_t)R * (size_t)ld * sizeof *ref);
    /* the definition, literally (columns n..ld-1 untouched) */
    for (int r = 0; r < R; ++r)
        for (int64_t j = 0; j < n; ++j)
            for (int k = 0; k < K; ++k)
                ref[r * ld + j] = fmaf(-E[r * lde + k], U[k * ld + j], ref[r * ld + j]);
    int tested = 0;
    for (int simd = AQ_SIMD_SCALAR; simd < AQ_SIMD_N; ++simd) {
        const aq_kernels *k = aq_kernels_select(simd);
        if (!k) continue;
        for (int way = 0; way < 3; ++way) {
            memcpy(W1, W0, (size_t)R * (size_t)ld * sizeof *W1);
            if (way == 0)
                aq_gptq_update(k, R, K, n, E, lde, U, ld, W1, ld);
            else /* an unaligned workspace; none */
                aq_gptq_update_ws(k, R, K, n, E, lde, U, ld, W1, ld, way == 1 ? ws + 1 : NULL);
            ck_assert_msg(memcmp(W1, ref, (size_t)R * (size_t)ld * sizeof *W1) == 0,
                          "%s R %d K %d n %lld way %d", aq_kernels_name(k), R, K, (long long)n,
                          way);
        }
        ++tested;
    }
    ck_assert_int_ge(tested, 1);
    free(E);
    free(U);
    free(W0);
    free(W1);
    free(ref);
    free(ws);
}

START_TEST(update_twins) {
    /* every blocking edge of the twins: K = 1 and below the packed path's minimum, K over one
     * packed chunk (128) and not a multiple of it, rows not a multiple of the 4- and 6-row
     * tiles, columns below one 16-strip, not a multiple of 16, over one 256-column panel */
    static const struct {
        int R, K;
        int64_t n;
    } c[] = {{7, 13, 77},   {1, 1, 5},      {3, 1, 40},     {5, 3, 17},
             {6, 4, 16},    {32, 128, 600}, {13, 300, 530}, {32, 129, 257},
             {11, 128, 15}, {4, 256, 512},  {2, 7, 1},      {37, 16, 300}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; ++i)
        update_case(c[i].R, c[i].K, c[i].n, 99 + i);
}
END_TEST

/* The LDL form (default) against the U form of the paper: the same algorithm in exact
 * arithmetic, so the same codes except near rounding ties, and the same output error. */
START_TEST(ldl_form_equals_u_form) {
    const aq_quant_params *p = &k_params[_i];
    const int64_t rows = 24, cols = 512;
    float *W = make_weights(rows, cols, 301 + (uint64_t)_i);
    float *H = make_hessian(cols, 2048, 0.9, 9);
    float *h = diag_of(H, cols);
    float *qu = malloc((size_t)(rows * cols) * sizeof *qu),
          *ql = malloc((size_t)(rows * cols) * sizeof *ql);
    ck_assert(qu && ql);
    char b[64];
    for (int act = 0; act < 2; ++act) {
        arrays au = arrays_alloc(p, rows, cols), al = arrays_alloc(p, rows, cols);
        aq_err err = {0};
        aq_gptq_opts o = aq_gptq_opts_default();
        ck_assert_int_eq(o.form, AQ_GPTQ_FORM_LDL);
        o.act_order = act;
        o.block = 64;
        ck_assert_msg(aq_gptq_quantize(H, &o, p, NULL, W, rows, cols, h, "t", al.arr, NULL, &err) ==
                          AQ_OK,
                      "%s", err.msg);
        o.form = AQ_GPTQ_FORM_U;
        ck_assert_msg(aq_gptq_quantize(H, &o, p, NULL, W, rows, cols, h, "t", au.arr, NULL, &err) ==
                          AQ_OK,
                      "%s", err.msg);
        aq_qformat_dequantize_rows(p, (const void *const *)au.arr, rows, cols, qu);
        aq_qformat_dequantize_rows(p, (const void *const *)al.arr, rows, cols, ql);
        int64_t same = 0;
        double dsum = 0.0, qsum = 0.0;
        for (int64_t i = 0; i < rows * cols; ++i) {
            same += qu[i] == ql[i];
            dsum += fabs((double)qu[i] - (double)ql[i]);
            qsum += fabs((double)qu[i]);
        }
        const double eu = output_error(p, &au, W, H, rows, cols),
                     el = output_error(p, &al, W, H, rows, cols);
        const double fs = (double)same / (double)(rows * cols), rd = dsum / qsum;
        printf("gptq %-22s act %d: LDL vs U form: %.4f of weights equal, mean |dq| / mean |q| "
               "%.1e, output error %.4e vs %.4e (%.4fx)\n",
               pname(p, b, sizeof b), act, fs, rd, el, eu, el / eu);
        fflush(stdout);
        /* equal codes can dequantize differently when a fitted f32 scale differs in its
         * last bits: the dequantized rows are compared by their mean difference */
        ck_assert_msg(rd < 0.02, "%s act %d: mean |dq| / mean |q| = %g", b, act, rd);
        /* one flipped rounding changes the rest of its row (GPTQ propagates it): 3 % */
        ck_assert_msg(fabs(el / eu - 1.0) < 0.03, "%s act %d: output error %g vs %g", b, act, el,
                      eu);
        arrays_free(&au);
        arrays_free(&al);
    }
    free(qu);
    free(ql);
    free(W);
    free(H);
    free(h);
}
END_TEST

START_TEST(act_order_changes_and_repeats) {
    const aq_quant_params p = {4, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    const int64_t rows = 16, cols = 256;
    float *W = make_weights(rows, cols, 5);
    float *H = make_hessian(cols, 800, 0.9, 4);
    aq_gptq_opts o = aq_gptq_opts_default();
    arrays nat = arrays_alloc(&p, rows, cols), a1 = arrays_alloc(&p, rows, cols),
           a2 = arrays_alloc(&p, rows, cols);
    aq_err err = {0};
    ck_assert_int_eq(
        aq_gptq_quantize(H, &o, &p, NULL, W, rows, cols, NULL, "t", nat.arr, NULL, &err), AQ_OK);
    o.act_order = 1;
    ck_assert_int_eq(
        aq_gptq_quantize(H, &o, &p, NULL, W, rows, cols, NULL, "t", a1.arr, NULL, &err), AQ_OK);
    ck_assert_int_eq(
        aq_gptq_quantize(H, &o, &p, NULL, W, rows, cols, NULL, "t", a2.arr, NULL, &err), AQ_OK);
    ck_assert(!arrays_equal(&nat, &a1));
    ck_assert(arrays_equal(&a1, &a2));
    /* the order really is descending diag H */
    aq_gptq_hinv *hv = NULL;
    ck_assert_int_eq(aq_gptq_hinv_create(H, cols, &o, "t", &hv, &err), AQ_OK);
    const int64_t *perm = aq_gptq_hinv_perm(hv);
    for (int64_t i = 1; i < cols; ++i)
        ck_assert(H[perm[i - 1] * cols + perm[i - 1]] >= H[perm[i] * cols + perm[i]]);
    aq_gptq_hinv_free(hv);
    arrays_free(&nat);
    arrays_free(&a1);
    arrays_free(&a2);
    free(W);
    free(H);
}
END_TEST

/* U^T U = (H + lambda I)^-1, i.e. (U^T U)(H + lambda I) = I, on a small case. */
START_TEST(u_is_inverse_cholesky) {
    const int64_t n = 40;
    float *H = make_hessian(n, 200, 0.7, 8);
    aq_gptq_opts o = aq_gptq_opts_default();
    o.form = AQ_GPTQ_FORM_U;
    aq_gptq_hinv *hv = NULL;
    aq_err err = {0};
    ck_assert_int_eq(aq_gptq_hinv_create(H, n, &o, "t", &hv, &err), AQ_OK);
    const float *U = aq_gptq_hinv_u(hv);
    const double lam = aq_gptq_hinv_lambda(hv);
    double mean = 0.0;
    for (int64_t j = 0; j < n; ++j)
        mean += H[j * n + j] / (double)n;
    ck_assert(fabs(lam - 0.01 * mean) <= 1e-9 * mean);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < i; ++j)
            ck_assert(U[i * n + j] == 0.0f);
    double maxdev = 0.0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double s = 0.0; /* ((U^T U) Hd)[i, j] */
            for (int64_t k = 0; k < n; ++k) {
                double hinv = 0.0;
                for (int64_t m = 0; m <= (i < k ? i : k); ++m)
                    hinv += (double)U[m * n + i] * (double)U[m * n + k];
                s += hinv * ((double)H[k * n + j] + (k == j ? lam : 0.0));
            }
            const double dev = fabs(s - (i == j ? 1.0 : 0.0));
            maxdev = dev > maxdev ? dev : maxdev;
        }
    ck_assert_msg(maxdev < 1e-3, "max |U^T U Hd - I| = %g", maxdev);
    /* form LDL: M = I + A, Hd = V V^T with V = M S (S diagonal) = U^-1, so U M = S^-1 is
     * diagonal */
    o.form = AQ_GPTQ_FORM_LDL;
    aq_gptq_hinv *hl = NULL;
    ck_assert_int_eq(aq_gptq_hinv_create(H, n, &o, "t", &hl, &err), AQ_OK);
    ck_assert_int_eq(aq_gptq_hinv_form(hl), AQ_GPTQ_FORM_LDL);
    const float *M = aq_gptq_hinv_u(hl);
    double offmax = 0.0, dmin = INFINITY;
    for (int64_t i = 0; i < n; ++i) {
        ck_assert(M[i * n + i] == 1.0f);
        for (int64_t j = 0; j < n; ++j) {
            if (j < i) ck_assert(M[i * n + j] == 0.0f);
            double s = 0.0;
            for (int64_t k = i; k <= j; ++k)
                s += (double)U[i * n + k] * (double)M[k * n + j];
            if (i == j)
                dmin = fabs(s) < dmin ? fabs(s) : dmin;
            else
                offmax = fabs(s) > offmax ? fabs(s) : offmax;
        }
    }
    ck_assert_msg(offmax < 1e-4 * dmin, "U (I + A) not diagonal: off %g, diagonal >= %g", offmax,
                  dmin);
    aq_gptq_hinv_free(hl);
    aq_gptq_hinv_free(hv);
    free(H);
}
END_TEST

START_TEST(dead_columns) {
    const aq_quant_params p = {4, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    const int64_t rows = 4, cols = 64;
    float *W = make_weights(rows, cols, 21);
    float *H = make_hessian(cols, 300, 0.5, 6);
    for (int64_t j = 0; j < cols; ++j) { /* column 10 never active */
        H[10 * cols + j] = 0.0f;
        H[j * cols + 10] = 0.0f;
    }
    aq_gptq_opts o = aq_gptq_opts_default();
    aq_gptq_hinv *hv = NULL;
    aq_err err = {0};
    ck_assert_int_eq(aq_gptq_hinv_create(H, cols, &o, "t", &hv, &err), AQ_OK);
    ck_assert_int_eq(aq_gptq_hinv_dead(hv), 1);
    arrays a = arrays_alloc(&p, rows, cols);
    ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, &p, NULL, AQ_DT_F32, W, rows, cols, NULL, "t",
                                             a.arr, NULL, &err),
                     AQ_OK);
    /* the dead weight was zeroed before quantization: it decodes to the group's value
     * nearest 0, within half a step */
    float q[64];
    aq_qformat_dequantize_rows(&p, (const void *const *)a.arr, 1, cols, q);
    const float scale = aq_f16_to_f32(((const uint16_t *)a.arr[1])[0]);
    ck_assert(fabsf(q[10]) <= 0.5f * scale + 1e-6f);
    arrays_free(&a);
    aq_gptq_hinv_free(hv);
    free(W);
    free(H);
}
END_TEST

START_TEST(errors) {
    aq_gptq_opts o = aq_gptq_opts_default();
    aq_gptq_hinv *hv = NULL;
    aq_err err = {0};
    /* indefinite: eigenvalues 3 and -1, damping 1 % of the mean diagonal cannot fix it */
    float H2[4] = {1.0f, 2.0f, 2.0f, 1.0f};
    ck_assert_int_eq(aq_gptq_hinv_create(H2, 2, &o, "blk.0.q", &hv, &err), AQ_E_VALUE);
    ck_assert_ptr_null(hv);
    ck_assert_msg(strstr(err.msg, "blk.0.q") && strstr(err.msg, "not positive definite"), "%s",
                  err.msg);
    float Hn[4] = {1.0f, NAN, NAN, 1.0f};
    ck_assert_int_eq(aq_gptq_hinv_create(Hn, 2, &o, "x", &hv, &err), AQ_E_VALUE);
    ck_assert_msg(strstr(err.msg, "non-finite") && strstr(err.msg, "[0, 1]"), "%s", err.msg);
    float Hd[4] = {1.0f, 0.0f, 0.0f, -2.0f};
    ck_assert_int_eq(aq_gptq_hinv_create(Hd, 2, &o, "x", &hv, &err), AQ_E_VALUE);
    ck_assert_msg(strstr(err.msg, "negative diagonal"), "%s", err.msg);
    ck_assert_int_eq(aq_gptq_hinv_create(Hd, 0, &o, "x", &hv, &err), AQ_E_VALUE);
    aq_gptq_opts bad = o;
    bad.damp = 0.0;
    ck_assert_int_eq(aq_gptq_hinv_create(H2, 2, &bad, "x", &hv, &err), AQ_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "gptq_damp"), "%s", err.msg);
    bad = o;
    bad.block = 0;
    ck_assert_int_eq(aq_gptq_opts_check(&bad, &err), AQ_E_CONFIG);
    bad = o;
    bad.act_order = 2;
    ck_assert_int_eq(aq_gptq_opts_check(&bad, &err), AQ_E_CONFIG);

    /* wrong size, non-finite weight (lowest flat index), bad h */
    float *H = identity(64);
    ck_assert_int_eq(aq_gptq_hinv_create(H, 64, &o, "t", &hv, &err), AQ_OK);
    const aq_quant_params p = {4, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    arrays a = arrays_alloc(&p, 3, 64);
    float *W = make_weights(3, 64, 1);
    ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, &p, NULL, AQ_DT_F32, W, 3, 32, NULL, "w",
                                             a.arr, NULL, &err),
                     AQ_E_VALUE);
    ck_assert_msg(strstr(err.msg, "Hessian is 64 x 64"), "%s", err.msg);
    W[2 * 64 + 5] = INFINITY;
    W[1 * 64 + 40] = NAN;
    ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, &p, NULL, AQ_DT_F32, W, 3, 64, NULL, "w",
                                             a.arr, NULL, &err),
                     AQ_E_VALUE);
    ck_assert_msg(strstr(err.msg, "tensor w: non-finite weight") && strstr(err.msg, "[1, 40]"),
                  "%s", err.msg);
    W[1 * 64 + 40] = 0.0f;
    W[2 * 64 + 5] = 0.0f;
    float h[64];
    for (int j = 0; j < 64; ++j)
        h[j] = 1.0f;
    h[7] = -1.0f;
    ck_assert_int_eq(
        aq_gptq_quantize_tensor(hv, &o, &p, NULL, AQ_DT_F32, W, 3, 64, h, "w", a.arr, NULL, &err),
        AQ_E_VALUE);
    ck_assert_msg(strstr(err.msg, "h[7]"), "%s", err.msg);
    /* overflow of f16 parameters is reported like the format's driver */
    W[0] = 1e6f;
    ck_assert_int_eq(aq_gptq_quantize_tensor(hv, &o, &p, NULL, AQ_DT_F32, W, 3, 64, NULL, "w",
                                             a.arr, NULL, &err),
                     AQ_E_VALUE);
    ck_assert_msg(strstr(err.msg, "row 0, group 0"), "%s", err.msg);
    arrays_free(&a);
    aq_gptq_hinv_free(hv);
    free(W);
    free(H);
}
END_TEST

static Suite *gptq_suite(void) {
    Suite *s = suite_create("quant_gptq");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, identity_is_own_search, 0, N_PARAMS);
    tcase_add_loop_test(tc, beats_own_search, 0, N_PARAMS);
    tcase_add_loop_test(tc, threads_panels_kernels, 0, N_PARAMS);
    tcase_add_test(tc, row_alone_equals_row_in_panel);
    tcase_add_loop_test(tc, row_blocks_equal_whole, 0, N_PARAMS);
    tcase_add_test(tc, meta_roundtrip);
    tcase_add_test(tc, update_twins);
    tcase_add_loop_test(tc, ldl_form_equals_u_form, 0, N_PARAMS);
    tcase_add_test(tc, act_order_changes_and_repeats);
    tcase_add_test(tc, u_is_inverse_cholesky);
    tcase_add_test(tc, dead_columns);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(gptq_suite());
}
