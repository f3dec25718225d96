/*
 * aq-mpi — static weight quantization (docs/DESIGN.md §3).
 *
 * Asymmetric affine codes per group of `group_size` consecutive weights of one row:
 *     qmax = 2^bits - 1
 *     q    = clamp(nearbyint((w - min) / scale), 0, qmax)    round half to even, float32
 *     w^   = min + q * scale                                   float32
 * `scale` and `min` are rounded to their stored precision (f16 or f32) BEFORE the codes
 * are computed, so every reported error is the error of what is stored.  A constant group,
 * or one whose scale rounds to 0, has scale = 0 and codes 0.  The last group of a row is
 * short when cols % group_size != 0.
 *
 * Methods:
 *   rtn : min/max of the group.
 *   mse : search of a clipping range minimising the importance-weighted squared error
 *         sum_j h_j (w_j - w^_j)^2, each candidate refit in closed form by weighted least
 *         squares of (scale, min) for its codes, the best refined by a few
 *         assign/refit iterations; the rtn solution is a candidate, so mse is never worse
 *         than rtn on the same group (after storage rounding).  Candidate grid in quant/mse.c.
 *
 * Packing ("lsb-first-row-aligned"): the codes of one row are bit-packed little-endian, code
 * i at bit i*bits of the row's byte string (2-bit: 4 codes per byte, code 0 in bits 0-1;
 * 4-bit: low nibble first); each row starts on a byte boundary, unused high bits are 0.
 *
 * Layouts: a weight tensor is [rows, cols] row-major (Hugging Face [out, in]); codes are
 * [rows, aq_packed_row_bytes(cols, bits)]; scale and min are [rows, groups] of the scale
 * dtype (uint16 f16 bits or float).  Importance h has `cols` entries (per input channel),
 * NULL meaning all 1.
 */
#ifndef AQ_QUANT_H
#define AQ_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "aq/dtype.h"
#include "aq/error.h"

typedef enum { AQ_METHOD_RTN = 0, AQ_METHOD_MSE = 1 } aq_method;
/* AQ_SCALE_DQ: the group scale and min are themselves quantized (double quantization,
 * include/aq/dq.h); each scale dtype names a row of the format table (aq/qformat.h), whose
 * driver aq_qformat_quantize_tensor() quantizes every layout.  The row functions of this
 * header (aq_quantize_row, aq_dequantize_row) handle f16 and f32 only. */
typedef enum { AQ_SCALE_F16 = 0, AQ_SCALE_F32 = 1, AQ_SCALE_DQ = 2 } aq_scale_dtype;

typedef struct {
    int bits;         /* 2, 4 or 8; also 3 with AQ_SCALE_DQ */
    int group_size;   /* 16, 32, 64, 128 or 256 */
    aq_method method; /* AQ_SCALE_DQ: must be mse (the dq search is an mse search) */
    aq_scale_dtype scale_dtype;
    int dq_bits; /* AQ_SCALE_DQ: width of the group scale/min codes, 4..8;
                    0 = aq_dq_default_layout(bits).sub_bits; ignored otherwise */
    int format;  /* 0: the row of scale_dtype; else an aq_qformat_id of a block format
                    (ggml's Q8_0 .. Q6_K, job key quant.format, include/aq/qformat.h), which
                    then ignores bits, group_size, method, scale_dtype and dq_bits.  Last
                    field, so positional initializers of the five above keep their meaning */
} aq_quant_params;

/*! aq_quant_params_check() : AQ_OK, or AQ_E_CONFIG with a message for a bad field (bits 3
 *  without scale_dtype dq, dq with method rtn, a dq layout refused by aq_dq_layout_check,
 *  an unknown format); the format-specific part is its row's check (aq/qformat.h). */
aq_status aq_quant_params_check(const aq_quant_params *p, aq_err *err);

/*! aq_method_name() : "rtn" / "mse".  aq_scale_dtype_name() : "f16" / "f32" / "dq". */
const char *aq_method_name(aq_method m);
const char *aq_scale_dtype_name(aq_scale_dtype d);

