/*
 * Unit tests: rtn parameters, the encoding rule (ties to even, clamping, storage rounding
 * before encoding), short last groups, row round trip and the tensor driver's errors.
 */
#include <check.h>

#include "aq_check.h"
#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/quant.h"

static float f16r(float v) {
    return aq_f16_to_f32(aq_f32_to_f16(v));
}

/* Element i of a scale/min array of either storage type. */
static float param_at(const void *a, int i, aq_scale_dtype d) {
    if (d == AQ_SCALE_F32) {
        float v;
        memcpy(&v, (const char *)a + 4 * i, 4);
        return v;
    }
    uint16_t b;
    memcpy(&b, (const char *)a + 2 * i, 2);
    return aq_f16_to_f32(b);
}

static float frand(float lo, float hi) {
    return lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
}

START_TEST(rtn_hand) {
    const float x[4] = {0, 1, 2, 3};
    const uint8_t want[4] = {0, 1, 2, 3};
    for (int d = AQ_SCALE_F16; d <= AQ_SCALE_F32; ++d) {
        float s, m;
        uint8_t q[4];
        aq_group_params_rtn(x, 4, 2, (aq_scale_dtype)d, &s, &m);
        ck_assert_float_eq(s, 1.0f);
        ck_assert_float_eq(m, 0.0f);
        aq_encode_group(x, 4, 2, s, m, q);
        ck_assert_mem_eq(q, want, 4);
    }
}
END_TEST

START_TEST(ties_to_even) {
    const float x[5] = {0, 0.5f, 1.5f, 2.5f, 3};
    const uint8_t want2[5] = {0, 0, 2, 2, 3};
    uint8_t q[8];
    aq_encode_group(x, 5, 2, 1.0f, 0.0f, q);
    ck_assert_mem_eq(q, want2, 5);
    const float y[6] = {0.5f, 1.5f, 2.5f, 3.5f, 14.5f, 15.5f};
    const uint8_t want4[6] = {0, 2, 2, 4, 14, 15};
    aq_encode_group(y, 6, 4, 1.0f, 0.0f, q);
    ck_assert_mem_eq(q, want4, 6);
    /* Clamping: below min -> 0, above the top of the grid -> qmax. */
    const float z[3] = {-7.0f, 1000.0f, 254.5f};
    const uint8_t want8[3] = {0, 255, 254};
    aq_encode_group(z, 3, 8, 1.0f, 0.0f, q);
    ck_assert_mem_eq(q, want8, 3);
}
END_TEST

/* The encoder equals clamp(nearbyintf((x - min) / scale)) on random and exact-half inputs. */
START_TEST(encode_matches_nearbyintf) {
    srand(42);
    for (int t = 0; t < 20000; ++t) {
        const int bits = 2 << (t % 3);
        const int qmax = (1 << bits) - 1;
        float x[16], s = frand(1e-4f, 2.0f), m = frand(-3.0f, 3.0f);
        uint8_t q[16];
        for (int j = 0; j < 16; ++j)
            x[j] = (j % 2) ? m + ((float)(rand() % (qmax + 3)) - 1.5f) * s
                           : frand(m - s, m + (float)(qmax + 1) * s);
        aq_encode_group(x, 16, bits, s, m, q);
        for (int j = 0; j < 16; ++j) {
            float r = nearbyintf((x[j] - m) / s);
            r = r < 0 ? 0 : (r > (float)qmax ? (float)qmax : r);
            ck_assert_uint_eq(q[j], (unsigned)r);
        }
    }
}
END_TEST

