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

/*-*********************************************
 *  Per-super-block entry points (the GPTQ operations, src/quant/ggml/ggml_gptq.c)
 ***********************************************/

/*! aq_kq_affine_code() : the encoder's code rule of Q2_K / Q4_K / Q5_K for weight x of a group
 *  with effective scale = d * sc and ml = dmin * m (stored d, dmin, codes): q = nearest code
 *  of (x + ml) / scale in [0, nmax] (0 when scale is not > 0), *y = scale * q - ml (the
 *  decode's float operations). */
static inline uint8_t aq_kq_affine_code(float scale, float ml, int nmax, float x, float *y) {
    const uint8_t q = scale > 0.0f ? aq_code_of((x + ml) / scale, (float)nmax) : 0;
    *y = scale * (float)q - ml;
    return q;
}

/*! aq_kq_sym_code() : the encoder's code rule of Q3_K / Q6_K for weight x of a group with
 *  effective scale = d * s (signed scale code s): l = nearest code of x / scale in
 *  [-nlo, nlo - 1] (0 when scale is 0); @return : the stored code l + nlo; *y = scale * l. */
static inline uint8_t aq_kq_sym_code(float scale, int nlo, float x, float *y) {
    const float l = scale != 0.0f ? aq_kq_scode(x / scale, (float)-nlo, (float)(nlo - 1)) : 0.0f;
    *y = scale * l;
    return (uint8_t)((int)l + nlo);
}

/*! aq_kq_fit_affine() : the search of aq_kq_quantize_affine() (fmt 2, 4, 5) for ONE
 *  super-block x[0..256) (h: its importances or NULL): the STORED d and dmin (fp16 values;
 *  dmin with ggml's sign, y = d sc q - dmin m) and the scale / min codes sc[g], mc[g] of its
 *  256 / G groups, exactly what aq_kq_quantize_affine() stores for that super-block. */
void aq_kq_fit_affine(const aq_kq_kernels *k, int fmt, const float *x, const float *h, float *d,
                      float *dmin, uint8_t *sc, uint8_t *mc);
/*! aq_kq_pack_affine() : block bytes of fmt 2, 4, 5 from stored d, dmin, codes sc, mc and the
 *  256 stored codes L (0..nmax). */
void aq_kq_pack_affine(int fmt, float d, float dmin, const uint8_t *sc, const uint8_t *mc,
                       const uint8_t *L, uint8_t *b);
/*! aq_kq_affine_nmax() / aq_kq_affine_group() : code maximum (3, 15, 31) and group size (16,
 *  32, 32) of fmt 2, 4, 5. */
int aq_kq_affine_nmax(int fmt);
int aq_kq_affine_group(int fmt);

/*! aq_kq_fit_sym() : the search of aq_kq_quantize_sym() (fmt 3, 6) for ONE super-block: the
 *  stored d (fp16 value) and the signed scale codes sc[16], exactly what it stores. */
void aq_kq_fit_sym(const aq_kq_kernels *k, int fmt, const float *x, const float *h, float *d,
                   int *sc);
/*! aq_kq_pack_sym() : block bytes of fmt 3, 6 from d, sc[16] and the 256 stored codes L
 *  (0..2 nlo - 1). */
void aq_kq_pack_sym(int fmt, float d, const int *sc, const uint8_t *L, uint8_t *b);
/*! aq_kq_sym_nlo() : 4 (Q3_K) or 32 (Q6_K). */
int aq_kq_sym_nlo(int fmt);

#endif /* AQ_KQUANT_IMPL_H */