/*! aq_packed_row_bytes() : ceil(cols * bits / 8). */
size_t aq_packed_row_bytes(int64_t cols, int bits);
/*! aq_groups_per_row() : ceil(cols / group_size). */
int64_t aq_groups_per_row(int64_t cols, int group_size);
/*! aq_scale_dtype_size() : 2 (f16; dq: its float16 super-block values) or 4 (f32). */
size_t aq_scale_dtype_size(aq_scale_dtype d);

/*-*********************************************
 *  Group level (scalar reference)
 ***********************************************/

/*! aq_round_param() : `v` rounded to the storage precision `d` and widened back. */
float aq_round_param(float v, aq_scale_dtype d);

/*! aq_group_params_rtn() :
 *  scale/min of `x[0..n)` by min/max, already rounded to `d`.  Inputs must be finite. */
void aq_group_params_rtn(const float *x, int n, int bits, aq_scale_dtype d, float *scale,
                         float *min);

/*! aq_group_params_mse() :
 *  scale/min of `x[0..n)` minimising sum h_j (x_j - x^_j)^2 (h may be NULL: all 1), rounded
 *  to `d`.  Never a larger weighted error than aq_group_params_rtn() on the same input. */
void aq_group_params_mse(const float *x, const float *h, int n, int bits, aq_scale_dtype d,
                         float *scale, float *min);

/*! aq_encode_group() : q[j] = clamp(nearbyint((x[j]-min)/scale), 0, qmax); scale 0 -> 0. */
void aq_encode_group(const float *x, int n, int bits, float scale, float min, uint8_t *q);

/*! aq_pack_codes() / aq_unpack_codes() : `n` codes <-> packed bytes (layout above).
 *  pack writes aq_packed_row_bytes(n, bits) bytes, zeroing unused bits. */
void aq_pack_codes(const uint8_t *q, int64_t n, int bits, uint8_t *packed);
void aq_unpack_codes(const uint8_t *packed, int64_t n, int bits, uint8_t *q);

/*-*********************************************
 *  Row and tensor level
 ***********************************************/

/*! aq_quantize_row() :
 *  Quantizes one row `w[0..cols)` (finite) with importance `h` (NULL: all 1) into packed
 *  `codes` (aq_packed_row_bytes bytes) and `scale`/`min` (groups entries of the scale
 *  dtype).  Pure function of its inputs. */
void aq_quantize_row(const aq_quant_params *p, const float *w, int64_t cols, const float *h,
                     uint8_t *codes, void *scale, void *min);

/*! aq_dequantize_row() : w^ for one row from its packed codes and stored scale/min. */
void aq_dequantize_row(const aq_quant_params *p, const uint8_t *codes, const void *scale,
                       const void *min, int64_t cols, float *out);

/*! aq_quant_metrics : per-tensor error figures (double accumulation, docs/DESIGN.md §3).
 *  rel_mse = |W-W^|^2/|W|^2; sqnr_db = -10 log10 rel_mse; cosine = <W,W^>/(|W||W^|);
 *  weighted_rel_err = sum_ij h_j (W-W^)^2 / sum_ij h_j W^2.
 *  Conventions: |W| = 0 gives rel_mse 0 when W^ = W; an exact result gives sqnr_db = +Inf;
 *  cosine is 1 when both norms are 0. */
typedef struct {
    double rel_mse;
    double sqnr_db;
    double cosine;
    double weighted_rel_err;
} aq_quant_metrics;

/*! aq_quantize_tensor() :
 *  aq_qformat_quantize_tensor() (aq/qformat.h) for the plain layouts: quantizes a [rows, cols]
 * tensor stored as `src_dtype` at `src` (may be unaligned; rows are widened to float32 one at a
 * time, so no f32 copy of the tensor is made).  OpenMP over rows; results and metrics are
 * bit-identical for any thread count (per-row partial sums are added in row order).  `codes`,
 * `scale`, `min` are caller-allocated with the layouts above; `metrics` may be NULL.  `name` is
 * used in messages.
 *  @return : AQ_OK; AQ_E_VALUE "tensor <name>: non-finite weight at [r, c]" for the first
 *            (lowest flat index) NaN/Inf, nothing else meaningful written; AQ_E_CONFIG for bad
 *            params; AQ_E_NOMEM. */
