/*
 * Unit tests of ggml's legacy block formats (include/aq/ggml_legacy.h), scalar reference:
 * sizes and descriptors, refusal of bad lengths, the decode formulas on hand-built blocks,
 * round-trip quality, never worse than ggml's own rule per block, special blocks (zeros,
 * constants, huge outliers, values beyond fp16, denormals, zero importance), determinism and
 * row-split invariance, and importance lowering the importance-weighted error.
 * The ISA twins are compared in test_quant_ggml_simd.c; the decoders against gguf-py in
 * tests/integration/ggml_decode_check.py.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dtype.h"
#include "aq/ggml_legacy.h"
#include "aq/synth.h"
#include "aq_check.h"

#define QK AQ_GGML_LEGACY_QK
#define NF AQ_GGML_LEGACY_COUNT

static const aq_ggml_legacy_info *F(int f) {
    return aq_ggml_legacy_get((aq_ggml_legacy_fmt)f);
}

static int is_asym(int f) {
    return f == AQ_GGML_LEGACY_Q4_1 || f == AQ_GGML_LEGACY_Q5_1;
}

/* Magnitude of the lowest code (symmetric) or the top code (asymmetric). */
static int nmax_of(int f) {
    static const int n[NF] = {127, 8, 15, 16, 31};
    return n[f];
}

static double werr(const float *x, const float *y, const float *h, int64_t n) {
    double e = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        const double d = (double)x[j] - y[j];
        e += (h ? h[j] : 1.0) * d * d;
    }
    return e;
}

/* The error the encoder minimises without importance (docs/FORMAT.md "Error weights"):
 * weights sqrt(1 + x_j^2 / ms), ms the mean square of the block (computed here
 * independently, in double). */
static double uerr(const float *x, const float *y) {
    double ss = 0.0, e = 0.0;
    for (int j = 0; j < QK; ++j)
        ss += (double)x[j] * x[j];
    for (int j = 0; j < QK; ++j) {
        const double d = (double)x[j] - y[j];
        const double w = ss > 0.0 ? sqrt(1.0 + x[j] * (double)x[j] * QK / ss) : 1.0;
        e += w * d * d;
    }
    return e;
}