START_TEST(constant_group) {
    const float x[5] = {0.7f, 0.7f, 0.7f, 0.7f, 0.7f};
    float s, m, out[5];
    uint8_t q[5], codes[2];
    aq_group_params_rtn(x, 5, 2, AQ_SCALE_F16, &s, &m);
    ck_assert_float_eq(s, 0.0f);
    ck_assert_float_eq(m, f16r(0.7f));
    aq_encode_group(x, 5, 2, s, m, q);
    for (int j = 0; j < 5; ++j)
        ck_assert_uint_eq(q[j], 0);
    /* mse agrees on a constant group, and decoding gives the rounded value back. */
    aq_group_params_mse(x, NULL, 5, 2, AQ_SCALE_F16, &s, &m);
    ck_assert_float_eq(s, 0.0f);
    ck_assert_float_eq(m, f16r(0.7f));
    aq_quant_params p = {2, 16, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    uint16_t sc, mn;
    aq_quantize_row(&p, x, 5, NULL, codes, &sc, &mn);
    aq_dequantize_row(&p, codes, &sc, &mn, 5, out);
    for (int j = 0; j < 5; ++j)
        ck_assert_float_eq(out[j], f16r(0.7f));
    /* A scale below the smallest f16 subnormal rounds to 0: treated as constant. */
    const float tiny[2] = {0.0f, 1e-9f};
    aq_group_params_rtn(tiny, 2, 2, AQ_SCALE_F16, &s, &m);
    ck_assert_float_eq(s, 0.0f);
    ck_assert_float_eq(m, 0.0f);
}
END_TEST

/* max = 3 * (1 + 2^-12): the f32 scale 1 + 2^-12 rounds to 1.0 in f16, which moves
 * 1.5 / scale from 1.4996 (code 1) onto the tie 1.5 (code 2, even). */
START_TEST(f16_rounding_before_encoding) {
    const float x[3] = {0.0f, 1.5f, 3.000732421875f};
    aq_quant_params p = {2, 16, AQ_METHOD_RTN, AQ_SCALE_F32, 0, 0};
    uint8_t codes[1], q[3];
    float s32, m32;
    aq_quantize_row(&p, x, 3, NULL, codes, &s32, &m32);
    ck_assert_float_eq(s32, 1.000244140625f);
    aq_unpack_codes(codes, 3, 2, q);
    ck_assert_uint_eq(q[1], 1);

    uint16_t s16, m16;
    p.scale_dtype = AQ_SCALE_F16;
    aq_quantize_row(&p, x, 3, NULL, codes, &s16, &m16);
    ck_assert_uint_eq(s16, 0x3C00); /* 1.0 */
    aq_unpack_codes(codes, 3, 2, q);
    ck_assert_uint_eq(q[1], 2);
    ck_assert_uint_eq(q[2], 3);
}
END_TEST

/* cols 100 with group_size 64: a full group and a short one of 36. */
START_TEST(short_last_group) {
    enum { COLS = 100 };
    float w[COLS], sc[2], mn[2], out[COLS];
    uint8_t codes[50], q[COLS], want[64];
    srand(7);
    for (int j = 0; j < COLS; ++j)
        w[j] = frand(-1.0f, 1.0f);
    aq_quant_params p = {4, 64, AQ_METHOD_RTN, AQ_SCALE_F32, 0, 0};
    ck_assert_uint_eq(aq_packed_row_bytes(COLS, 4), 50);
    aq_quantize_row(&p, w, COLS, NULL, codes, sc, mn);
    aq_unpack_codes(codes, COLS, 4, q);
    for (int g = 0; g < 2; ++g) {
        int off = 64 * g, n = g ? 36 : 64;
        float s, m;
        aq_group_params_rtn(w + off, n, 4, AQ_SCALE_F32, &s, &m);
        ck_assert_float_eq(sc[g], s);
        ck_assert_float_eq(mn[g], m);
        aq_encode_group(w + off, n, 4, s, m, want);
        ck_assert_mem_eq(q + off, want, (size_t)n);
    }
    aq_dequantize_row(&p, codes, sc, mn, COLS, out);
    for (int j = 0; j < COLS; ++j) {
        float s = sc[j / 64];
        ck_assert(fabsf(w[j] - out[j]) <= 0.5f * s * (1.0f + 1e-5f));
    }
}
END_TEST

/* |w - w^| <= scale/2 for every value inside [min, min + qmax*scale]. */
START_TEST(roundtrip_bound) {
    enum { COLS = 300 };
    const int bits = 2 << (_i % 3);
    const aq_scale_dtype d = (_i / 3) % 2 ? AQ_SCALE_F32 : AQ_SCALE_F16;
    const aq_method meth = _i / 6 ? AQ_METHOD_MSE : AQ_METHOD_RTN;
    aq_quant_params p = {bits, 32, meth, d, 0, 0};
    float w[COLS], out[COLS];
    unsigned char sc[40], mn[40];
    uint8_t codes[COLS];
    srand(100 + _i);
    for (int rep = 0; rep < 50; ++rep) {
        for (int j = 0; j < COLS; ++j)
            w[j] = frand(-0.1f, 0.1f) * (rep % 5 + 1);
        aq_quantize_row(&p, w, COLS, NULL, codes, sc, mn);
        aq_dequantize_row(&p, codes, sc, mn, COLS, out);
        for (int j = 0; j < COLS; ++j) {
            int g = j / 32;
            float s = param_at(sc, g, d), m = param_at(mn, g, d);
            float top = m + (float)((1 << bits) - 1) * s;
            if (w[j] < m || w[j] > top) continue;
            ck_assert_msg(fabsf(w[j] - out[j]) <= 0.5f * s + 1e-6f * (fabsf(m) + fabsf(top)),
                          "bits %d j %d: w %g w^ %g scale %g", bits, j, w[j], out[j], s);
        }
    }
}
END_TEST

/* A 4 x 10 tensor with NaN at [2, 5], -Inf at [2, 7] and Inf at [3, 1]: [2, 5] is reported,
 * whatever the thread count and the source type. */
START_TEST(nonfinite_reported) {
    enum { R = 4, C = 10 };
    float w[R * C];
    uint16_t wb[R * C];
    for (int i = 0; i < R * C; ++i)
        w[i] = 0.01f * (float)(i % 7);
    w[2 * C + 5] = NAN;
    w[2 * C + 7] = -INFINITY;
    w[3 * C + 1] = INFINITY;
    for (int i = 0; i < R * C; ++i)
        wb[i] = aq_f32_to_bf16(w[i]);
    aq_quant_params p = {4, 16, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    uint8_t codes[R * C];
    uint16_t sc[R], mn[R];
    for (int threads = 1; threads <= 2; ++threads) {
        omp_set_num_threads(threads);
        aq_err e = {0};
        ck_assert_int_eq(
            aq_quantize_tensor(&p, AQ_DT_F32, w, R, C, NULL, "blk.0.q", codes, sc, mn, NULL, &e),
            AQ_E_VALUE);
        ck_assert_ptr_nonnull(strstr(e.msg, "[2, 5]"));
        ck_assert_ptr_nonnull(strstr(e.msg, "blk.0.q"));
        ck_assert_ptr_nonnull(strstr(e.msg, "non-finite"));
        aq_err_clear(&e);
        ck_assert_int_eq(
            aq_quantize_tensor(&p, AQ_DT_BF16, wb, R, C, NULL, "b", codes, sc, mn, NULL, &e),
            AQ_E_VALUE);
        ck_assert_ptr_nonnull(strstr(e.msg, "[2, 5]"));
    }
}
END_TEST

/* |weights| beyond the f16 range: min/scale overflow f16 -> error suggesting f32. */
START_TEST(f16_param_overflow) {
    enum { C = 16 };
    float w[C];
    for (int j = 0; j < C; ++j)
        w[j] = 70000.0f + (float)j;
    uint8_t codes[C];
    float sc[1], mn[1];
    aq_err e = {0};
    aq_quant_params p = {8, 16, AQ_METHOD_RTN, AQ_SCALE_F16, 0, 0};
    for (int m = 0; m < 2; ++m) {
        p.method = (aq_method)m;
        ck_assert_int_eq(
            aq_quantize_tensor(&p, AQ_DT_F32, w, 1, C, NULL, "big", codes, sc, mn, NULL, &e),
            AQ_E_VALUE);
        ck_assert_ptr_nonnull(strstr(e.msg, "scale_dtype=f32"));
        ck_assert_ptr_nonnull(strstr(e.msg, "big"));
    }
    p.scale_dtype = AQ_SCALE_F32;
    aq_quant_metrics met;
    ck_assert_int_eq(
        aq_quantize_tensor(&p, AQ_DT_F32, w, 1, C, NULL, "big", codes, sc, mn, &met, &e), AQ_OK);
    ck_assert(met.sqnr_db > 60.0);
}
END_TEST

/* A bf16 source gives the same result as its exact f32 widening. */
START_TEST(bf16_source_matches_f32) {
    enum { R = 5, C = 70 };
    uint16_t wb[R * C];
    float w[R * C];
    srand(3);
    for (int i = 0; i < R * C; ++i) {
        wb[i] = aq_f32_to_bf16(frand(-0.05f, 0.05f));
        w[i] = aq_bf16_to_f32(wb[i]);
    }
    aq_quant_params p = {2, 32, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    uint8_t c1[R * 18], c2[R * 18];
    uint16_t s1[R * 3], s2[R * 3], m1[R * 3], m2[R * 3];
    aq_quant_metrics q1, q2;
    aq_err e = {0};
    ck_assert_int_eq(aq_quantize_tensor(&p, AQ_DT_BF16, wb, R, C, NULL, "t", c1, s1, m1, &q1, &e),
                     AQ_OK);
    ck_assert_int_eq(aq_quantize_tensor(&p, AQ_DT_F32, w, R, C, NULL, "t", c2, s2, m2, &q2, &e),
                     AQ_OK);
    ck_assert_mem_eq(c1, c2, sizeof c1);
    ck_assert_mem_eq(s1, s2, sizeof s1);
    ck_assert_mem_eq(m1, m2, sizeof m1);
    ck_assert_mem_eq(&q1, &q2, sizeof q1);
}
END_TEST

START_TEST(bad_arguments) {
    float w[16] = {0}, h[16], sc[1], mn[1];
    uint8_t codes[16];
    aq_err e = {0};
    aq_quant_params p = {3, 16, AQ_METHOD_RTN, AQ_SCALE_F32, 0, 0};
    ck_assert_int_eq(
        aq_quantize_tensor(&p, AQ_DT_F32, w, 1, 16, NULL, "t", codes, sc, mn, NULL, &e),
        AQ_E_CONFIG);
    p.bits = 8;
    for (int j = 0; j < 16; ++j)
        h[j] = 1.0f;
    h[4] = -1.0f;
    ck_assert_int_eq(aq_quantize_tensor(&p, AQ_DT_F32, w, 1, 16, h, "t", codes, sc, mn, NULL, &e),
                     AQ_E_VALUE);
    ck_assert_ptr_nonnull(strstr(e.msg, "h[4]"));
    /* All-zero tensor: exact, metrics by the header's conventions. */
    aq_quant_metrics m;
    ck_assert_int_eq(aq_quantize_tensor(&p, AQ_DT_F32, w, 1, 16, NULL, "z", codes, sc, mn, &m, &e),
                     AQ_OK);
    ck_assert(m.rel_mse == 0.0 && isinf(m.sqnr_db) && m.sqnr_db > 0);
    ck_assert(m.cosine == 1.0 && m.weighted_rel_err == 0.0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quant_rtn");
    TCase *tc = tcase_create("rtn");
    tcase_add_test(tc, rtn_hand);
    tcase_add_test(tc, ties_to_even);
    tcase_add_test(tc, encode_matches_nearbyintf);
    tcase_add_test(tc, constant_group);
    tcase_add_test(tc, f16_rounding_before_encoding);
    tcase_add_test(tc, short_last_group);
    tcase_add_loop_test(tc, roundtrip_bound, 0, 12);
    tcase_add_test(tc, nonfinite_reported);
    tcase_add_test(tc, f16_param_overflow);
    tcase_add_test(tc, bf16_source_matches_f32);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