aq_status aq_quantize_tensor(const aq_quant_params *p, aq_dtype src_dtype, const void *src,
                             int64_t rows, int64_t cols, const float *h, const char *name,
                             uint8_t *codes, void *scale, void *min, aq_quant_metrics *metrics,
                             aq_err *err);

/*-*********************************************
 *  Kernel sets (runtime dispatch)
 ***********************************************/

/* Instruction sets (run.simd): 0 auto = the widest the CPU supports. */
typedef enum { AQ_SIMD_AUTO = 0, AQ_SIMD_SCALAR, AQ_SIMD_AVX2, AQ_SIMD_AVX512, AQ_SIMD_N } aq_simd;

/* "auto", "scalar", "avx2", "avx512", then NULL: the names of aq_simd, in enum order (the
 * values of run.simd and of aq-bench --simd). */
extern const char *const aq_simd_names[AQ_SIMD_N + 1];

/*! aq_simd_parse() : the aq_simd named `s` (aq_simd_names); @return : 0, or -1 (unknown). */
int aq_simd_parse(const char *s, aq_simd *out);

/* A constant table of kernels for one instruction set: scalar reference, AVX2 (+FMA
 * not used) or AVX-512 (F, BW, VL).  Every set gives bit-identical codes, scale/min and
 * metrics (same operations, same accumulation order), so results never depend on the
 * hardware; only the speed differs. */
typedef struct aq_kernels_s aq_kernels;

/*! aq_kernels_select() :
 *  `simd` is an aq_simd value: 0 auto (the widest the CPU supports), 1 scalar, 2 avx2,
 *  3 avx512.
 *  @return : a pointer to a static constant table, or NULL when the requested set was not
 *            compiled in or the CPU lacks it (the caller reports). */
const aq_kernels *aq_kernels_select(int simd);

/*! aq_kernels_name() : "scalar", "avx2" or "avx512" ("none" for NULL). */
const char *aq_kernels_name(const aq_kernels *k);

/*! aq_quantize_tensor_ex() : aq_quantize_tensor() with an explicit kernel set (NULL: the
 *  aq_kernels_select(0) choice).  aq_quantize_tensor() is this with NULL. */
aq_status aq_quantize_tensor_ex(const aq_quant_params *p, const aq_kernels *k, aq_dtype src_dtype,
                                const void *src, int64_t rows, int64_t cols, const float *h,
                                const char *name, uint8_t *codes, void *scale, void *min,
                                aq_quant_metrics *metrics, aq_err *err);

/*! aq_quantize_row_ex() / aq_dequantize_row_ex() : the row functions with a kernel set
 *  (NULL: auto); bit-identical to aq_quantize_row() / aq_dequantize_row(). */
void aq_quantize_row_ex(const aq_kernels *k, const aq_quant_params *p, const float *w, int64_t cols,
                        const float *h, uint8_t *codes, void *scale, void *min);
void aq_dequantize_row_ex(const aq_kernels *k, const aq_quant_params *p, const uint8_t *codes,
                          const void *scale, const void *min, int64_t cols, float *out);

/*! aq_group_params_mse_ex() : aq_group_params_mse() with a kernel set (NULL: auto). */
void aq_group_params_mse_ex(const aq_kernels *k, const float *x, const float *h, int n, int bits,
                            aq_scale_dtype d, float *scale, float *min);

/*! aq_convert_to_f32_ex() : aq_convert_to_f32() with a kernel set (NULL: auto). */
void aq_convert_to_f32_ex(const aq_kernels *k, aq_dtype dt, const void *src, size_t n, float *dst);

#endif /* AQ_QUANT_H */
