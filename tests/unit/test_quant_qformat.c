/*
 * aq-mpi — the quantization-format table (include/aq/qformat.h): rows of each scale dtype,
 * their arrays and attributes, the attribute round trip the reader relies on, and the one
 * order of error checks of the tensor driver.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aq/dq.h"
#include "aq/ggml_kquants.h"
#include "aq/ggml_legacy.h"
#include "aq/qformat.h"

START_TEST(rows_and_arrays) {
    aq_quant_params p = {4, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    ck_assert_str_eq(aq_qformat_of(&p)->name, "f16");
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    ck_assert_int_eq(aq_qformat_arrays(&p, 100, a), 3);
    ck_assert_str_eq(a[0].name, "codes");
    ck_assert_int_eq(a[0].row_elems, 50);
    ck_assert_int_eq(a[1].row_elems, 4);
    ck_assert(a[1].elem == AQ_ELEM_F16 && a[2].elem == AQ_ELEM_F16);
    ck_assert_uint_eq(aq_qformat_tensor_bytes(&p, 3, 100), 3 * (50 + 8 + 8));
    p.scale_dtype = AQ_SCALE_F32;
    ck_assert_str_eq(aq_qformat_of(&p)->name, "f32");
    ck_assert_uint_eq(aq_qformat_tensor_bytes(&p, 3, 100), 3 * (50 + 16 + 16));
    p = (aq_quant_params){3, 32, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0};
    const aq_qformat *f = aq_qformat_of(&p);
    ck_assert_str_eq(f->name, "dq");
    ck_assert_int_eq(aq_qformat_arrays(&p, 300, a), 4);
    const aq_dq_layout L = aq_quant_dq_layout(&p);
    ck_assert_int_eq(a[1].row_elems, (int64_t)aq_dq_sub_row_bytes(300, &L));
    ck_assert_int_eq(a[2].row_elems, aq_dq_supers(300));
    char buf[32];
    ck_assert_str_eq(aq_qformat_widths_text(f, "/", buf, sizeof buf), "2/3/4/8");
    ck_assert_str_eq(aq_qformat_widths_text(f, NULL, buf, sizeof buf), "2, 3, 4 and 8");
    ck_assert_ptr_null(aq_qformat_get(0));
    ck_assert_ptr_null(aq_qformat_get(AQ_QFMT_N));
    p.scale_dtype = (aq_scale_dtype)7;
    ck_assert_ptr_null(aq_qformat_of(&p));
    aq_err e = {0};
    ck_assert_int_eq(aq_quant_params_check(&p, &e), AQ_E_CONFIG);
    aq_simd s;
    ck_assert_int_eq(aq_simd_parse("avx2", &s), 0);
    ck_assert_int_eq(s, AQ_SIMD_AVX2);
    ck_assert_int_eq(aq_simd_parse("sse", &s), -1);
    ck_assert_ptr_null(aq_simd_names[AQ_SIMD_N]);
}
END_TEST

/* A fake attribute store: what aq_qformat_attrs() wrote. */
typedef struct {
    aq_qattr a[AQ_QF_MAX_ATTRS];
    int n;
} attr_store;

static int store_str(void *ctx, const char *name, char *buf, size_t size) {
    const attr_store *s = ctx;
    for (int i = 0; i < s->n; ++i)
        if (!strcmp(s->a[i].name, name) && s->a[i].str) {
            snprintf(buf, size, "%s", s->a[i].str);
            return 0;
        }
    return -1;
}

static int store_num(void *ctx, const char *name, int32_t *v) {
    const attr_store *s = ctx;
    for (int i = 0; i < s->n; ++i)
        if (!strcmp(s->a[i].name, name) && !s->a[i].str) {
            *v = s->a[i].num;
            return 0;
        }
    return -1;
}

