#include "aq/synth.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void aq_rng_seed(aq_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; ++i)
        r->s[i] = splitmix64(&seed);
}

uint64_t aq_rng_next(aq_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double aq_rng_uniform(aq_rng *r) {
    return (double)(aq_rng_next(r) >> 11) * 0x1.0p-53;
}

double aq_rng_normal(aq_rng *r) {
    /* 1 - u is in (0, 1], so the log is finite. */
    double u1 = 1.0 - aq_rng_uniform(r);
    double u2 = aq_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t aq_synth_seed_for(uint64_t seed, const char *name) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; ++p) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    uint64_t x = h ^ seed;
    return splitmix64(&x);
}

float aq_synth_weight(aq_rng *r, float std) {
    if (aq_rng_uniform(r) < 1e-3) {
        double mag = 10.0 * std * (1.0 + 0.5 * fabs(aq_rng_normal(r)));
        return (float)(aq_rng_uniform(r) < 0.5 ? -mag : mag);
    }
    double z = aq_rng_normal(r), v = 0.0;
    for (int k = 0; k < 5; ++k) {
        double n = aq_rng_normal(r);
        v += n * n;
    }
    double t = z / sqrt(v / 5.0);
    return (float)(t * std / sqrt(5.0 / 3.0));
}

void aq_synth_weights_f32_range(uint64_t seed, const char *name, size_t first, float *dst, size_t n,
                                float std) {
    uint64_t base = aq_synth_seed_for(seed, name);
    size_t end = first + n, b0 = first / AQ_SYNTH_BLOCK;
    size_t b1 = n ? (end + AQ_SYNTH_BLOCK - 1) / AQ_SYNTH_BLOCK : b0;
#pragma omp parallel for schedule(static)
    for (size_t b = b0; b < b1; ++b) {
        aq_rng r;
        aq_rng_seed(&r, base + 0x9e3779b97f4a7c15ULL * (b + 1));
        size_t lo = b * AQ_SYNTH_BLOCK, hi = lo + AQ_SYNTH_BLOCK < end ? lo + AQ_SYNTH_BLOCK : end;
        for (size_t i = lo; i < hi; ++i) {
            float v = aq_synth_weight(&r, std);
            if (i >= first) dst[i - first] = v;
        }
    }
}

void aq_synth_weights_f32(uint64_t seed, const char *name, float *dst, size_t n, float std) {
    aq_synth_weights_f32_range(seed, name, 0, dst, n, std);
}
