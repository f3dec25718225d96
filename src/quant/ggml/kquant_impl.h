/*
 * aq-mpi — private interface of the k-quant encoders (src/quant/ggml/kquant_*.c; the
 * public API and the layouts are in include/aq/ggml_kquants.h).
 *
 * The hot loops run through a kernel table so that the scalar reference and its AVX2 /
 * AVX-512 twins share one search: the min-offset formats (Q2_K, Q4_K, Q5_K) use the dq
 * kernels of src/quant (dq_targets, dq_pick, already twinned bit for bit), the signed-scale
 * formats (Q3_K, Q6_K) the two kernels below.  A twin must reproduce the reference's
 * operations per group in the same order (lane = group), so every table gives the same bits.
 */
#ifndef AQ_KQUANT_IMPL_H
#define AQ_KQUANT_IMPL_H

#include <stdint.h>

#include "../quant_impl.h"
#include "aq/ggml_kquants.h"

/*-*********************************************
 *  Block helpers (kquant_dequant.c)
 ***********************************************/

/*! aq_kq_f16_at() : the little-endian fp16 at p, widened exactly. */
float aq_kq_f16_at(const uint8_t *p);
/*! aq_kq_get_scale_min_k4() : 6-bit (sc, m) of group g (0..7) of Q4_K / Q5_K scales[12]. */
void aq_kq_get_scale_min_k4(int g, const uint8_t *s, int *sc, int *m);
/*! aq_kq_q3_scale() : signed scale code (-32..31) of group g (0..15) of Q3_K scales[12]. */
int aq_kq_q3_scale(const uint8_t *s, int g);

/*-*********************************************
 *  Signed-scale kernels (Q3_K, Q6_K)
 ***********************************************/

/* The 16 groups of 16 weights of one Q3_K / Q6_K super-block: x, h group-major (element j
 * of group g at 16 g + j; h NULL: all 1) and the same transposed (xt, ht: 16 j + g; ht NULL
 * with h) so that SIMD twins load one element of every group at once; codes are integers in
 * [-nlo, nlo - 1]. */
#define AQ_KQ_SG 16
typedef struct {
    const float *x, *h, *xt, *ht;
    int nlo;
} aq_kq_sbatch;

/* Code sums of one group (float, j order): hl = h_j * l_j (l_j without h); shll += hl * l_j;
 * shxl += hl * x_j. */
typedef struct {
    float shll, shxl;
} aq_kq_ssums;

/*! aq_kq_scode() : clamp(nearbyint(v), lo, hi) as a float (NaN -> lo), by the magic-number
 *  rounding of aq_code_of(); the one rounding rule of the signed-scale search. */
static inline float aq_kq_scode(float v, float lo, float hi) {
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    v = v > lo ? v : lo;             /* NaN -> lo */
    v = v < hi ? v : hi;
    return (v + magic) - magic;
}

/*! aq_kq_serr() : sum h (x - s l)^2 for codes with sums c at scale s (double; 0 when
 *  rounding makes it negative): shxx - 2 s shxl + s^2 shll. */
static inline double aq_kq_serr(double shxx, const aq_kq_ssums *c, double s) {
    const double e = shxx - 2.0 * s * (double)c->shxl + s * s * (double)c->shll;
    return e > 0.0 ? e : 0.0;
}

/* The hot loop of the signed-scale search (twinned per ISA): for every group g of the
 * super-block, codes l_j = aq_kq_scode(x_j * inv[g], -nlo, nlo - 1) and their sums out[g]
 * in j order as aq_kq_ssums says. */
typedef void (*aq_kq_ssums_fn)(const aq_kq_sbatch *b, const float *inv, aq_kq_ssums *out);
void aq_kq_ssums_ref(const aq_kq_sbatch *b, const float *inv, aq_kq_ssums *out);

/* Number of clipping candidates per side of the signed-scale targets: 2 * AQ_KQ_SK + 1. */
#define AQ_KQ_SK 6

/*-*********************************************
 *  Kernel tables and the format searches
 ***********************************************/

typedef struct {
    const aq_kernels_t *dq; /* dq_targets, dq_pick of the same ISA */
    aq_kq_ssums_fn ssums;   /* signed-scale sums of the same ISA */
} aq_kq_kernels;

extern const aq_kq_kernels aq_kq_kernels_ref;
#if defined(__x86_64__) || defined(__i386__)
extern const aq_kq_kernels aq_kq_kernels_avx2;
extern const aq_kq_kernels aq_kq_kernels_avx512;
#endif

/* Min-offset formats (kquant_affine.c): fmt 2, 4 or 5. */
void aq_kq_quantize_affine(const aq_kq_kernels *k, int fmt, const float *x, const float *h,
                           int64_t n, uint8_t *blocks);
/* Signed-scale formats (kquant_sym.c): fmt 3 or 6. */
void aq_kq_quantize_sym(const aq_kq_kernels *k, int fmt, const float *x, const float *h, int64_t n,
                        uint8_t *blocks);

#endif /* AQ_KQUANT_IMPL_H */