/* Encode with the reference and decode; asserts both succeed. */
static void round_trip(int f, const float *x, const float *h, int64_t n, float *y) {
    unsigned char *b = malloc(aq_ggml_legacy_row_bytes((aq_ggml_legacy_fmt)f, n) + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(F(f)->quantize_ref(x, h, n, b), 0);
    ck_assert_int_eq(F(f)->dequantize(b, n, y), 0);
    free(b);
}

/* ggml's reference rule for one block, decoded with nearest codes for the stored d / m
 * (what the encoder must never lose to). */
static void ggml_rule_block(int f, const float *x, float *y) {
    float amax = 0, max = 0, mn = x[0], mx = x[0];
    for (int j = 0; j < QK; ++j) {
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        mn = fminf(mn, x[j]);
        mx = fmaxf(mx, x[j]);
    }
    const int nm = nmax_of(f);
    if (is_asym(f)) {
        const float d = aq_f16_to_f32(aq_f32_to_f16((mx - mn) / (float)nm));
        const float m = aq_f16_to_f32(aq_f32_to_f16(mn));
        for (int j = 0; j < QK; ++j) {
            float l = d > 0 ? nearbyintf((x[j] - m) / d) : 0;
            l = fminf(fmaxf(l, 0), (float)nm);
            y[j] = l * d + m;
        }
    } else {
        const float d = aq_f16_to_f32(
            aq_f32_to_f16(f == AQ_GGML_LEGACY_Q8_0 ? amax / 127.0f : max / (float)-nm));
        for (int j = 0; j < QK; ++j) {
            float l = d != 0 ? nearbyintf(x[j] / d) : 0;
            l = fminf(fmaxf(l, (float)-nm), (float)(f == AQ_GGML_LEGACY_Q8_0 ? nm : nm - 1));
            y[j] = l * d;
        }
    }
}

START_TEST(descriptors) {
    static const int types[NF] = {8, 2, 3, 6, 7}, bytes[NF] = {34, 18, 20, 22, 24};
    static const char *names[NF] = {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1"};
    for (int f = 0; f < NF; ++f) {
        ck_assert_str_eq(F(f)->name, names[f]);
        ck_assert_int_eq(F(f)->ggml_type, types[f]);
        ck_assert_int_eq(F(f)->block_bytes, bytes[f]);
        ck_assert_int_eq(F(f)->block_weights, 32);
        ck_assert_uint_eq(aq_ggml_legacy_row_bytes((aq_ggml_legacy_fmt)f, 96), 3u * bytes[f]);
        ck_assert_uint_eq(aq_ggml_legacy_row_bytes((aq_ggml_legacy_fmt)f, 33), 0);
        ck_assert_ptr_nonnull(F(f)->quantize_avx2);
        ck_assert_ptr_nonnull(F(f)->quantize_avx512);
    }
    ck_assert_ptr_null(aq_ggml_legacy_get(AQ_GGML_LEGACY_COUNT));
    ck_assert_int_eq(aq_ggml_legacy_isa_supported(1), 1);
    ck_assert_int_eq(aq_ggml_legacy_isa_supported(0), 0);
    ck_assert_int_eq(aq_ggml_legacy_isa_supported(4), 0);
}
END_TEST

/* n % 32 != 0 or n < 0: -1 and not one byte written, by every encoder and decoder. */
START_TEST(bad_length_refused) {
    float x[64] = {0}, y[64];
    unsigned char b[128];
    const int64_t bad[] = {33, 31, 1, -32};
    for (int f = 0; f < NF; ++f) {
        const aq_ggml_quantize_row_fn q[3] = {F(f)->quantize_ref, F(f)->quantize_avx2,
                                              F(f)->quantize_avx512};
        for (int k = 0; k < 4; ++k) {
            memset(b, 0xA5, sizeof b);
            for (int i = 0; i < 3; ++i) {
                if (!aq_ggml_legacy_isa_supported(i + 1)) continue;
                ck_assert_int_eq(q[i](x, NULL, bad[k], b), -1);
            }
            for (size_t i = 0; i < sizeof b; ++i)
                ck_assert_uint_eq(b[i], 0xA5);
            for (int i = 0; i < 64; ++i)
                y[i] = 7.0f;
            ck_assert_int_eq(F(f)->dequantize(b, bad[k], y), -1);
            for (int i = 0; i < 64; ++i)
                ck_assert(y[i] == 7.0f);
        }
        ck_assert_int_eq(F(f)->quantize_ref(x, NULL, 0, b), 0); /* empty row: fine */
    }
}
END_TEST

/* Hand-built blocks decoded by the formulas of ggml-quants.c, written out independently. */
START_TEST(decode_hand_built) {
    unsigned char b[34];
    float y[32];
    const uint16_t d = aq_f32_to_f16(0.5f), m = aq_f32_to_f16(-1.25f);
    /* Q8_0: qs[j] = j - 16 */
    b[0] = d & 0xff, b[1] = d >> 8;
    for (int j = 0; j < 32; ++j)
        b[2 + j] = (unsigned char)(int8_t)(j - 16);
    aq_ggml_dequantize_row_q8_0(b, 32, y);
    for (int j = 0; j < 32; ++j)
        ck_assert(y[j] == (float)(j - 16) * 0.5f);
    /* Q4_0 / Q4_1: byte j = code j | code (j + 16) << 4 with code j = j % 16, code j+16 = 15 - j */
    for (int j = 0; j < 16; ++j)
        b[2 + j] = (unsigned char)(j | (15 - j) << 4);
    aq_ggml_dequantize_row_q4_0(b, 32, y);
    for (int j = 0; j < 16; ++j) {
        ck_assert(y[j] == (float)(j - 8) * 0.5f);
        ck_assert(y[j + 16] == (float)(15 - j - 8) * 0.5f);
    }
    b[2] = m & 0xff, b[3] = m >> 8;
    for (int j = 0; j < 16; ++j)
        b[4 + j] = (unsigned char)(j | (15 - j) << 4);
    aq_ggml_dequantize_row_q4_1(b, 32, y);
    for (int j = 0; j < 16; ++j) {
        ck_assert(y[j] == (float)j * 0.5f + -1.25f);
        ck_assert(y[j + 16] == (float)(15 - j) * 0.5f + -1.25f);
    }
    /* Q5_0 / Q5_1: qh = 0xA5C3_0F96: bit j is the 5th bit of code j */
    const uint32_t qh = 0xA5C30F96u;
    for (int i = 0; i < 4; ++i)
        b[2 + i] = (unsigned char)(qh >> (8 * i));
    for (int j = 0; j < 16; ++j)
        b[6 + j] = (unsigned char)(j | (15 - j) << 4);
    aq_ggml_dequantize_row_q5_0(b, 32, y);
    for (int j = 0; j < 32; ++j) {
        const int lo = j < 16 ? j : 15 - (j - 16), q = lo | (int)((qh >> j) & 1) << 4;
        ck_assert(y[j] == (float)(q - 16) * 0.5f);
    }
    b[2] = m & 0xff, b[3] = m >> 8;
    for (int i = 0; i < 4; ++i)
        b[4 + i] = (unsigned char)(qh >> (8 * i));
    for (int j = 0; j < 16; ++j)
        b[8 + j] = (unsigned char)(j | (15 - j) << 4);
    aq_ggml_dequantize_row_q5_1(b, 32, y);
    for (int j = 0; j < 32; ++j) {
        const int lo = j < 16 ? j : 15 - (j - 16), q = lo | (int)((qh >> j) & 1) << 4;
        ck_assert(y[j] == (float)q * 0.5f + -1.25f);
    }
}
END_TEST

/* Gaussian rows: SQNR above the format's floor, and every block's error (the weighted one the
 * encoder minimises) at most that of ggml's rule (1e-6 relative slack for the
 * reciprocal-multiply rounding of codes and the float weights). */
START_TEST(round_trip_quality) {
    static const double floor_db[NF] = {40.0, 17.0, 19.5, 23.0, 25.5};
    enum { N = 64 * QK };
    static float x[N], y[N], g[QK];
    aq_rng r;
    aq_rng_seed(&r, 7);
    for (int j = 0; j < N; ++j)
        x[j] = (float)aq_rng_normal(&r);
    for (int f = 0; f < NF; ++f) {
        round_trip(f, x, NULL, N, y);
        double ss = 0;
        for (int j = 0; j < N; ++j)
            ss += (double)x[j] * x[j];
        const double db = 10 * log10(ss / werr(x, y, NULL, N));
        ck_assert_msg(db > floor_db[f], "%s: %.2f dB", F(f)->name, db);
        for (int b = 0; b < N / QK; ++b) {
            ggml_rule_block(f, x + b * QK, g);
            const double ours = uerr(x + b * QK, y + b * QK);
            const double theirs = uerr(x + b * QK, g);
            ck_assert_msg(ours <= theirs * (1 + 1e-6), "%s block %d: %g > %g", F(f)->name, b, ours,
                          theirs);
        }
    }
}
END_TEST

/* All-zero, constant, tiny (denormal) and negative-zero blocks. */
START_TEST(special_blocks) {
    float x[4 * QK], y[4 * QK];
    for (int f = 0; f < NF; ++f) {
        for (int j = 0; j < QK; ++j) {
            x[j] = 0.0f;                                   /* zeros */
            x[QK + j] = 0.3f;                              /* constant */
            x[2 * QK + j] = (j % 3 - 1) * 1e-40f;          /* float denormals */
            x[3 * QK + j] = j % 2 ? -0.0f : -1.5f * 1e-7f; /* below / at fp16 subnormals */
        }
        round_trip(f, x, NULL, 4 * QK, y);
        for (int j = 0; j < QK; ++j) {
            ck_assert_msg(y[j] == 0.0f, "%s zero block -> %g", F(f)->name, y[j]);
            ck_assert_msg(fabsf(y[QK + j] - 0.3f) <= 0.3f * 0x1p-10f, "%s constant -> %.9g",
                          F(f)->name, y[QK + j]);
            ck_assert(isfinite(y[2 * QK + j]) && fabsf(y[2 * QK + j]) <= 1e-7f);
            ck_assert(isfinite(y[3 * QK + j]));
        }
        float g[QK];
        ggml_rule_block(f, x + 3 * QK, g);
        ck_assert(uerr(x + 3 * QK, y + 3 * QK) <= uerr(x + 3 * QK, g) * (1 + 1e-6));
    }
}
END_TEST

/* One huge outlier per block, and values beyond what fp16 parameters express: finite output,
 * the outlier kept to its relative step, never worse than ggml's rule. */
START_TEST(outliers_and_saturation) {
    float x[2 * QK], y[2 * QK], g[QK];
    aq_rng r;
    aq_rng_seed(&r, 11);
    for (int f = 0; f < NF; ++f) {
        for (int j = 0; j < QK; ++j)
            x[j] = 0.01f * (float)aq_rng_normal(&r);
        x[5] = 1000.0f;
        for (int j = 0; j < QK; ++j)
            x[QK + j] = (j % 2 ? 1 : -1) * 3e9f;
        round_trip(f, x, NULL, 2 * QK, y);
        for (int j = 0; j < 2 * QK; ++j)
            ck_assert_msg(isfinite(y[j]), "%s: y[%d]", F(f)->name, j);
        ck_assert_msg(fabsf(y[5] - 1000.0f) <= 1000.0f / (float)nmax_of(f), "%s: %g", F(f)->name,
                      y[5]);
        ggml_rule_block(f, x, g);
        ck_assert(uerr(x, y) <= uerr(x, g) * (1 + 1e-6));
        for (int j = QK; j < 2 * QK; ++j) /* saturated at the largest fp16 parameters */
            ck_assert(fabsf(y[j]) >= 60000.0f);
    }
}
END_TEST

/* Importance that sums to 0 over a block acts as NULL for that block; the output is a pure
 * function of the block (encoding a row in two calls gives the same bytes); repeatable. */
START_TEST(determinism_and_zero_importance) {
    enum { N = 8 * QK };
    static float x[N], h[N];
    static unsigned char a[N / QK * 34], b[N / QK * 34], c[N / QK * 34];
    aq_synth_weights_f32(3, "det", x, N, 0.02f);
    for (int j = 0; j < N; ++j)
        h[j] = j < 2 * QK ? 0.0f : 1.0f + (float)(j % 5);
    for (int f = 0; f < NF; ++f) {
        const size_t bb = (size_t)F(f)->block_bytes;
        ck_assert_int_eq(F(f)->quantize_ref(x, h, N, a), 0);
        ck_assert_int_eq(F(f)->quantize_ref(x, h, 3 * QK, b), 0);
        ck_assert_int_eq(F(f)->quantize_ref(x + 3 * QK, h + 3 * QK, N - 3 * QK, b + 3 * bb), 0);
        ck_assert_mem_eq(a, b, N / QK * bb);
        ck_assert_int_eq(F(f)->quantize_ref(x, h, N, b), 0);
        ck_assert_mem_eq(a, b, N / QK * bb);
        ck_assert_int_eq(F(f)->quantize_ref(x, NULL, 2 * QK, c), 0);
        ck_assert_mem_eq(a, c, 2 * bb); /* zero-importance blocks == uniform */
    }
}
END_TEST

/* Heavy-tailed rows with log-normal column importance: encoding with h gives a lower
 * h-weighted error than encoding without, pooled over the rows, for every format. */
START_TEST(importance_lowers_weighted_error) {
    enum { ROWS = 64, COLS = 512 };
    static float x[ROWS * COLS], h[COLS], y[COLS], y0[COLS];
    aq_synth_weights_f32(5, "imp", x, ROWS * COLS, 0.02f);
    aq_rng r;
    aq_rng_seed(&r, 5);
    for (int j = 0; j < COLS; ++j)
        h[j] = (float)exp(1.5 * aq_rng_normal(&r));
    for (int f = 0; f < NF; ++f) {
        double with = 0, without = 0;
        for (int i = 0; i < ROWS; ++i) {
            round_trip(f, x + i * COLS, h, COLS, y);
            round_trip(f, x + i * COLS, NULL, COLS, y0);
            with += werr(x + i * COLS, y, h, COLS);
            without += werr(x + i * COLS, y0, h, COLS);
        }
        ck_assert_msg(with < 0.97 * without, "%s: %g vs %g", F(f)->name, with, without);
    }
}
END_TEST

/* Q8_0 codes stay in [-127, 127] (ggml's range; some of its int8 dot products assume it),
 * even for blocks whose extreme is negative and heavy. */
START_TEST(q8_0_never_minus_128) {
    enum { N = 256 * QK };
    static float x[N];
    static unsigned char b[N / QK * AQ_GGML_Q8_0_BYTES];
    aq_synth_weights_f32(21, "q8", x, N, 1.0f);
    for (int j = 0; j < N; j += QK)
        x[j] = -fabsf(x[j]) * 40.0f;
    ck_assert_int_eq(aq_ggml_quantize_row_q8_0_ref(x, NULL, N, b), 0);
    for (int i = 0; i < N / QK; ++i)
        for (int j = 0; j < QK; ++j)
            ck_assert_int_ne(b[i * AQ_GGML_Q8_0_BYTES + 2 + j], 0x80);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quant_ggml_legacy");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, descriptors);
    tcase_add_test(tc, bad_length_refused);
    tcase_add_test(tc, decode_hand_built);
    tcase_add_test(tc, round_trip_quality);
    tcase_add_test(tc, special_blocks);
    tcase_add_test(tc, outliers_and_saturation);
    tcase_add_test(tc, determinism_and_zero_importance);
    tcase_add_test(tc, importance_lowers_weighted_error);
    tcase_add_test(tc, q8_0_never_minus_128);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
