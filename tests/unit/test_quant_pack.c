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

/* unpack(pack(q)) == q for every bit width and lengths around the byte multiples. */
START_TEST(roundtrip) {
    static const int bits_of[3] = {2, 4, 8};
    const int bits = bits_of[_i];
    srand(1234 + bits);
    for (int64_t n = 0; n <= 67; ++n) {
        uint8_t q[67], back[67], packed[67 + 1];
        for (int64_t k = 0; k < n; ++k) q[k] = (uint8_t)(rand() % (1 << bits));
        size_t nb = aq_packed_row_bytes(n, bits);
        memset(packed, 0xAA, sizeof packed);
        aq_pack_codes(q, n, bits, packed);
        ck_assert_uint_eq(packed[nb], 0xAA); /* no write past the row */
        if (n * bits % 8) {                   /* unused high bits of the last byte are 0 */
            int used = (int)(n * bits % 8);
            ck_assert_uint_eq(packed[nb - 1] >> used, 0);
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
    aq_quant_params p = {4, 64, AQ_METHOD_MSE, AQ_SCALE_F16};
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
    tcase_add_loop_test(tc, roundtrip, 0, 3);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, params_check);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
