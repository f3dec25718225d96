/*
 * aq-mpi — element types and float conversions (see aq/dtype.h).
 *
 * Bit manipulation rather than compiler casts: _Float16/__bf16 support and their rounding
 * vary across compilers, and the rules here (RNE, NaN stays NaN, overflow -> Inf) are the
 * contract other stages and the tests rely on.
 */
#include "aq/dtype.h"

#include <string.h>

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

size_t aq_dtype_size(aq_dtype dt) {
    return dt == AQ_DT_F32 ? 4 : 2;
}

const char *aq_dtype_name(aq_dtype dt) {
    switch (dt) {
    case AQ_DT_F32:
        return "F32";
    case AQ_DT_F16:
        return "F16";
    case AQ_DT_BF16:
        return "BF16";
    }
    return "?";
}

int aq_dtype_parse(const char *s, aq_dtype *out) {
    static const aq_dtype all[] = {AQ_DT_F32, AQ_DT_F16, AQ_DT_BF16};
    if (!s) return -1;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) {
        if (strcmp(s, aq_dtype_name(all[i])) == 0) {
            if (out) *out = all[i];
            return 0;
        }
    }
    return -1;
}

float aq_bf16_to_f32(uint16_t h) {
    return bits_f32((uint32_t)h << 16);
}

uint16_t aq_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    /* Rounding a NaN could carry it into Inf; set the quiet bit instead. */
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x0040u);
    /* RNE: add half an ulp, plus one when the kept part is odd, then truncate. Overflow of
     * the largest finite values carries into the exponent and yields Inf, as it should. */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float aq_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return bits_f32(sign | 0x7f800000u | (m << 13));
    if (e != 0) return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
    if (m == 0) return bits_f32(sign);
    /* Subnormal: m * 2^-24; normalise so the f32 gets an implicit leading bit. */
    e = 113;
    while (!(m & 0x400u)) {
        m <<= 1;
        --e;
    }
    return bits_f32(sign | (e << 23) | ((m & 0x3ffu) << 13));
}

/* Rounds q + rem/2^shift to nearest, ties to even. */
static uint32_t round_rne(uint32_t q, uint32_t rem, uint32_t shift) {
    uint32_t half = 1u << (shift - 1);
    return (rem > half || (rem == half && (q & 1u))) ? q + 1 : q;
}

uint16_t aq_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    /* 65520 is halfway between 65504 (largest f16) and 65536: it and above round to Inf. */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* normal f16: rebias the exponent (127 -> 15) and round */
        uint32_t r = ax - 0x38000000u;
        /* A carry out of the mantissa bumps the exponent: still the right encoding. */
        return (uint16_t)(sign | round_rne(r >> 13, r & 0x1fffu, 13));
    }
    /* Below 2^-25 (exactly 2^-25 is a tie with 0, which is even) the result is zero. */
    if (ax <= 0x33000000u) return sign;
    /* Subnormal f16 in units of 2^-24: value = m * 2^(e-150), so shift by 126 - e. */
    uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14..24 */
    return (uint16_t)(sign | round_rne(m >> shift, m & ((1u << shift) - 1u), shift));
}

/* Loads assemble bytes so that unaligned sources and the little-endian file order are
 * handled the same on every host; compilers turn this into plain (vector) loads. */
static void bf16_to_f32_n(const unsigned char *s, size_t n, float *dst) {
    for (size_t i = 0; i < n; ++i) {
        uint32_t u = ((uint32_t)s[2 * i] | ((uint32_t)s[2 * i + 1] << 8)) << 16;
        dst[i] = bits_f32(u);
    }
}

static void f16_to_f32_n(const unsigned char *s, size_t n, float *dst) {
    for (size_t i = 0; i < n; ++i)
        dst[i] = aq_f16_to_f32((uint16_t)(s[2 * i] | (s[2 * i + 1] << 8)));
}

static void f32_to_f32_n(const unsigned char *s, size_t n, float *dst) {
    for (size_t i = 0; i < n; ++i) {
        const unsigned char *p = s + 4 * i;
        uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24);
        dst[i] = bits_f32(u);
    }
}

void aq_convert_to_f32(aq_dtype dt, const void *src, size_t n, float *dst) {
    const unsigned char *s = src;
    switch (dt) {
    case AQ_DT_F32:
        f32_to_f32_n(s, n, dst);
        break;
    case AQ_DT_F16:
        f16_to_f32_n(s, n, dst);
        break;
    case AQ_DT_BF16:
        bf16_to_f32_n(s, n, dst);
        break;
    }
}
