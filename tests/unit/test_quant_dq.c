/*
 * Unit tests of the double-quantized layout (include/aq/dq.h): round trip, bits/weight
 * accounting, thread-count invariance, quality against rtn at equal bits/weight, short rows
 * and error returns.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dq.h"
#include "aq/quant.h"
#include "aq/synth.h"

typedef struct {
    uint8_t *codes, *sub;
    uint16_t *super;
    float *wh;
} dq_out;

static dq_out dq_alloc(int64_t rows, int64_t cols, int bits) {
    dq_out o = {calloc((size_t)rows, aq_packed_row_bytes(cols, bits)),
                calloc((size_t)(rows * aq_dq_groups(cols)), 1),
                calloc((size_t)(rows * 2 * aq_dq_supers(cols)), sizeof(uint16_t)),
                calloc((size_t)(rows * cols), sizeof(float))};
    ck_assert(o.codes && o.sub && o.super && o.wh);
    return o;
}

static void dq_free(dq_out *o) {
    free(o->codes);
    free(o->sub);
    free(o->super);
    free(o->wh);
}

/* Round trip of one row: every weight within a group's step of its decode is not a given
 * (clipping), but the squared error is bounded by the rtn error of the same bits at g256
 * (a much coarser layout), and every decoded weight lies in [min_g, min_g + qmax scale_g]. */
START_TEST(round_trip_row) {
    const int bits = _i ? 4 : 2;
    enum { C = 1024 };
    float w[C];
    aq_synth_weights_f32(11, "dq-row", w, C, 0.02f);
    dq_out o = dq_alloc(1, C, bits);
    aq_err e = {0};
    ck_assert_int_eq(aq_dq_quantize_row(w, C, bits, NULL, o.codes, o.sub, o.super, &e), AQ_OK);
    aq_dq_dequantize_row(o.codes, o.sub, o.super, C, bits, o.wh);
    double e2 = 0.0, w2 = 0.0;
    for (int j = 0; j < C; ++j) {
        ck_assert(isfinite(o.wh[j]));
        e2 += ((double)w[j] - o.wh[j]) * ((double)w[j] - o.wh[j]);
        w2 += (double)w[j] * w[j];
    }
    const double sqnr = -10.0 * log10(e2 / w2);
    ck_assert_msg(sqnr > (bits == 2 ? 9.0 : 19.0), "bits %d: %.2f dB", bits, sqnr);
    /* The codes are the nearest ones for the stored parameters: re-encoding changes nothing. */
    for (int g = 0; g < C / 16; ++g) {
        const float d = aq_f16_to_f32(o.super[2 * (g / 16)]);
        const float dm = aq_f16_to_f32(o.super[2 * (g / 16) + 1]);
        const float s = d * (float)(o.sub[g] & 15), m = dm * (float)(o.sub[g] >> 4);
        uint8_t q[16], packed[8];
        aq_encode_group(w + 16 * g, 16, bits, s, m, q);
        aq_pack_codes(q, 16, bits, packed);
        ck_assert_mem_eq(packed, o.codes + g * 2 * bits, (size_t)(2 * bits));
    }
    dq_free(&o);
}
END_TEST

START_TEST(bits_per_weight) {
    ck_assert_int_eq(aq_dq_groups(256), 16);
    ck_assert_int_eq(aq_dq_groups(257), 17);
    ck_assert_int_eq(aq_dq_supers(256), 1);
    ck_assert_int_eq(aq_dq_supers(257), 2);
    ck_assert(fabs(aq_dq_bits_per_weight(3584, 2) - 2.625) < 1e-12);
    ck_assert(fabs(aq_dq_bits_per_weight(18944, 4) - 4.625) < 1e-12);
    /* 100 columns: 200 code bits + 7 sub bytes + one super-block (32 bits). */
    ck_assert(fabs(aq_dq_bits_per_weight(100, 2) - (200.0 + 56.0 + 32.0) / 100.0) < 1e-12);
    ck_assert(aq_dq_bits_per_weight(0, 2) == 0.0);
}
END_TEST

