/*
 * aq-mpi — decoders of ggml's k-quant blocks (layouts and formulas in
 * include/aq/ggml_kquants.h; source: llama.cpp ggml-common.h, ggml-quants.c
 * dequantize_row_q*_K).  Blocks are read as bytes at fixed offsets, so no struct packing is
 * assumed; each product is written in ggml's evaluation order so the float32 results match
 * ggml's bit for bit.
 */
#include <string.h>

#include "aq/dtype.h"
#include "kquant_impl.h"

float aq_kq_f16_at(const uint8_t *p) {
    return aq_f16_to_f32((uint16_t)(p[0] | (unsigned)p[1] << 8));
}

void aq_kq_get_scale_min_k4(int g, const uint8_t *s, int *sc, int *m) {
    if (g < 4) {
        *sc = s[g] & 63;
        *m = s[g + 4] & 63;
    } else {
        *sc = (s[g + 4] & 15) | (s[g - 4] >> 6) << 4;
        *m = (s[g + 4] >> 4) | (s[g] >> 6) << 4;
    }
}

int aq_kq_q3_scale(const uint8_t *s, int g) {
    const int lo = g < 8 ? s[g] & 15 : s[g - 8] >> 4;
    const int hi = (s[8 + g % 4] >> (2 * (g / 4))) & 3;
    return (lo | hi << 4) - 32;
}

void aq_ggml_dequantize_row_q2_k(const void *blocks, int64_t n, float *y) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n / AQ_GGML_QK_K; ++i, b += AQ_GGML_Q2_K_BYTES, y += AQ_GGML_QK_K) {
        const float d = aq_kq_f16_at(b + 80), dmin = aq_kq_f16_at(b + 82);
        for (int e = 0; e < AQ_GGML_QK_K; ++e) {
            const int g = e / 16, h = e / 128, j = (e / 32) % 4, l = e % 32;
            const float dl = d * (float)(b[g] & 15), ml = dmin * (float)(b[g] >> 4);
            const int q = (b[16 + 32 * h + l] >> (2 * j)) & 3;
            y[e] = dl * (float)q - ml;
        }
    }
}

void aq_ggml_dequantize_row_q3_k(const void *blocks, int64_t n, float *y) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n / AQ_GGML_QK_K; ++i, b += AQ_GGML_Q3_K_BYTES, y += AQ_GGML_QK_K) {
        const uint8_t *hm = b, *qs = b + 32, *sc = b + 96;
        const float d = aq_kq_f16_at(b + 108);
        for (int e = 0; e < AQ_GGML_QK_K; ++e) {
            const int g = e / 16, h = e / 128, j = (e / 32) % 4, l = e % 32;
            const float dl = d * (float)aq_kq_q3_scale(sc, g);
            const int low = (qs[32 * h + l] >> (2 * j)) & 3;
            const int high = (hm[l] >> (4 * h + j)) & 1;
            y[e] = dl * (float)(low - (high ? 0 : 4));
        }
    }
}

/* Q4_K and Q5_K: qh NULL for Q4_K. */
static void dequant_q45(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, float *y) {
    const float d = aq_kq_f16_at(b), dmin = aq_kq_f16_at(b + 2);
    for (int e = 0; e < AQ_GGML_QK_K; ++e) {
        const int g = e / 32, c = e / 64, k = (e / 32) % 2, l = e % 32;
        int sc, m;
        aq_kq_get_scale_min_k4(g, b + 4, &sc, &m);
        const float dl = d * (float)sc, ml = dmin * (float)m;
        int q = (qs[32 * c + l] >> (4 * k)) & 15;
        if (qh && (qh[l] >> (2 * c + k) & 1)) q += 16;
        y[e] = dl * (float)q - ml;
    }
}

void aq_ggml_dequantize_row_q4_k(const void *blocks, int64_t n, float *y) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n / AQ_GGML_QK_K; ++i, b += AQ_GGML_Q4_K_BYTES, y += AQ_GGML_QK_K)
        dequant_q45(b, NULL, b + 16, y);
}

void aq_ggml_dequantize_row_q5_k(const void *blocks, int64_t n, float *y) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n / AQ_GGML_QK_K; ++i, b += AQ_GGML_Q5_K_BYTES, y += AQ_GGML_QK_K)
        dequant_q45(b, b + 16, b + 48, y);
}

void aq_ggml_dequantize_row_q6_k(const void *blocks, int64_t n, float *y) {
    const uint8_t *b = blocks;
    for (int64_t i = 0; i < n / AQ_GGML_QK_K; ++i, b += AQ_GGML_Q6_K_BYTES, y += AQ_GGML_QK_K) {
        const uint8_t *ql = b, *qh = b + 128, *sc = b + 192;
        const float d = aq_kq_f16_at(b + 208);
        for (int e = 0; e < AQ_GGML_QK_K; ++e) {
            const int g = e / 16, h = e / 128, k = (e / 32) % 4, l = e % 32;
            const int lo = (ql[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15;
            const int q = lo | ((qh[32 * h + l] >> (2 * k)) & 3) << 4;
            y[e] = d * (float)(int8_t)sc[g] * (float)(q - 32);
        }
    }
}
