/*
 * Unit tests: aq/dtype.h conversions, exhaustively over 16-bit patterns and against
 * independent ldexp/rint references.
 */
#include <check.h>

#include "aq_check.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dtype.h"
#include "aq/synth.h"

/* Check reports every assertion through a pipe; only failures need to reach it here. */
#define FAST_ASSERT(c, ...)                                                                        \
    do {                                                                                           \
        if (!(c)) ck_abort_msg(__VA_ARGS__);                                                       \
    } while (0)

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Reference decodings from the bit fields, independent of the implementation's shifts. */
static double f16_ref(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 31 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static double bf16_ref(uint16_t h) {
    int e = (h >> 7) & 255, m = h & 127;
    double v = e == 255 ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -133) : ldexp(128 + m, e - 134);
    return (h & 0x8000) ? -v : v;
}

static int is_f16_nan(uint16_t h) {
    return (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
}

static int is_bf16_nan(uint16_t h) {
    return (h & 0x7f80) == 0x7f80 && (h & 0x7f);
}

START_TEST(test_sizes_names) {
    aq_dtype d;
    ck_assert_uint_eq(aq_dtype_size(AQ_DT_F32), 4);
    ck_assert_uint_eq(aq_dtype_size(AQ_DT_F16), 2);
    ck_assert_uint_eq(aq_dtype_size(AQ_DT_BF16), 2);
    const aq_dtype all[] = {AQ_DT_F32, AQ_DT_F16, AQ_DT_BF16};
    for (int i = 0; i < 3; ++i) {
        ck_assert_int_eq(aq_dtype_parse(aq_dtype_name(all[i]), &d), 0);
        ck_assert_int_eq(d, all[i]);
    }
    ck_assert_int_eq(aq_dtype_parse("I64", &d), -1);
    ck_assert_int_eq(aq_dtype_parse("f32", &d), -1);
    ck_assert_int_eq(aq_dtype_parse("", &d), -1);
}
END_TEST

START_TEST(test_bf16_all_patterns) {
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = aq_bf16_to_f32((uint16_t)h);
        double r = bf16_ref((uint16_t)h);
        if (isnan(r)) {
            FAST_ASSERT(isnan(f), "failed: isnan(f)");
            FAST_ASSERT(is_bf16_nan(aq_f32_to_bf16(f)), "failed: is_bf16_nan(aq_f32_to_bf16(f))");
            continue;
        }
        FAST_ASSERT((double)f == r && !!signbit(f) == !!signbit(r), "bf16 0x%04x", h);
        FAST_ASSERT((aq_f32_to_bf16(f)) == (h), "aq_f32_to_bf16(f) != h");
    }
}
END_TEST

START_TEST(test_f16_all_patterns) {
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = aq_f16_to_f32((uint16_t)h);
        double r = f16_ref((uint16_t)h);
        if (isnan(r)) {
            FAST_ASSERT(isnan(f), "failed: isnan(f)");
            FAST_ASSERT(is_f16_nan(aq_f32_to_f16(f)), "failed: is_f16_nan(aq_f32_to_f16(f))");
            continue;
        }
        FAST_ASSERT((double)f == r && !!signbit(f) == !!signbit(r), "f16 0x%04x", h);
        FAST_ASSERT((aq_f32_to_f16(f)) == (h), "aq_f32_to_f16(f) != h");
    }
}
END_TEST

/* Halfway between neighbours rounds to the even one; a hair off rounds to the nearer. */
START_TEST(test_f16_ties) {
    for (uint32_t h = 0; h < 0x7c00; ++h) {
        for (uint32_t s = 0; s <= 0x8000; s += 0x8000) {
            float a = aq_f16_to_f32((uint16_t)(h | s));
            float b =
                h == 0x7bff ? (s ? -65536.0f : 65536.0f) : aq_f16_to_f32((uint16_t)((h + 1) | s));
            float mid = (float)(((double)a + (double)b) / 2); /* exact: 12 bits */
            uint16_t even = (uint16_t)(((h & 1) ? h + 1 : h) | s);
            FAST_ASSERT(aq_f32_to_f16(mid) == even, "tie after 0x%04x", h | s);
            FAST_ASSERT((aq_f32_to_f16(nextafterf(mid, a))) == (h | s),
                        "aq_f32_to_f16(nextafterf(mid, a)) != h | s");
            FAST_ASSERT((aq_f32_to_f16(nextafterf(mid, b))) == ((h + 1) | s),
                        "aq_f32_to_f16(nextafterf(mid, b)) != (h + 1) | s");
        }
    }
}
END_TEST

START_TEST(test_bf16_ties) {
    for (uint32_t h = 0; h < 0x7f80; ++h) {
        for (uint32_t s = 0; s <= 0x8000; s += 0x8000) {
            uint32_t hs = h | s, mid = (hs << 16) | 0x8000u;
            uint16_t even = (uint16_t)(((h & 1) ? h + 1 : h) | s);
            FAST_ASSERT(aq_f32_to_bf16(bitsf(mid)) == even, "tie after 0x%04x", hs);
            FAST_ASSERT((aq_f32_to_bf16(bitsf(mid - 1))) == (hs),
                        "aq_f32_to_bf16(bitsf(mid - 1)) != hs");
            FAST_ASSERT((aq_f32_to_bf16(bitsf(mid + 1))) == (hs + 1),
                        "aq_f32_to_bf16(bitsf(mid + 1)) != hs + 1");
        }
    }
}
END_TEST