enum { TR = 23, TC = 1000 }; /* short last super-block (232) and group (8) */

static void run_tensor(const uint16_t *w, const float *h, int bits, int threads, dq_out *o,
                       aq_quant_metrics *m) {
    *o = dq_alloc(TR, TC, bits);
    omp_set_num_threads(threads);
    aq_err e = {0};
    ck_assert_int_eq(aq_dq_quantize_tensor(AQ_DT_BF16, w, TR, TC, bits, h, "inv", o->codes,
                                           o->sub, o->super, m, &e),
                     AQ_OK);
}

START_TEST(thread_count_invariance) {
    static uint16_t w[TR * TC];
    static float tmp[TR * TC], h[TC];
    const int bits = _i ? 4 : 2;
    aq_synth_weights_f32(5, "inv", tmp, TR * TC, 0.02f);
    for (int i = 0; i < TR * TC; ++i) w[i] = aq_f32_to_bf16(tmp[i]);
    for (int j = 0; j < TC; ++j) h[j] = 0.1f + (float)(j % 7);
    dq_out a, b;
    aq_quant_metrics ma, mb;
    run_tensor(w, h, bits, 1, &a, &ma);
    run_tensor(w, h, bits, 2, &b, &mb);
    ck_assert_mem_eq(a.codes, b.codes, TR * aq_packed_row_bytes(TC, bits));
    ck_assert_mem_eq(a.sub, b.sub, (size_t)(TR * aq_dq_groups(TC)));
    ck_assert_mem_eq(a.super, b.super, (size_t)(TR * 2 * aq_dq_supers(TC)) * 2);
    ck_assert_mem_eq(&ma, &mb, sizeof ma);
    /* The metrics match a recomputation from the row decoder (short tail included). */
    double e2 = 0.0, w2 = 0.0;
    for (int r = 0; r < TR; ++r) {
        float row[TC];
        for (int j = 0; j < TC; ++j) row[j] = aq_bf16_to_f32(w[r * TC + j]);
        aq_dq_dequantize_row(a.codes + r * aq_packed_row_bytes(TC, bits),
                             a.sub + r * aq_dq_groups(TC), a.super + r * 2 * aq_dq_supers(TC),
                             TC, bits, a.wh);
        for (int j = 0; j < TC; ++j) {
            e2 += ((double)row[j] - a.wh[j]) * ((double)row[j] - a.wh[j]);
            w2 += (double)row[j] * row[j];
        }
    }
    ck_assert(fabs(ma.rel_mse - e2 / w2) <= 1e-9 * (e2 / w2));
    dq_free(&a);
    dq_free(&b);
}
END_TEST

/* At 2.625 b/w dq beats plain rtn at 3 b/w (2-bit g32 f16) and mse at 2.5 b/w (g64) on
 * recipe groups, on average. */
START_TEST(better_than_rtn_equal_bits) {
    enum { R = 64, C = 512 };
    static float w[R * C];
    aq_synth_weights_f32(21, "dq-vs-rtn", w, R * C, 0.02f);
    dq_out o = dq_alloc(R, C, 2);
    aq_quant_metrics mdq, mrtn, mmse;
    aq_err e = {0};
    ck_assert_int_eq(aq_dq_quantize_tensor(AQ_DT_F32, w, R, C, 2, NULL, "t", o.codes, o.sub,
                                           o.super, &mdq, &e),
                     AQ_OK);
    uint8_t *codes = malloc((size_t)R * C);
    uint16_t *s = malloc(sizeof *s * R * C / 16), *m = malloc(sizeof *m * R * C / 16);
    ck_assert(codes && s && m);
    aq_quant_params p = {2, 32, AQ_METHOD_RTN, AQ_SCALE_F16};
    ck_assert_int_eq(aq_quantize_tensor(&p, AQ_DT_F32, w, R, C, NULL, "t", codes, s, m, &mrtn, &e),
                     AQ_OK);
    p = (aq_quant_params){2, 64, AQ_METHOD_MSE, AQ_SCALE_F16};
    ck_assert_int_eq(aq_quantize_tensor(&p, AQ_DT_F32, w, R, C, NULL, "t", codes, s, m, &mmse, &e),
                     AQ_OK);
    ck_assert_msg(mdq.sqnr_db > mrtn.sqnr_db + 3.0 && mdq.sqnr_db > mmse.sqnr_db + 1.5,
                  "dq %.2f rtn g32 %.2f mse g64 %.2f", mdq.sqnr_db, mrtn.sqnr_db, mmse.sqnr_db);
    free(codes);
    free(s);
    free(m);
    dq_free(&o);
}
END_TEST

