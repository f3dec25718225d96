/*
 * aq-mpi — ggml's legacy block formats Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (issue 13, item 1).
 *
 * Rows of weights are stored as ggml stores them, byte for byte: a row of n weights
 * (n % 32 == 0) is n / 32 blocks of 32 consecutive weights, blocks back to back, no padding,
 * every multi-byte field little-endian, fp16 = IEEE-754 binary16.  Source of the layouts and
 * of the decode formulas: llama.cpp ggml/src/ggml-common.h (block_q8_0, block_q4_0,
 * block_q4_1, block_q5_0, block_q5_1) and ggml/src/ggml-quants.c (dequantize_row_q8_0,
 * _q4_0, _q4_1, _q5_0, _q5_1), snapshot 0253fb21 (../shared/llama.cpp/SOURCE.txt).
 *
 *   format  bytes  offset: field                           decode of weight j (0..31), float32
 *   Q8_0    34     0: d fp16, 2: qs[32] int8               y = (float)qs[j] * d
 *   Q4_0    18     0: d fp16, 2: qs[16] nibbles            y = (float)(q_j - 8) * d
 *   Q4_1    20     0: d fp16, 2: m fp16, 4: qs[16]         y = (float)q_j * d + m
 *   Q5_0    22     0: d fp16, 2: qh[4], 6: qs[16]          y = (float)(q_j - 16) * d
 *   Q5_1    24     0: d fp16, 2: m fp16, 4: qh[4], 8: qs[16]  y = (float)q_j * d + m
 *
 * Nibbles: q_j = qs[j] & 15 and q_{j+16} = qs[j] >> 4 for j < 16 (the low nibbles hold the
 * first half of the block, the high nibbles the second half).  Q5: the 5th bit of q_j is bit
 * j of the little-endian uint32 qh (q_j = nibble_j | ((qh >> j) & 1) << 4).  Each product and
 * sum above is one float32 operation rounded to nearest (no fused multiply-add), in the order
 * written: the decoders here reproduce ggml's dequantize_row_* bit for bit.
 * Bits per weight: Q8_0 8.5, Q4_0 4.5, Q4_1 5.0, Q5_0 5.5, Q5_1 6.0.
 *
 * Encoders (ours, not ggml's): per block, minimise the weighted squared error
 *     E = sum_j w_j (x_j - y_j)^2,  w_j = h_j, or sqrt(1 + x_j^2 / ms) when h is NULL or
 *     sums to 0 in the block (ms = the block's mean square of x; all 1 for a zero block)
 * (src/quant/ggml/ggml_weights.h, docs/FORMAT.md "Error weights")
 * under the exact decode above, i.e. with d and m rounded to fp16 and every code the nearest
 * code for the STORED d and m.
 *   Symmetric formats (Q4_0, Q5_0: codes [-N, N-1], N = 8, 16; Q8_0: [-127, 127], the range
 *   ggml's own quantizer and int8 dot products use): candidate inverse steps t / max, max the
 *   element of largest magnitude (signed) mapped to code -t, over a coarse grid of 16 t around
 *   N, then 14 finer t around the best, max mapped to the top code, and one assign/refit
 *   (Lloyd) step of the best.
 *   Asymmetric formats (Q4_1, Q5_1: codes [0, N], N = 15, 31): the range [min, max] pulled in
 *   independently at each end, a 4 x 4 coarse grid, then a 4 x 4 local grid around the best
 *   with one corner replaced by a Lloyd step.
 * Every candidate fixes codes, (d, m) is refit by weighted least squares for those codes,
 * rounded to fp16, the codes are re-chosen for the rounded values, and the exact E is
 * measured.  ggml's own rule (Q8_0: d = amax / 127; Q4_0: d = max / -8; Q4_1: d = (max - min)
 * / 15, m = min; ...; for Q4_1 / Q5_1 also the constant block) is a candidate too, scored with
 * nearest codes, so E is never above that of ggml's reference quantizer quantize_row_*_ref
 * (up to the rounding of x / d as x * (1 / d)); ggml's importance-aware searches are compared
 * by aq-bench-ggml (bench/bench_ggml_legacy.c).  Ties keep the earliest candidate: the output is a
 * pure function of (x, h), independent of ISA, compiler, thread count and row order.
 *
 * Inputs: x finite.  |values| above what fp16 parameters can express (d, m clamped to
 * +-65504) saturate; a block whose largest magnitude is below 2^-30 (symmetric) or whose
 * range is below 2^-24 (asymmetric; then d = 0 and m = the weighted mean) is stored as a
 * constant; denormal inputs are valid.  h: non-negative finite importances (e.g. the mean
 * squared activation of the weight's input channel), one per element of x.
 *
 * Twins: aq_ggml_quantize_row_<fmt>_avx2 / _avx512 give output bit-identical to _ref (the
 * same IEEE float operations in the same order per candidate lane; tested), and may only be
 * called when aq_ggml_legacy_isa_supported() says so.
 */
#ifndef AQ_GGML_LEGACY_H
#define AQ_GGML_LEGACY_H

#include <stddef.h>
#include <stdint.h>

/* Weights per block, every legacy format (ggml QK8_0 = QK4_0 = QK4_1 = QK5_0 = QK5_1). */
#define AQ_GGML_LEGACY_QK 32

