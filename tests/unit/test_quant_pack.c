/*
 * Unit tests: bit packing ("lsb-first-row-aligned"), layout sizes and parameter checks.
 */
#include <check.h>

#include "aq_check.h"
#include <stdlib.h>
#include <string.h>

#include "aq/quant.h"

/* 9 codes at 2 bits: code i at bits 2i..2i+1; the last byte holds one code. */
START_TEST(pack2_hand) {
    const uint8_t q[9] = {0, 1, 2, 3, 3, 2, 1, 0, 1};
    /* 0 | 1<<2 | 2<<4 | 3<<6 = 0xE4;  3 | 2<<2 | 1<<4 | 0<<6 = 0x1B;  1 = 0x01 */
    const uint8_t want[3] = {0xE4, 0x1B, 0x01};
    uint8_t out[3];
    memset(out, 0xFF, sizeof out); /* unused bits must be written as 0 */
    ck_assert_uint_eq(aq_packed_row_bytes(9, 2), 3);
    aq_pack_codes(q, 9, 2, out);
    ck_assert_mem_eq(out, want, 3);
}
END_TEST

/* 5 codes at 4 bits: low nibble first. */
START_TEST(pack4_hand) {
    const uint8_t q[5] = {1, 2, 15, 0, 7};
    const uint8_t want[3] = {0x21, 0x0F, 0x07};
    uint8_t out[3];
    memset(out, 0xFF, sizeof out);
    ck_assert_uint_eq(aq_packed_row_bytes(5, 4), 3);
    aq_pack_codes(q, 5, 4, out);
    ck_assert_mem_eq(out, want, 3);
}
END_TEST

START_TEST(pack8_hand) {
    const uint8_t q[3] = {0, 128, 255};
    uint8_t out[3] = {9, 9, 9};
    aq_pack_codes(q, 3, 8, out);
    ck_assert_mem_eq(out, q, 3);
}
END_TEST

/* Two-byte 2-bit row with 7 codes: bits 14-15 of the second byte are unused. */
START_TEST(pack2_tail_zero) {
    const uint8_t q[7] = {3, 3, 3, 3, 3, 3, 3};
    const uint8_t want[2] = {0xFF, 0x3F};
    uint8_t out[2] = {0, 0xFF};
    aq_pack_codes(q, 7, 2, out);
    ck_assert_mem_eq(out, want, 2);
}
END_TEST

/* 3-bit (the dq layout's width): code i at bits 3i..3i+2, codes crossing byte boundaries.
 * q = 1,2,3,4,5,6,7,0,5: sum q_i << 3i = 1 | 2<<3 | 3<<6 | 4<<9 | 5<<12 | 6<<15 | 7<<18 |
 * 0<<21 | 5<<24 = 0x51F58D1, i.e. bytes D1 58 1F 05. */
START_TEST(pack3_hand) {
    const uint8_t q[9] = {1, 2, 3, 4, 5, 6, 7, 0, 5};
    const uint8_t want[4] = {0xD1, 0x58, 0x1F, 0x05};
    uint8_t out[5];
    memset(out, 0xFF, sizeof out);
    ck_assert_uint_eq(aq_packed_row_bytes(9, 3), 4);
    aq_pack_codes(q, 9, 3, out);
    ck_assert_mem_eq(out, want, 4);
    ck_assert_uint_eq(out[4], 0xFF); /* nothing written past the row */
    uint8_t back[9];
    aq_unpack_codes(want, 9, 3, back);
    ck_assert_mem_eq(back, q, 9);
}
END_TEST

/* 5, 6, 7 bits by hand: all-ones codes fill exactly n * bits low bits; a single code at
 * index 1 sits at bits [bits, 2 bits). */
START_TEST(pack567_hand) {
    for (int bits = 5; bits <= 7; ++bits) {
        const uint8_t mx = (uint8_t)((1 << bits) - 1);
        uint8_t q[3] = {mx, mx, mx}, out[4];
        memset(out, 0xEE, sizeof out);
        aq_pack_codes(q, 3, bits, out);
        const uint32_t want = (1u << (3 * bits)) - 1u; /* 15..21 ones */
        const size_t nb = aq_packed_row_bytes(3, bits);
        ck_assert_uint_eq(nb, (size_t)(3 * bits + 7) / 8);
        for (size_t i = 0; i < nb; ++i)
            ck_assert_uint_eq(out[i], (want >> (8 * i)) & 0xFF);
        ck_assert_uint_eq(out[nb], 0xEE);
        q[0] = 0;
        q[1] = 0x15 & mx; /* 10101 */
        q[2] = 0;
        aq_pack_codes(q, 3, bits, out);
        const uint32_t w1 = (uint32_t)q[1] << bits;
        for (size_t i = 0; i < nb; ++i)
            ck_assert_uint_eq(out[i], (w1 >> (8 * i)) & 0xFF);
    }
}
END_TEST

/* 1 bit: code i is bit i. */
START_TEST(pack1_hand) {
    const uint8_t q[10] = {1, 0, 0, 1, 1, 1, 0, 1, 0, 1};
    const uint8_t want[2] = {0xB9, 0x02};
    uint8_t out[2] = {0xFF, 0xFF};
    aq_pack_codes(q, 10, 1, out);
    ck_assert_mem_eq(out, want, 2);
}
END_TEST