/* Reference narrowing: rint (ties-to-even in the default mode) on the target's ulp grid. */
static double round_ref(double x, int mant_bits, int min_exp) {
    int e;
    frexp(x, &e); /* x = m 2^e, m in [0.5, 1) */
    e -= 1;
    if (e < min_exp) e = min_exp;
    double ulp = ldexp(1.0, e - mant_bits);
    return rint(x / ulp) * ulp;
}

START_TEST(test_random_against_rint) {
    aq_rng r;
    aq_rng_seed(&r, 12345);
    for (int i = 0; i < 2000000; ++i) {
        /* Random bits in an exponent window covering subnormal f16 up to past f16 overflow. */
        uint32_t u = (uint32_t)aq_rng_next(&r);
        uint32_t exp = 100 + (u >> 24) % 45; /* 2^-27 .. 2^17 */
        float x = bitsf((u & 0x807fffffu) | (exp << 23));
        double ax = fabs((double)x);
        double want16 = ax >= 65520.0 ? INFINITY : round_ref(ax, 10, -14);
        double want_bf = round_ref(ax, 7, -126);
        FAST_ASSERT(fabs((double)aq_f16_to_f32(aq_f32_to_f16(x))) == want16, "f16 %a", x);
        FAST_ASSERT(fabs((double)aq_bf16_to_f32(aq_f32_to_bf16(x))) == want_bf, "bf16 %a", x);
        FAST_ASSERT(!!signbit(aq_f16_to_f32(aq_f32_to_f16(x))) == !!signbit(x),
                    "failed: !!signbit(aq_f16_to_f32(aq_f32_to_f16(x))) == !!signbit(x)");
    }
}
END_TEST

START_TEST(test_overflow_nan_zero) {
    ck_assert_uint_eq(aq_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(aq_f32_to_f16(nextafterf(65520.0f, 0)), 0x7bff);
    ck_assert_uint_eq(aq_f32_to_f16(65520.0f), 0x7c00);
    ck_assert_uint_eq(aq_f32_to_f16(1e10f), 0x7c00);
    ck_assert_uint_eq(aq_f32_to_f16(-1e10f), 0xfc00);
    ck_assert_uint_eq(aq_f32_to_f16(INFINITY), 0x7c00);
    ck_assert_uint_eq(aq_f32_to_f16(-INFINITY), 0xfc00);
    ck_assert_uint_eq(aq_f32_to_bf16(FLT_MAX), 0x7f80);
    ck_assert_uint_eq(aq_f32_to_bf16(-FLT_MAX), 0xff80);
    ck_assert_uint_eq(aq_f32_to_bf16(INFINITY), 0x7f80);
    const uint32_t nans[] = {0x7f800001u, 0x7fc00000u, 0xffffffffu, 0x7f802000u, 0xff800001u};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; ++i) {
        ck_assert(is_f16_nan(aq_f32_to_f16(bitsf(nans[i]))));
        ck_assert(is_bf16_nan(aq_f32_to_bf16(bitsf(nans[i]))));
        ck_assert_uint_eq(aq_f32_to_bf16(bitsf(nans[i])) & 0x8000, (nans[i] >> 16) & 0x8000);
    }
    ck_assert_uint_eq(aq_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(aq_f32_to_bf16(-0.0f), 0x8000);
    ck_assert_uint_eq(aq_f32_to_f16(0.0f), 0x0000);
    ck_assert_uint_eq(aq_f32_to_f16(-1e-30f), 0x8000);
    ck_assert_uint_eq(aq_f32_to_bf16(bitsf(0x80000001u)), 0x8000);
    ck_assert_uint_eq(aq_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);           /* tie -> 0 */
    ck_assert_uint_eq(aq_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1)), 1); /* just above */
    ck_assert_uint_eq(fbits(aq_f16_to_f32(0x8000)), 0x80000000u);
}
END_TEST

START_TEST(test_convert_unaligned) {
    unsigned char raw[1 + 4 * 3];
    float out[3];
    const float want[3] = {1.5f, -2.25f, 65504.0f};
    /* F32, little-endian, at an odd address. */
    for (int i = 0; i < 3; ++i) {
        uint32_t u = fbits(want[i]);
        for (int k = 0; k < 4; ++k)
            raw[1 + 4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    aq_convert_to_f32(AQ_DT_F32, raw + 1, 3, out);
    ck_assert(memcmp(out, want, sizeof want) == 0);
    for (int i = 0; i < 3; ++i) {
        uint16_t h = aq_f32_to_f16(want[i]);
        raw[1 + 2 * i] = (unsigned char)h;
        raw[2 + 2 * i] = (unsigned char)(h >> 8);
    }
    aq_convert_to_f32(AQ_DT_F16, raw + 1, 3, out);
    ck_assert(memcmp(out, want, sizeof want) == 0);
    for (int i = 0; i < 3; ++i) {
        uint16_t h = aq_f32_to_bf16(want[i]);
        raw[1 + 2 * i] = (unsigned char)h;
        raw[2 + 2 * i] = (unsigned char)(h >> 8);
    }
    aq_convert_to_f32(AQ_DT_BF16, raw + 1, 3, out);
    ck_assert(out[0] == 1.5f && out[1] == -2.25f && out[2] == 65536.0f); /* 65504 rounds up */
}
END_TEST

int main(void) {
    Suite *s = suite_create("dtype");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sizes_names);
    tcase_add_test(tc, test_bf16_all_patterns);
    tcase_add_test(tc, test_f16_all_patterns);
    tcase_add_test(tc, test_f16_ties);
    tcase_add_test(tc, test_bf16_ties);
    tcase_add_test(tc, test_random_against_rint);
    tcase_add_test(tc, test_overflow_nan_zero);
    tcase_add_test(tc, test_convert_unaligned);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
