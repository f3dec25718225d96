/*
 * aq-mpi — byte layout of one ggml legacy block (the writer side of
 * include/aq/ggml_legacy.h; legacy_dequant.c is the reader).  Bytes are written one by one,
 * little-endian, so the result does not depend on the host's struct padding or endianness.
 */
#include "legacy_impl.h"

static void put16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8);
}

/* 16 bytes: low nibble = code j, high nibble = code j + 16 (ggml's qs order). */
static void put_nibbles(unsigned char *p, const uint8_t *q) {
    for (int j = 0; j < LG_QK / 2; ++j)
        p[j] = (unsigned char)((q[j] & 0x0f) | (q[j + LG_QK / 2] & 0x0f) << 4);
}

/* 4 bytes: bit j of the little-endian uint32 = bit 4 of code j. */
static void put_high_bits(unsigned char *p, const uint8_t *q) {
    uint32_t qh = 0;
    for (int j = 0; j < LG_QK; ++j)
        qh |= (uint32_t)((q[j] >> 4) & 1u) << j;
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(qh >> (8 * i));
}

void lg_pack_block(aq_ggml_legacy_fmt fmt, uint16_t d, uint16_t m, const uint8_t *q,
                   unsigned char *out) {
    put16(out, d);
    switch (fmt) {
    case AQ_GGML_LEGACY_Q8_0:
        for (int j = 0; j < LG_QK; ++j)
            out[2 + j] = (unsigned char)(q[j] ^ 0x80u); /* q-128 */
        break;
    case AQ_GGML_LEGACY_Q4_0:
        put_nibbles(out + 2, q);
        break;
    case AQ_GGML_LEGACY_Q4_1:
        put16(out + 2, m);
        put_nibbles(out + 4, q);
        break;
    case AQ_GGML_LEGACY_Q5_0:
        put_high_bits(out + 2, q);
        put_nibbles(out + 6, q);
        break;
    case AQ_GGML_LEGACY_Q5_1:
        put16(out + 2, m);
        put_high_bits(out + 4, q);
        put_nibbles(out + 8, q);
        break;
    default:
        break;
    }
}