/* Codes wider than `bits` are masked to their low bits (as the 2/4-bit loops do). */
START_TEST(pack_masks_high_bits) {
    const uint8_t q[4] = {0xFF, 0x08, 0xF9, 0x07};
    uint8_t out[2], back[4];
    aq_pack_codes(q, 4, 3, out);
    aq_unpack_codes(out, 4, 3, back);
    ck_assert_uint_eq(back[0], 7);
    ck_assert_uint_eq(back[1], 0);
    ck_assert_uint_eq(back[2], 1);
    ck_assert_uint_eq(back[3], 7);
}
END_TEST

/* unpack(pack(q)) == q for every bit width 1..8 and lengths around the byte multiples, with
 * each code's bits checked at its position by a bit-by-bit reader. */
START_TEST(roundtrip) {
    const int bits = _i + 1;
    srand(1234 + bits);
    for (int64_t n = 0; n <= 67; ++n) {
        uint8_t q[67], back[67], packed[67 + 1];
        for (int64_t k = 0; k < n; ++k)
            q[k] = (uint8_t)(rand() % (1 << bits));
        size_t nb = aq_packed_row_bytes(n, bits);
        memset(packed, 0xAA, sizeof packed);
        aq_pack_codes(q, n, bits, packed);
        ck_assert_uint_eq(packed[nb], 0xAA); /* no write past the row */
        if (n * bits % 8) {                  /* unused high bits of the last byte are 0 */
            int used = (int)(n * bits % 8);
            ck_assert_uint_eq(packed[nb - 1] >> used, 0);
        }
        for (int64_t k = 0; k < n; ++k) { /* code k at bit k * bits, lsb first */
            unsigned v = 0;
            for (int b = 0; b < bits; ++b) {
                const int64_t bit = k * bits + b;
                v |= (unsigned)((packed[bit / 8] >> (bit % 8)) & 1) << b;
            }
            ck_assert_uint_eq(v, q[k]);
        }
        aq_unpack_codes(packed, n, bits, back);
        if (n) ck_assert_mem_eq(back, q, (size_t)n);
    }
}
END_TEST

START_TEST(sizes) {
    ck_assert_uint_eq(aq_packed_row_bytes(3584, 2), 896);
    ck_assert_uint_eq(aq_packed_row_bytes(101, 2), 26);
    ck_assert_uint_eq(aq_packed_row_bytes(101, 4), 51);
    ck_assert_uint_eq(aq_packed_row_bytes(101, 8), 101);
    ck_assert_uint_eq(aq_packed_row_bytes(101, 3), 38);
    ck_assert_uint_eq(aq_packed_row_bytes(3584, 3), 1344);
    ck_assert_int_eq(aq_groups_per_row(100, 64), 2);
    ck_assert_int_eq(aq_groups_per_row(128, 64), 2);
    ck_assert_int_eq(aq_groups_per_row(0, 64), 0);
    ck_assert_uint_eq(aq_scale_dtype_size(AQ_SCALE_F16), 2);
    ck_assert_uint_eq(aq_scale_dtype_size(AQ_SCALE_F32), 4);
    ck_assert_str_eq(aq_method_name(AQ_METHOD_RTN), "rtn");
    ck_assert_str_eq(aq_method_name(AQ_METHOD_MSE), "mse");
    ck_assert_str_eq(aq_scale_dtype_name(AQ_SCALE_F16), "f16");
    ck_assert_str_eq(aq_scale_dtype_name(AQ_SCALE_F32), "f32");
}
END_TEST

START_TEST(params_check) {
    aq_err e = {0};
    aq_quant_params p = {4, 64, AQ_METHOD_MSE, AQ_SCALE_F16, 0, 0};
    ck_assert_int_eq(aq_quant_params_check(&p, &e), AQ_OK);
    p.bits = 3;
    ck_assert_int_eq(aq_quant_params_check(&p, &e), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "quant.bits"));
    p.bits = 2;
    p.group_size = 48;
    ck_assert_int_eq(aq_quant_params_check(&p, &e), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "quant.group_size"));
    p.group_size = 256;
    p.method = (aq_method)7;
    ck_assert_int_eq(aq_quant_params_check(&p, &e), AQ_E_CONFIG);
    p.method = AQ_METHOD_RTN;
    p.scale_dtype = (aq_scale_dtype)5;
    ck_assert_int_eq(aq_quant_params_check(&p, &e), AQ_E_CONFIG);
    ck_assert_int_eq(aq_quant_params_check(NULL, &e), AQ_E_CONFIG);
}
END_TEST

int main(void) {
    Suite *s = suite_create("quant_pack");
    TCase *tc = tcase_create("pack");
    tcase_add_test(tc, pack2_hand);
    tcase_add_test(tc, pack4_hand);
    tcase_add_test(tc, pack8_hand);
    tcase_add_test(tc, pack2_tail_zero);
    tcase_add_test(tc, pack3_hand);
    tcase_add_test(tc, pack567_hand);
    tcase_add_test(tc, pack1_hand);
    tcase_add_test(tc, pack_masks_high_bits);
    tcase_add_loop_test(tc, roundtrip, 0, 8);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, params_check);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