/* Bytes per block. */
#define AQ_GGML_Q8_0_BYTES 34
#define AQ_GGML_Q4_0_BYTES 18
#define AQ_GGML_Q4_1_BYTES 20
#define AQ_GGML_Q5_0_BYTES 22
#define AQ_GGML_Q5_1_BYTES 24

typedef enum {
    AQ_GGML_LEGACY_Q8_0 = 0,
    AQ_GGML_LEGACY_Q4_0,
    AQ_GGML_LEGACY_Q4_1,
    AQ_GGML_LEGACY_Q5_0,
    AQ_GGML_LEGACY_Q5_1,
    AQ_GGML_LEGACY_COUNT
} aq_ggml_legacy_fmt;

/* Encoder / decoder of one row, the shape of every function below. */
typedef int (*aq_ggml_quantize_row_fn)(const float *x, const float *h, int64_t n, void *blocks);
typedef int (*aq_ggml_dequantize_row_fn)(const void *blocks, int64_t n, float *y);

/*! aq_ggml_legacy_info : one format's constants and functions (a row of a format table). */
typedef struct {
    const char *name;  /* "q8_0", "q4_0", "q4_1", "q5_0", "q5_1" */
    int ggml_type;     /* ggml_type / GGUF tensor type id: 8, 2, 3, 6, 7 */
    int block_weights; /* 32 */
    int block_bytes;   /* AQ_GGML_<FMT>_BYTES */
    aq_ggml_quantize_row_fn quantize_ref, quantize_avx2, quantize_avx512;
    aq_ggml_dequantize_row_fn dequantize;
} aq_ggml_legacy_info;

/*! aq_ggml_legacy_get() : the constant descriptor of `fmt`.
 *  @return : a pointer to static constant data, NULL when fmt is out of range. */
const aq_ggml_legacy_info *aq_ggml_legacy_get(aq_ggml_legacy_fmt fmt);

/*! aq_ggml_legacy_row_bytes() : bytes of one row of n weights, (n / 32) * block bytes.
 *  @return : that size, 0 when fmt is out of range or n < 0 or n % 32 != 0. */
size_t aq_ggml_legacy_row_bytes(aq_ggml_legacy_fmt fmt, int64_t n);

/*! aq_ggml_legacy_isa_supported() :
 *  simd: 1 scalar, 2 AVX2 (+F16C), 3 AVX-512 (F, BW, VL, DQ + F16C); the numbering of
 *  aq_kernels_select(), whose CPU detection this reuses.
 *  @return : 1 when the _ref (1), _avx2 (2) or _avx512 (3) encoders may run on this CPU, else 0
 *            (always 0 for 2 and 3 on non-x86 builds). */
int aq_ggml_legacy_isa_supported(int simd);

/*! aq_ggml_quantize_row_<fmt>_ref() :
 *  Encodes x[0..n) into n / 32 blocks of <fmt> at `blocks` (aq_ggml_legacy_row_bytes() bytes,
 *  any alignment; must not overlap x or h), by the search described above.
 *  x : n finite floats; h : n importances >= 0, or NULL (uniform).
 *  @return : 0, or -1 (nothing written) when n < 0 or n % 32 != 0.
 *  Thread-safe, no allocation, no global state. */
int aq_ggml_quantize_row_q8_0_ref(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q4_0_ref(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q4_1_ref(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q5_0_ref(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q5_1_ref(const float *x, const float *h, int64_t n, void *blocks);

/*! aq_ggml_quantize_row_<fmt>_avx2() / _avx512() :
 *  The same as _ref, output bit-identical, with the candidate evaluation vectorised across
 *  candidates (8 / 16 lanes).  Call only when aq_ggml_legacy_isa_supported(2 / 3) is 1; on
 *  non-x86 builds they are the _ref functions.
 *  @return : as _ref. */
int aq_ggml_quantize_row_q8_0_avx2(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q4_0_avx2(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q4_1_avx2(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q5_0_avx2(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q5_1_avx2(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q8_0_avx512(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q4_0_avx512(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q4_1_avx512(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q5_0_avx512(const float *x, const float *h, int64_t n, void *blocks);
int aq_ggml_quantize_row_q5_1_avx512(const float *x, const float *h, int64_t n, void *blocks);

/*! aq_ggml_dequantize_row_<fmt>() :
 *  Decodes n / 32 blocks at `blocks` into y[0..n) by the formulas above, bit-identical to
 *  ggml's dequantize_row_<fmt>() (and to gguf-py's gguf.quants.dequantize; tested).
 *  @return : 0, or -1 (nothing written) when n < 0 or n % 32 != 0. */
int aq_ggml_dequantize_row_q8_0(const void *blocks, int64_t n, float *y);
int aq_ggml_dequantize_row_q4_0(const void *blocks, int64_t n, float *y);
int aq_ggml_dequantize_row_q4_1(const void *blocks, int64_t n, float *y);
int aq_ggml_dequantize_row_q5_0(const void *blocks, int64_t n, float *y);
int aq_ggml_dequantize_row_q5_1(const void *blocks, int64_t n, float *y);

#endif /* AQ_GGML_LEGACY_H */
