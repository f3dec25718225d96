/*
 * aq-mpi — ggml's k-quant formats Q2_K, Q3_K, Q4_K, Q5_K and Q6_K as row encoders and
 * decoders, byte for byte as ggml stores them (issue 13, item 1).
 *
 * Source of the layouts and decode formulas: llama.cpp ggml/src/ggml-common.h (block_q2_K
 * .. block_q6_K, QK_K = 256, K_SCALE_SIZE = 12) and ggml/src/ggml-quants.c
 * (dequantize_row_q2_K .. dequantize_row_q6_K).  The decoders below evaluate exactly those
 * float32 operations in the same order, so a block decodes to the same bits in ggml and
 * here.  The encoders are our own search (src/quant/ggml/kquant_*.c), not ggml's.
 *
 * A row of n weights (n % 256 == 0) is n / 256 super-blocks, stored back to back as
 * blocks of the sizes AQ_GGML_Q*_K_BYTES; every multi-byte field is little-endian, fp16 is
 * IEEE binary16.  Element e (0..255) of a super-block, "group" = the block's sub-block:
 *
 * Q2_K (84 bytes, 2.625 b/w): scales[16] | qs[64] | d fp16 | dmin fp16.
 *   Groups of 16: group g = e / 16, sc_g = scales[g] & 15, m_g = scales[g] >> 4;
 *   e = 128 h + 32 j + l (h 0..1, j 0..3, l 0..31): q = (qs[32 h + l] >> 2 j) & 3;
 *   y = (d * sc_g) * q - dmin * m_g.
 * Q3_K (110 bytes, 3.4375 b/w): hmask[32] | qs[64] | scales[12] | d fp16.
 *   Groups of 16, signed 6-bit scales: s_g = (lo4 | hi2 << 4) - 32 with
 *   lo4 = g < 8 ? scales[g] & 15 : scales[g - 8] >> 4, hi2 = (scales[8 + g % 4] >> 2 (g / 4)) & 3;
 *   e = 128 h + 32 j + l: low = (qs[32 h + l] >> 2 j) & 3, high = hmask[l] bit (4 h + j);
 *   y = (d * s_g) * (low - (high ? 0 : 4))            (codes -4..3).
 * Q4_K (144 bytes, 4.5 b/w): d fp16 | dmin fp16 | scales[12] | qs[128].
 *   Groups of 32 with 6-bit (sc_g, m_g) (ggml's get_scale_min_k4): g < 4: sc = scales[g] & 63,
 *   m = scales[g + 4] & 63; g >= 4: sc = (scales[g + 4] & 15) | (scales[g - 4] >> 6) << 4,
 *   m = (scales[g + 4] >> 4) | (scales[g] >> 6) << 4;
 *   e = 64 c + 32 k + l (c 0..3, k 0..1): q = (qs[32 c + l] >> 4 k) & 15;
 *   y = (d * sc_g) * q - dmin * m_g.
 * Q5_K (176 bytes, 5.5 b/w): d fp16 | dmin fp16 | scales[12] | qh[32] | qs[128].
 *   As Q4_K, plus the fifth bit: q += 16 when qh[l] bit (2 c + k) is set (codes 0..31).
 * Q6_K (210 bytes, 6.5625 b/w): ql[128] | qh[64] | scales[16] int8 | d fp16.
 *   Groups of 16, s_g = (int8) scales[g]; e = 128 h + 32 k + l (k 0..3):
 *   q = ((ql[64 h + 32 (k & 1) + l] >> 4 (k >> 1)) & 15) | ((qh[32 h + l] >> 2 k) & 3) << 4;
 *   y = (d * s_g) * (q - 32)                            (codes -32..31).
 *
 * Search (ours; importance h_j >= 0 per element, NULL = none; it minimises
 * sum_j w_j (x_j - y_j)^2 over the super-block for the format's exact decode, with
 * w_j = h_j sqrt(1 + x_j^2 / ms), or sqrt(1 + x_j^2 / ms) when h is NULL or sums to 0 over
 * the super-block, ms = the super-block's mean square of x (all 1 for a zero super-block);
 * src/quant/ggml/ggml_weights.h, docs/FORMAT.md "Error weights"):
 *   min-offset formats (Q2_K, Q4_K, Q5_K): per group a clipping grid of (scale, min)
 *   candidates, each refit by weighted least squares; per super-block (d, dmin) from the
 *   extreme targets and a joint weighted LS refit, fp16 rounding; per group the best
 *   (sc, m) of a 3 x 3 neighbourhood with the codes re-encoded; refinement passes kept per
 *   super-block only when they lower the weighted error (the "dq" search of
 *   include/aq/dq.h on the same kernels, with ggml's code range and sign of dmin).
 *   signed-scale formats (Q3_K, Q6_K): per group a grid of signed scales (the extreme weight
 *   on either end of the asymmetric code range), weighted LS scale for its codes; per
 *   super-block a few candidate d around the LS fit, nearest scale codes, weighted LS d,
 *   fp16, per group the best of the 3 neighbouring scale codes with the codes re-encoded;
 *   the candidate with the lowest weighted error wins.
 *   Stored codes are the nearest codes for the stored d, dmin and scale codes.
 *
 * Every variant (_ref, _avx2, _avx512) gives bit-identical blocks for the same input; the
 * output depends only on (x, h, n).  _avx2 / _avx512 may be called only when
 * aq_ggml_kquant_isa(2 / 3) returns 1.  Functions are pure, reentrant and allocate nothing
 * (a few KB of stack).
 *
 * Caller contract: n % 256 == 0 (llama-quantize falls back to another format for rows that
 * are not; an n that is not a multiple of 256 encodes / decodes only its first
 * floor(n / 256) super-blocks and leaves the rest of the row untouched); finite x (a
 * non-finite x gives unspecified blocks); |x| below ~1e6 so d and dmin fit fp16 (beyond,
 * d is stored as fp16 infinity); h finite and >= 0.
 */
