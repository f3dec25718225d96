/*
 * aq-mpi — bit packing of codes, layout "lsb-first-row-aligned" (DESIGN section 3):
 * code i at bit i*bits of the byte string, little-endian within each byte.
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
        for (int64_t k = 4 * full; k < n; ++k) b |= (uint8_t)((q[k] & 3) << (2 * (k - 4 * full)));
        out[i] = b;
    }
}

static void pack4(const uint8_t *q, int64_t n, uint8_t *out) {
    int64_t full = n / 2, i = 0;
    for (; i < full; ++i) out[i] = (uint8_t)((q[2 * i] & 15) | (q[2 * i + 1] & 15) << 4);
    if (n % 2) out[i] = (uint8_t)(q[n - 1] & 15);
}

void aq_pack_codes(const uint8_t *q, int64_t n, int bits, uint8_t *packed) {
    if (n <= 0) return;
    if (bits == 2) pack2(q, n, packed);
    else if (bits == 4) pack4(q, n, packed);
    else memcpy(packed, q, (size_t)n);
}

static void unpack2(const uint8_t *p, int64_t n, uint8_t *q) {
    for (int64_t k = 0; k < n; ++k) q[k] = (uint8_t)((p[k >> 2] >> (2 * (k & 3))) & 3);
}

static void unpack4(const uint8_t *p, int64_t n, uint8_t *q) {
    for (int64_t k = 0; k < n; ++k) q[k] = (uint8_t)((p[k >> 1] >> (4 * (k & 1))) & 15);
}

void aq_unpack_codes(const uint8_t *packed, int64_t n, int bits, uint8_t *q) {
    if (n <= 0) return;
    if (bits == 2) unpack2(packed, n, q);
    else if (bits == 4) unpack4(packed, n, q);
    else memcpy(q, packed, (size_t)n);
}
