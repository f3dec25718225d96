/*
 * aq-mpi — bit packing of codes, layout "lsb-first-row-aligned" (docs/DESIGN.md §3):
 * code i at bit i*bits of the byte string, little-endian within each byte; unused high bits
 * of the last byte are 0.  Any width 1..8: 2, 4 and 8 bits have their own loops (the hot
 * widths of the plain layout), the others (3 bits of the dq layout, and 1, 5, 6, 7) go
 * through a bit accumulator.
 */
#include <string.h>

#include "quant_impl.h"

static void pack2(const uint8_t *q, int64_t n, uint8_t *out) {
    int64_t full = n / 4, i = 0;
    for (; i < full; ++i) {
        const uint8_t *c = q + 4 * i;
        out[i] = (uint8_t)((c[0] & 3) | (c[1] & 3) << 2 | (c[2] & 3) << 4 | (c[3] & 3) << 6);
    }
    if (n % 4) { /* tail byte: the missing codes stay 0 */
        uint8_t b = 0;
        for (int64_t k = 4 * full; k < n; ++k)
            b |= (uint8_t)((q[k] & 3) << (2 * (k - 4 * full)));
        out[i] = b;
    }
}

static void pack4(const uint8_t *q, int64_t n, uint8_t *out) {
    int64_t full = n / 2, i = 0;
    for (; i < full; ++i)
        out[i] = (uint8_t)((q[2 * i] & 15) | (q[2 * i + 1] & 15) << 4);
    if (n % 2) out[i] = (uint8_t)(q[n - 1] & 15);
}

/* Any width: codes enter a bit accumulator at its top, whole bytes leave at its bottom. */
static void pack_any(const uint8_t *q, int64_t n, int bits, uint8_t *out) {
    const uint32_t mask = (1u << bits) - 1u;
    uint32_t acc = 0;
    int have = 0;
    for (int64_t k = 0; k < n; ++k) {
        acc |= (q[k] & mask) << have;
        have += bits;
        for (; have >= 8; have -= 8, acc >>= 8)
            *out++ = (uint8_t)acc;
    }
    if (have > 0) *out = (uint8_t)acc; /* tail byte: the bits above `have` are 0 */
}

void aq_pack_codes(const uint8_t *q, int64_t n, int bits, uint8_t *packed) {
    if (n <= 0) return;
    if (bits == 2)
        pack2(q, n, packed);
    else if (bits == 4)
        pack4(q, n, packed);
    else if (bits == 8)
        memcpy(packed, q, (size_t)n);
    else
        pack_any(q, n, bits, packed);
}

static void unpack2(const uint8_t *p, int64_t n, uint8_t *q) {
    for (int64_t k = 0; k < n; ++k)
        q[k] = (uint8_t)((p[k >> 2] >> (2 * (k & 3))) & 3);
}

static void unpack4(const uint8_t *p, int64_t n, uint8_t *q) {
    for (int64_t k = 0; k < n; ++k)
        q[k] = (uint8_t)((p[k >> 1] >> (4 * (k & 1))) & 15);
}

/* Any width: code k spans bits [k * bits, (k + 1) * bits), at most two bytes for bits <= 8;
 * the second byte is read only when the code reaches into it (never past the row). */
static void unpack_any(const uint8_t *p, int64_t n, int bits, uint8_t *q) {
    const unsigned mask = (1u << bits) - 1u;
    for (int64_t k = 0; k < n; ++k) {
        const int64_t bit = k * bits;
        const int sh = (int)(bit & 7);
        unsigned v = p[bit >> 3];
        if (sh + bits > 8) v |= (unsigned)p[(bit >> 3) + 1] << 8;
        q[k] = (uint8_t)((v >> sh) & mask);
    }
}

void aq_unpack_codes(const uint8_t *packed, int64_t n, int bits, uint8_t *q) {
    if (n <= 0) return;
    if (bits == 2)
        unpack2(packed, n, q);
    else if (bits == 4)
        unpack4(packed, n, q);
    else if (bits == 8)
        memcpy(q, packed, (size_t)n);
    else
        unpack_any(packed, n, bits, q);
}
