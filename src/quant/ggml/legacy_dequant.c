/*
 * aq-mpi — decoders of ggml's legacy blocks (include/aq/ggml_legacy.h), the formulas of
 * ggml-quants.c dequantize_row_q8_0 / _q4_0 / _q4_1 / _q5_0 / _q5_1: an integer code converted
 * to float, one float multiply by d, one float add of m (asymmetric formats), each rounded:
 * never fused (the file is built with -ffp-contract=off, and the product is a statement of
 * its own, which C17 does not allow to contract with the add).
 */
#include "legacy_impl.h"

#include "aq/dtype.h"

static uint16_t get16(const unsigned char *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Codes 0..31 of a nibble block, plus bit j of qh as bit 4 when qh is given. */
static void get_codes(const unsigned char *qs, const unsigned char *qh, int *q) {
    const uint32_t h = qh ? get32(qh) : 0;
    for (int j = 0; j < LG_QK / 2; ++j) {
        q[j] = (qs[j] & 0x0f) | (int)((h >> j) & 1u) << 4;
        q[j + LG_QK / 2] = (qs[j] >> 4) | (int)((h >> (j + LG_QK / 2)) & 1u) << 4;
    }
}

/* y_j = (float)(q_j - off) * d [+ m], product and sum rounded separately. */
static void decode_affine(const int *q, int off, float d, float m, int has_m, float *y) {
    for (int j = 0; j < LG_QK; ++j) {
        const float p = (float)(q[j] - off) * d;
        y[j] = has_m ? p + m : p;
    }
}

static int check(int64_t n) {
    return n >= 0 && n % LG_QK == 0;
}

int aq_ggml_dequantize_row_q8_0(const void *blocks, int64_t n, float *y) {
    if (!check(n)) return -1;
    const unsigned char *p = blocks;
    for (int64_t i = 0; i < n / LG_QK; ++i, p += AQ_GGML_Q8_0_BYTES) {
        const float d = aq_f16_to_f32(get16(p));
        for (int j = 0; j < LG_QK; ++j)
            y[i * LG_QK + j] = (float)(int8_t)p[2 + j] * d;
    }
    return 0;
}

int aq_ggml_dequantize_row_q4_0(const void *blocks, int64_t n, float *y) {
    if (!check(n)) return -1;
    const unsigned char *p = blocks;
    int q[LG_QK];
    for (int64_t i = 0; i < n / LG_QK; ++i, p += AQ_GGML_Q4_0_BYTES) {
        get_codes(p + 2, NULL, q);
        decode_affine(q, 8, aq_f16_to_f32(get16(p)), 0.0f, 0, y + i * LG_QK);
    }
    return 0;
}

int aq_ggml_dequantize_row_q4_1(const void *blocks, int64_t n, float *y) {
    if (!check(n)) return -1;
    const unsigned char *p = blocks;
    int q[LG_QK];
    for (int64_t i = 0; i < n / LG_QK; ++i, p += AQ_GGML_Q4_1_BYTES) {
        get_codes(p + 4, NULL, q);
        decode_affine(q, 0, aq_f16_to_f32(get16(p)), aq_f16_to_f32(get16(p + 2)), 1, y + i * LG_QK);
    }
    return 0;
}

int aq_ggml_dequantize_row_q5_0(const void *blocks, int64_t n, float *y) {
    if (!check(n)) return -1;
    const unsigned char *p = blocks;
    int q[LG_QK];
    for (int64_t i = 0; i < n / LG_QK; ++i, p += AQ_GGML_Q5_0_BYTES) {
        get_codes(p + 6, p + 2, q);
        decode_affine(q, 16, aq_f16_to_f32(get16(p)), 0.0f, 0, y + i * LG_QK);
    }
    return 0;
}

int aq_ggml_dequantize_row_q5_1(const void *blocks, int64_t n, float *y) {
    if (!check(n)) return -1;
    const unsigned char *p = blocks;
    int q[LG_QK];
    for (int64_t i = 0; i < n / LG_QK; ++i, p += AQ_GGML_Q5_1_BYTES) {
        get_codes(p + 8, p + 4, q);
        decode_affine(q, 0, aq_f16_to_f32(get16(p)), aq_f16_to_f32(get16(p + 2)), 1, y + i * LG_QK);
    }
    return 0;
}