START_TEST(attrs_round_trip) {
    const aq_quant_params ps[] = {{2, 16, AQ_METHOD_RTN, AQ_SCALE_F16, 0, 0},
                                  {8, 128, AQ_METHOD_MSE, AQ_SCALE_F32, 0, 0},
                                  {3, 32, AQ_METHOD_MSE, AQ_SCALE_DQ, 5, 0},
                                  {2, 16, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0}};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; ++i) {
        attr_store s;
        s.n = aq_qformat_attrs(&ps[i], s.a);
        const aq_qattr_source src = {&s, store_str, store_num};
        const aq_qformat *f = NULL;
        aq_quant_params q;
        aq_err e = {0};
        ck_assert_msg(aq_qformat_read_params(&src, &f, &q, &e) == AQ_OK, "%s", e.msg);
        ck_assert_ptr_eq(f, aq_qformat_of(&ps[i]));
        ck_assert_int_eq(q.bits, ps[i].bits);
        ck_assert_int_eq(q.group_size, ps[i].group_size);
        ck_assert_int_eq(q.method, ps[i].method);
        ck_assert_int_eq(q.scale_dtype, ps[i].scale_dtype);
        /* dq_bits 0 is written as the default it stands for */
        if (ps[i].scale_dtype == AQ_SCALE_DQ)
            ck_assert_int_eq(q.dq_bits, aq_quant_dq_layout(&ps[i]).sub_bits);
    }
    attr_store s = {.n = 1, .a = {{"scale_dtype", "q9", 0}}};
    const aq_qattr_source src = {&s, store_str, store_num};
    const aq_qformat *f = NULL;
    aq_quant_params q;
    aq_err e = {0};
    ck_assert_int_eq(aq_qformat_read_params(&src, &f, &q, &e), AQ_E_FORMAT);
    s = (attr_store){.n = 2, .a = {{"scale_dtype", "f16", 0}, {"bits", NULL, 5}}};
    ck_assert_int_eq(aq_qformat_read_params(&src, &f, &q, &e), AQ_E_FORMAT);
}
END_TEST

/* One order of error checks for every format: a non-finite weight anywhere is reported
 * before a parameter overflow in an earlier row (dq reported the overflow before). */
START_TEST(driver_error_order) {
    static float w[2 * 256];
    static uint8_t codes[2 * 256], sub[2 * 64];
    static uint16_t d[2], dmin[2];
    static uint16_t sc[2 * 16], mn[2 * 16];
    w[5] = 1e9f;      /* row 0: scale overflows float16 */
    w[256 + 9] = NAN; /* row 1: non-finite */
    aq_err e = {0};
    const aq_quant_params pd = {2, 16, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0};
    void *const ad[AQ_QF_MAX_ARRAYS] = {codes, sub, d, dmin};
    ck_assert_int_eq(
        aq_qformat_quantize_tensor(&pd, NULL, AQ_DT_F32, w, 2, 256, NULL, "t", ad, NULL, &e),
        AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(e.msg, "[1, 9]"));
    const aq_quant_params pf = {2, 16, AQ_METHOD_RTN, AQ_SCALE_F16, 0, 0};
    void *const af[AQ_QF_MAX_ARRAYS] = {codes, sc, mn, NULL};
    ck_assert_int_eq(
        aq_qformat_quantize_tensor(&pf, NULL, AQ_DT_F32, w, 2, 256, NULL, "t", af, NULL, &e),
        AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(e.msg, "[1, 9]"));
    w[256 + 9] = 0.0f;
    ck_assert_int_eq(
        aq_qformat_quantize_tensor(&pd, NULL, AQ_DT_F32, w, 2, 256, NULL, "t", ad, NULL, &e),
        AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(e.msg, "row 0, super-block at column 0"));
    ck_assert_int_eq(
        aq_qformat_quantize_tensor(&pf, NULL, AQ_DT_F32, w, 2, 256, NULL, "t", af, NULL, &e),
        AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(e.msg, "row 0, group 0"));
}
END_TEST

/* ggml's block formats as rows: names, arrays, attributes round trip, the llama-quantize
 * fallback, and the driver giving the kernel's own bytes for every kernel set. */
