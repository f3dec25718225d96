/*
 * aq-mpi — private pieces of the ggml legacy-format encoders (include/aq/ggml_legacy.h).
 *
 * The search (legacy_search.c) is written once; only the candidate evaluation, where the
 * time goes, has ISA twins (lg_eval_sym_* / lg_eval_asym_*: legacy_ref.c, legacy_avx2.c,
 * legacy_avx512.c).  A twin evaluates candidates in vector lanes but performs, per lane, the
 * reference's float32 operations in the reference's order (elements j = 0..31 in sequence,
 * no FMA: -ffp-contract=off), so every (d16, m16, err) it returns is bit-identical.
 */
#ifndef AQ_GGML_LEGACY_IMPL_H
#define AQ_GGML_LEGACY_IMPL_H

#include <float.h>
#include <stdint.h>

#include "aq/dtype.h"
#include "aq/ggml_legacy.h"

#if FLT_EVAL_METHOD != 0
#error "the legacy encoders rely on float arithmetic being evaluated in float"
#endif

#define LG_QK AQ_GGML_LEGACY_QK
#define LG_MAGIC 12582912.0f /* 1.5 * 2^23: (v + M) - M rounds |v| < 2^22 to nearest even */
#define LG_F16_MAX 65504.0f  /* largest finite fp16 */
#define LG_BATCH 16          /* candidates per batch: one AVX-512 vector, two AVX2 vectors */

/* One block prepared for the search: values, weights (h or 1), and the weighted sums the
 * asymmetric least-squares fit needs (sw = sum w_j, sx = sum w_j x_j, in j order). */
typedef struct {
    float x[LG_QK], w[LG_QK];
    float sw, sx;
} lg_block;

/* One evaluated candidate: fp16-rounded parameters (as floats) and the exact weighted
 * squared error of the block they encode. */
typedef struct {
    float d, m, err;
} lg_fit;

/* Compare-select min/max with the SIMD semantics (_mm*_min_ps(a, b) returns b when either
 * is NaN), so the reference and the twins agree even on degenerate sums. */
static inline float lg_min(float a, float b) {
    return a < b ? a : b;
}
static inline float lg_max(float a, float b) {
    return a > b ? a : b;
}

/* Nearest integer (ties to even) of v clamped to [lo, hi] (integers, |.| < 2^22), as float.
 * Clamping first maps NaN to lo and keeps the magic addition exact. */
static inline float lg_code(float v, float lo, float hi) {
    v = lg_min(lg_max(v, lo), hi);
    return (v + LG_MAGIC) - LG_MAGIC;
}

/* fp16 round trip of a value already clamped to [-65504, 65504] (aq/dtype.h conversions:
 * round to nearest even, subnormals kept) — what the decoder will read. */
static inline float lg_f16_round(float v) {
    return aq_f16_to_f32(aq_f32_to_f16(v));
}

/*! lg_eval_sym_*() : symmetric candidates c < nc (codes [lo, hi]: [-N, N-1], Q8_0 +-127):
 *    codes l_j = lg_code(x_j * is[c], lo, hi); d = sum w l x / sum w l l (0 if the
 *    denominator is not > 0), clamped to +-65504, fp16-rounded; codes re-chosen for d:
 *    l_j = lg_code(x_j * (d != 0 ? 1 / d : 0)); err = sum_j w_j (x_j - l_j d)^2.
 *    Sums in float, j = 0..31 in order; out[c] = {d, 0, err}. */
void lg_eval_sym_ref(const lg_block *b, float lo, float hi, const float *is, int nc, lg_fit *out);
void lg_eval_sym_avx2(const lg_block *b, float lo, float hi, const float *is, int nc, lg_fit *out);
void lg_eval_sym_avx512(const lg_block *b, float lo, float hi, const float *is, int nc,
                        lg_fit *out);

/*! lg_eval_asym_*() : asymmetric candidates c < nc (codes [0, N]):
 *    codes l_j = lg_code((x_j - lo[c]) * is[c], 0, N); weighted least squares of (d, m) for
 *    them from b->sw, b->sx and sl = sum w l, sll = sum w l l, sxl = sum w l x:
 *    D = sw sll - sl sl, d = (sw sxl - sx sl) / D, m = (sll sx - sl sxl) / D; when not
 *    (D > 0, |d| <= 65504, |m| <= 65504): d = 1 / is[c], m = lo[c]; both clamped to
 *    +-65504 and fp16-rounded; codes re-chosen: l_j = lg_code((x_j - m) * id, 0, N) with
 *    id = d > 0 ? 1 / d : 0; err = sum_j w_j (x_j - (l_j d + m))^2.  out[c] = {d, m, err}. */
void lg_eval_asym_ref(const lg_block *b, float nmax, const float *lo, const float *is, int nc,
                      lg_fit *out);
void lg_eval_asym_avx2(const lg_block *b, float nmax, const float *lo, const float *is, int nc,
                       lg_fit *out);
void lg_eval_asym_avx512(const lg_block *b, float nmax, const float *lo, const float *is, int nc,
                         lg_fit *out);

/* A kernel set: the two candidate evaluators of one ISA. */
typedef struct {
    void (*sym)(const lg_block *, float, float, const float *, int, lg_fit *);
    void (*asym)(const lg_block *, float, const float *, const float *, int, lg_fit *);
} lg_kernels;

extern const lg_kernels lg_kernels_ref, lg_kernels_avx2, lg_kernels_avx512;

/*! lg_quantize_row() : the search of include/aq/ggml_legacy.h for format `fmt` with the
 *  evaluators of `k`.  @return : 0, or -1 when n < 0 or n % 32 != 0 (nothing written). */
int lg_quantize_row(aq_ggml_legacy_fmt fmt, const lg_kernels *k, const float *x, const float *h,
                    int64_t n, void *blocks);

/*! lg_pack_block() : writes one block of `fmt` (its AQ_GGML_<FMT>_BYTES bytes) from the fp16
 *  parameters d, m (m ignored by symmetric formats) and the stored codes q[32] (Q8_0: the
 *  signed code + 128, code in [-127, 127]; Q4_0 / Q5_0: the signed code + 8 / + 16; Q4_1 / Q5_1:
 * the code). */
void lg_pack_block(aq_ggml_legacy_fmt fmt, uint16_t d, uint16_t m, const uint8_t *q,
                   unsigned char *out);

/*-*********************************************
 *  Per-block entry points of the GPTQ operations (src/quant/ggml/ggml_gptq.c)
 ***********************************************/

/*! lg_fit_block() : the search of lg_quantize_row() with the evaluators of `k` for ONE block
 *  x[0..32) (h: its 32 importances or NULL) of `fmt`: the stored parameters as floats, *d and
 *  *m (fp16 values; m = 0 for the symmetric formats), exactly those lg_quantize_row() stores
 *  for that block (with any kernel set: they are bit-identical). */
void lg_fit_block(aq_ggml_legacy_fmt fmt, const lg_kernels *k, const float *x, const float *h,
                  float *d, float *m);

/*! lg_code_at() : the stored code the encoder writes for weight x of a block with stored
 *  parameters d, m (the argument q[j] of lg_pack_block(): code + offset), and in *y the value
 *  the format's decode gives for it: (code - offset) * d (+ m for Q4_1 / Q5_1). */
uint8_t lg_code_at(aq_ggml_legacy_fmt fmt, float d, float m, float x, float *y);

#endif /* AQ_GGML_LEGACY_IMPL_H */