/* Short rows: 1, 15, 16, 17, 255, 257 columns; a constant row is within float16 precision. */
START_TEST(short_rows) {
    static const int64_t cols[] = {1, 15, 16, 17, 255, 257};
    const int64_t c = cols[_i];
    float w[257], wh[257];
    aq_synth_weights_f32(3, "dq-short", w, (size_t)c, 0.02f);
    dq_out o = dq_alloc(1, c, 2);
    aq_err e = {0};
    ck_assert_int_eq(aq_dq_quantize_row(w, c, 2, NULL, o.codes, o.sub, o.super, &e), AQ_OK);
    aq_dq_dequantize_row(o.codes, o.sub, o.super, c, 2, wh);
    for (int64_t j = 0; j < c; ++j) ck_assert(fabsf(wh[j] - w[j]) < 0.2f);
    if (c == 1) ck_assert(fabsf(wh[0] - w[0]) <= 1e-3f * fabsf(w[0]) + 1e-6f);
    for (int64_t j = 0; j < c; ++j) w[j] = -0.5f;
    ck_assert_int_eq(aq_dq_quantize_row(w, c, 2, NULL, o.codes, o.sub, o.super, &e), AQ_OK);
    aq_dq_dequantize_row(o.codes, o.sub, o.super, c, 2, wh);
    /* Not exact: min = dmin * mc with a float16 dmin (relative error <= 2^-11). */
    for (int64_t j = 0; j < c; ++j) ck_assert(fabsf(wh[j] + 0.5f) <= 0.5f * 0x1p-11f);
    dq_free(&o);
}
END_TEST

START_TEST(errors) {
    float w[32] = {0};
    uint8_t codes[16], sub[2];
    uint16_t super[2];
    aq_err e = {0};
    ck_assert_int_eq(aq_dq_quantize_row(w, 32, 3, NULL, codes, sub, super, &e), AQ_E_CONFIG);
    w[7] = NAN;
    ck_assert_int_eq(aq_dq_quantize_row(w, 32, 2, NULL, codes, sub, super, &e), AQ_E_VALUE);
    ck_assert_int_eq(aq_dq_quantize_tensor(AQ_DT_F32, w, 1, 32, 2, NULL, "t", codes, sub,
                                           super, NULL, &e),
                     AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(e.msg, "[0, 7]"));
    w[7] = 1e9f;
    ck_assert_int_eq(aq_dq_quantize_row(w, 32, 2, NULL, codes, sub, super, &e), AQ_E_VALUE);
    aq_quant_metrics m;
    ck_assert_int_eq(aq_dq_quantize_tensor(AQ_DT_F32, NULL, 0, 0, 2, NULL, "t", NULL, NULL,
                                           NULL, &m, &e),
                     AQ_OK);
}
END_TEST

static Suite *dq_suite(void) {
    Suite *s = suite_create("quant_dq");
    TCase *tc = tcase_create("dq");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, round_trip_row, 0, 2);
    tcase_add_test(tc, bits_per_weight);
    tcase_add_loop_test(tc, thread_count_invariance, 0, 2);
    tcase_add_test(tc, better_than_rtn_equal_bits);
    tcase_add_loop_test(tc, short_rows, 0, 6);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(dq_suite());
}