START_TEST(block_rows) {
    static const struct {
        int id;
        const char *name;
        int bits, elems, bytes, fallback_128;
    } R[] = {{AQ_QFMT_Q8_0, "q8_0", 8, 32, 34, AQ_QFMT_Q8_0},
             {AQ_QFMT_Q4_0, "q4_0", 4, 32, 18, AQ_QFMT_Q4_0},
             {AQ_QFMT_Q4_1, "q4_1", 4, 32, 20, AQ_QFMT_Q4_1},
             {AQ_QFMT_Q5_0, "q5_0", 5, 32, 22, AQ_QFMT_Q5_0},
             {AQ_QFMT_Q5_1, "q5_1", 5, 32, 24, AQ_QFMT_Q5_1},
             {AQ_QFMT_Q2_K, "q2_k", 2, 256, 84, AQ_QFMT_Q4_0},
             {AQ_QFMT_Q3_K, "q3_k", 3, 256, 110, AQ_QFMT_Q4_0},
             {AQ_QFMT_Q4_K, "q4_k", 4, 256, 144, AQ_QFMT_Q5_0},
             {AQ_QFMT_Q5_K, "q5_k", 5, 256, 176, AQ_QFMT_Q5_1},
             {AQ_QFMT_Q6_K, "q6_k", 6, 256, 210, AQ_QFMT_Q8_0}};
    enum { ROWS = 3, COLS = 512 };
    static float w[ROWS * COLS], h[COLS], back[COLS];
    static uint8_t ref[2 * ROWS * COLS], got[2 * ROWS * COLS]; /* <= 8.5 bits per weight */
    uint32_t x = 12345;
    for (int i = 0; i < ROWS * COLS; ++i) {
        x = x * 1664525u + 1013904223u;
        w[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * (i % 7 == 0 ? 3.0f : 1.0f);
    }
    for (int j = 0; j < COLS; ++j)
        h[j] = 0.5f + (float)(j % 13);
    ck_assert_int_eq(aq_qformat_by_name("q9_k"), 0);
    ck_assert_int_eq(aq_qformat_by_name("f16"), 0); /* plain rows are not quant.format values */
    int chain[AQ_QF_MAX_CANDIDATES];
    ck_assert_int_eq(aq_qformat_budget_candidates(AQ_QFMT_Q2_K, 512, chain), 6);
    ck_assert_int_eq(chain[1], AQ_QFMT_Q3_K);
    ck_assert_int_eq(chain[4], AQ_QFMT_Q6_K);
    ck_assert_int_eq(aq_qformat_budget_candidates(AQ_QFMT_Q2_K, 128, chain), 5);
    ck_assert_int_eq(chain[0], AQ_QFMT_Q4_0);
    ck_assert_int_eq(chain[3], AQ_QFMT_Q5_1);
    ck_assert_int_eq(aq_qformat_budget_candidates(AQ_QFMT_Q4_K, 512, chain), 4);
    ck_assert_int_eq(aq_qformat_budget_candidates(AQ_QFMT_Q8_0, 512, chain), 1);
    ck_assert_int_eq(aq_qformat_budget_candidates(AQ_QFMT_F16, 512, chain), 0);
    for (size_t i = 0; i < sizeof R / sizeof R[0]; ++i) {
        ck_assert_int_eq(aq_qformat_by_name(R[i].name), R[i].id);
        aq_quant_params p = {4, 64, AQ_METHOD_MSE, AQ_SCALE_F16, 0, R[i].id};
        const aq_qformat *f = aq_qformat_of(&p);
        ck_assert_ptr_eq(f, aq_qformat_get(R[i].id));
        ck_assert_str_eq(f->name, R[i].name);
        ck_assert_int_eq(f->row_multiple, R[i].elems);
        ck_assert_int_eq((int)f->blocks->block_bytes, R[i].bytes);
        aq_err e = {0};
        ck_assert_int_eq(aq_quant_params_check(&p, &e), AQ_OK);
        aq_qarray a[AQ_QF_MAX_ARRAYS];
        ck_assert_int_eq(aq_qformat_arrays(&p, COLS, a), 1);
        ck_assert_str_eq(a[0].name, "blocks");
        ck_assert_int_eq(a[0].row_elems, COLS / R[i].elems * R[i].bytes);
        /* attributes: format, bits (nominal), block_size; read back to the same row */
        attr_store s;
        s.n = aq_qformat_attrs(&p, s.a);
        const aq_qattr_source src = {&s, store_str, store_num};
        const aq_qformat *g = NULL;
        aq_quant_params q;
        ck_assert_msg(aq_qformat_read_params(&src, &g, &q, &e) == AQ_OK, "%s", e.msg);
        ck_assert_ptr_eq(g, f);
        ck_assert_int_eq(q.format, R[i].id);
        ck_assert_int_eq(q.bits, R[i].bits);
        /* llama-quantize's fallback for 128-wide rows; none for 100-wide ones */
        ck_assert_int_eq(aq_qformat_fallback(R[i].id, 512), R[i].id);
        ck_assert_int_eq(aq_qformat_fallback(R[i].id, 128), R[i].fallback_128);
        ck_assert_int_eq(aq_qformat_fallback(R[i].id, 100), 0);
        /* budget candidates (quant.budget_bits): start at the fallback, end at Q8_0 */
        int c[AQ_QF_MAX_CANDIDATES];
        for (int k = 0; k < 2; ++k) {
            const int64_t cols = k ? 128 : 512;
            int n = aq_qformat_budget_candidates(R[i].id, cols, c);
            ck_assert(n >= 1 && n <= AQ_QF_MAX_CANDIDATES);
            ck_assert_int_eq(c[0], aq_qformat_fallback(R[i].id, cols));
            ck_assert_int_eq(c[n - 1], AQ_QFMT_Q8_0);
            for (int m = 1; m < n; ++m) { /* strictly larger, every one fits the rows */
                aq_quant_params p0 = {.format = c[m - 1]}, p1 = {.format = c[m]};
                ck_assert_int_eq(aq_qformat_fallback(c[m], cols), c[m]);
                ck_assert_uint_lt(aq_qformat_tensor_bytes(&p0, 1, cols),
                                  aq_qformat_tensor_bytes(&p1, 1, cols));
            }
        }
        ck_assert_int_eq(aq_qformat_budget_candidates(R[i].id, 100, c), 0);
        /* the driver stores the scalar kernel's bytes, for every available kernel set */
        for (int r = 0; r < ROWS; ++r)
            f->blocks->quantize[AQ_SIMD_SCALAR](w + r * COLS, h, COLS, ref + r * a[0].row_elems);
        for (int simd = AQ_SIMD_SCALAR; simd < AQ_SIMD_N; ++simd) {
            const aq_kernels *k = aq_kernels_select(simd);
            if (!k) continue;
            memset(got, 0xA5, sizeof got);
            void *const arr[AQ_QF_MAX_ARRAYS] = {got, NULL, NULL, NULL};
            aq_quant_metrics m;
            ck_assert_msg(aq_qformat_quantize_tensor(&p, k, AQ_DT_F32, w, ROWS, COLS, h, "t", arr,
                                                     &m, &e) == AQ_OK,
                          "%s", e.msg);
            ck_assert_msg(!memcmp(got, ref, (size_t)(ROWS * a[0].row_elems)), "%s simd %d",
                          R[i].name, simd);
            ck_assert_msg(m.sqnr_db > 4.0 * R[i].bits && m.cosine > 0.9, "%s: SQNR %.2f dB",
                          R[i].name, m.sqnr_db);
        }
        /* decoded through the table = the format's own decoder */
        const void *const arr1[AQ_QF_MAX_ARRAYS] = {ref, NULL, NULL, NULL};
        aq_qformat_dequantize_rows(&p, arr1, 1, COLS, back);
        static float direct[COLS];
        f->blocks->dequantize(ref, COLS, direct);
        ck_assert(!memcmp(back, direct, sizeof back));
        /* rows the block does not fit are refused by the driver */
        void *const arr[AQ_QF_MAX_ARRAYS] = {got, NULL, NULL, NULL};
        ck_assert_int_ne(aq_qformat_quantize_tensor(&p, NULL, AQ_DT_F32, w, 1, R[i].elems + 16,
                                                    NULL, "t", arr, NULL, &e),
                         AQ_OK);
    }
    aq_quant_params bad = {4, 64, AQ_METHOD_MSE, AQ_SCALE_F16, 0, AQ_QFMT_F32};
    aq_err e = {0};
    ck_assert_ptr_null(aq_qformat_of(&bad)); /* format names a block row only */
    ck_assert_int_eq(aq_quant_params_check(&bad, &e), AQ_E_CONFIG);
}
END_TEST

/* Row ranges (row-sharding): blocks quantized separately give the whole tensor's arrays
 * byte for byte, and the metrics from their row sums equal the whole driver's bit for bit,
 * for each format (f16, f32, dq, ggml's q4_k and q5_1), with importance. */
START_TEST(row_ranges_match_whole) {
    enum { R = 37, C = 512 };
    static float w[R * C], h[C];
    for (int i = 0; i < R * C; ++i)
        w[i] = sinf(0.37f * (float)i) * (1.0f + (float)(i % 13));
    for (int j = 0; j < C; ++j)
        h[j] = 0.5f + (float)(j % 7);
    const aq_quant_params ps[5] = {{2, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0},
                                   {4, 64, AQ_METHOD_RTN, AQ_SCALE_F32, 0, 0},
                                   {2, 16, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0},
                                   {4, 64, AQ_METHOD_MSE, AQ_SCALE_F16, 0, AQ_QFMT_Q4_K},
                                   {4, 64, AQ_METHOD_MSE, AQ_SCALE_F16, 0, AQ_QFMT_Q5_1}};
    const int64_t cut[4] = {0, 8, 24, R};
    for (int f = 0; f < 5; ++f) {
        aq_qarray a[AQ_QF_MAX_ARRAYS];
        const int n = aq_qformat_arrays(&ps[f], C, a);
        void *whole[AQ_QF_MAX_ARRAYS] = {NULL}, *part[AQ_QF_MAX_ARRAYS] = {NULL};
        size_t rb[AQ_QF_MAX_ARRAYS];
        for (int i = 0; i < n; ++i) {
            rb[i] = (size_t)a[i].row_elems * aq_elem_size(a[i].elem);
            whole[i] = calloc(R, rb[i]);
            part[i] = calloc(R, rb[i]);
        }
        aq_err e = {0};
        aq_quant_metrics mw, mp;
        ck_assert(aq_qformat_quantize_tensor(&ps[f], NULL, AQ_DT_F32, w, R, C, h, "t", whole, &mw,
                                             &e) == AQ_OK);
        double sums[R * AQ_QF_ROW_SUMS];
        for (int b = 0; b < 3; ++b) {
            void *at[AQ_QF_MAX_ARRAYS] = {NULL};
            for (int i = 0; i < n; ++i)
                at[i] = (char *)part[i] + (size_t)cut[b] * rb[i];
            ck_assert_msg(aq_qformat_quantize_rows(&ps[f], NULL, AQ_DT_F32, w, R, cut[b],
                                                   cut[b + 1], C, h, "t", at,
                                                   sums + cut[b] * AQ_QF_ROW_SUMS, &e) == AQ_OK,
                          "%s", e.msg);
        }
        aq_qf_metrics_from_row_sums(sums, R, &mp);
        for (int i = 0; i < n; ++i) {
            ck_assert(memcmp(whole[i], part[i], R * rb[i]) == 0);
            free(whole[i]);
            free(part[i]);
        }
        ck_assert(memcmp(&mw, &mp, sizeof mw) == 0);
    }
    aq_err e = {0};
    ck_assert_int_eq(aq_qformat_quantize_rows(&ps[0], NULL, AQ_DT_F32, w, R, 5, R + 1, C, NULL, "t",
                                              (void *const[4]){w, w, w, NULL}, NULL, &e),
                     AQ_E_VALUE);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quant_qformat");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, rows_and_arrays);
    tcase_add_test(tc, attrs_round_trip);
    tcase_add_test(tc, driver_error_order);
    tcase_add_test(tc, block_rows);
    tcase_add_test(tc, row_ranges_match_whole);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