#ifndef AQ_GGML_KQUANTS_H
#define AQ_GGML_KQUANTS_H

#include <stdint.h>

#define AQ_GGML_QK_K 256 /* weights per super-block */
#define AQ_GGML_Q2_K_BYTES 84
#define AQ_GGML_Q3_K_BYTES 110
#define AQ_GGML_Q4_K_BYTES 144
#define AQ_GGML_Q5_K_BYTES 176
#define AQ_GGML_Q6_K_BYTES 210

/*! aq_ggml_kquant_isa() : 1 when this CPU runs the variant `simd` (1 ref, 2 AVX2 + FMA,
 *  3 AVX-512 F/BW/DQ/VL + F16C; the detection of aq_kernels_select()), else 0. */
int aq_ggml_kquant_isa(int simd);

/*! aq_ggml_quantize_row_q2_k_ref() :
 *  Encodes x[0..n) with importance h[0..n) (NULL: all 1) into n / 256 block_q2_K
 *  (AQ_GGML_Q2_K_BYTES each) at `blocks`; every byte of every block is written.
 *  The _avx2 / _avx512 twins give the same bytes.  @return : nothing (see caller contract). */
void aq_ggml_quantize_row_q2_k_ref(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q2_k_avx2(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q2_k_avx512(const float *x, const float *h, int64_t n, void *blocks);

/*! aq_ggml_quantize_row_q3_k_ref() : as q2_k, n / 256 block_q3_K (AQ_GGML_Q3_K_BYTES). */
void aq_ggml_quantize_row_q3_k_ref(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q3_k_avx2(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q3_k_avx512(const float *x, const float *h, int64_t n, void *blocks);

/*! aq_ggml_quantize_row_q4_k_ref() : as q2_k, n / 256 block_q4_K (AQ_GGML_Q4_K_BYTES). */
void aq_ggml_quantize_row_q4_k_ref(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q4_k_avx2(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q4_k_avx512(const float *x, const float *h, int64_t n, void *blocks);

/*! aq_ggml_quantize_row_q5_k_ref() : as q2_k, n / 256 block_q5_K (AQ_GGML_Q5_K_BYTES). */
void aq_ggml_quantize_row_q5_k_ref(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q5_k_avx2(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q5_k_avx512(const float *x, const float *h, int64_t n, void *blocks);

/*! aq_ggml_quantize_row_q6_k_ref() : as q2_k, n / 256 block_q6_K (AQ_GGML_Q6_K_BYTES). */
void aq_ggml_quantize_row_q6_k_ref(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q6_k_avx2(const float *x, const float *h, int64_t n, void *blocks);
void aq_ggml_quantize_row_q6_k_avx512(const float *x, const float *h, int64_t n, void *blocks);

/*! aq_ggml_dequantize_row_q2_k() .. _q6_k() :
 *  y[0..n) from n / 256 blocks of the format, with ggml's dequantize_row_q*_K float32
 *  operations (bit-identical to ggml and to gguf-py's gguf.quants.dequantize).
 *  @return : nothing (n % 256 != 0: the tail of y is left untouched). */
void aq_ggml_dequantize_row_q2_k(const void *blocks, int64_t n, float *y);
void aq_ggml_dequantize_row_q3_k(const void *blocks, int64_t n, float *y);
void aq_ggml_dequantize_row_q4_k(const void *blocks, int64_t n, float *y);
void aq_ggml_dequantize_row_q5_k(const void *blocks, int64_t n, float *y);
void aq_ggml_dequantize_row_q6_k(const void *blocks, int64_t n, float *y);

#endif /* AQ_GGML_KQUANTS_H */
