/*
 * aq-mpi — double-quantized group parameters ("dq", issue 8; a k-quant-like layout).
 *
 * Layout aq_dq_layout {bits, group_size G, sub_bits S}.  A row of `cols` weights is cut into
 * super-blocks of AQ_DQ_SUPER = 256 weights, each made of 256 / G groups of G weights.
 * Group g of super-block b decodes as
 *     scale_g = d_b    * (float)sc_g          sc_g in 0..2^S-1
 *     min_g   = dmin_b * (float)mc_g          mc_g in 0..2^S-1
 *     w^      = min_g + (float)q * scale_g    q in 0..2^bits-1, float32 arithmetic
 * with d_b (>= 0) and dmin_b (either sign; usually negative, so min_g <= 0 for mc_g > 0)
 * stored as IEEE float16.  d * sc and dmin * mc are exact in float32 (11 + 8 significant
 * bits at most), so the decode does not depend on the evaluation order of the product.  The
 * codes q follow the single rounding rule of docs/DESIGN.md §3 (aq_encode_group()) for the
 * STORED scale_g/min_g, i.e. each q is the nearest code for the parameters in the file.
 *
 * Tail: when cols % 256 != 0 the last super-block holds ceil(rem / G) groups and, when
 * cols % G != 0, its last group is short; counts and sizes below are ceilings.  Nothing is
 * padded.  A constant group is not exact (its min is dmin * mc with a float16 dmin).
 *
 * Storage of one row:
 *   codes : aq_packed_row_bytes(cols, bits) bytes, docs/DESIGN.md §3 packing (lsb first; code i at
 *           bit i * bits);
 *   sub   : aq_dq_sub_row_bytes(cols, L) bytes: the 2 * groups codes sc_0, mc_0, sc_1, mc_1,
 *           ... packed with the same rule at S bits each (S = 4: byte g = sc_g | mc_g << 4);
 *   d     : aq_dq_supers(cols) uint16 float16 bits, the super-block scales d_b;
 *   dmin  : aq_dq_supers(cols) uint16 float16 bits, the super-block mins dmin_b.
 * A tensor [rows, cols] stores rows of each array back to back ([rows, per-row size]).
 * Bits/weight = (8 * (codes + sub bytes) + 32 * supers) / cols, for cols % 256 == 0:
 *     bits + 2 S / G + 32 / 256:  2-bit G16 S4 = 2.625 (Q2_K's size), 3-bit G32 S5 = 3.4375
 *     (Q3_K's), 4-bit G32 S6 = 4.5 (Q4_K's) — aq_dq_default_layout().
 * Source of the idea: llama.cpp k-quants (ggml-quants.c, Q2_K..Q6_K: 4-6-bit block scales
 * under a float16 super-block scale); our search is our own (below), not ggml's.
 *
 * Search (per super-block, importance h_j per column, NULL = all 1; src/quant/dq.c):
 *   1. per group, targets (s_g, m_g) minimising the h-weighted squared error: 4 clipping
 *      candidates (each end of the range pulled or not towards the weighted mean, by a step
 *      per code width) each refit by weighted least squares for its codes, the best one,
 *      then one assign/refit step;
 *   2. d = max s_g / (2^S - 1), dmin = the extreme m_g / (2^S - 1), nearest (sc, mc), a
 *      joint weighted least-squares refit of (d, dmin) for those codes, float16 rounding;
 *   3. per group (sc, mc): the best floor/ceil pair by the closed-form error for the
 *      target codes, then the 3 x 3 neighbourhood of it with the codes re-encoded, the
 *      lowest weighted error wins;
 *   4. one refinement (LS targets for the new codes, nearest (sc, mc), LS (d, dmin),
 *      float16, step 3 without the neighbourhood), kept per super-block only when it
 *      lowers the weighted error.
 * The stored codes are then the exact rule's for the stored parameters, and every error
 * reported is that of the stored result.  The result depends only on the inputs: any
 * thread count and any kernel set (scalar, AVX2, AVX-512) give the same bits.
 */
#ifndef AQ_DQ_H
#define AQ_DQ_H

#include <stddef.h>
#include <stdint.h>

#include "aq/dtype.h"
#include "aq/error.h"
#include "aq/quant.h"

#define AQ_DQ_SUPER 256

/*! aq_dq_layout : the code width, group size and width of the group scale/min codes. */
typedef struct {
    int bits;       /* code width: 2, 3, 4 or 8 */
    int group_size; /* G: 16, 32, 64, 128 or 256 (divides AQ_DQ_SUPER) */
    int sub_bits;   /* S: width of each group's scale code and min code, 4..8 */
} aq_dq_layout;

/*! aq_dq_default_layout() : the k-quant-sized layout for `bits`: 2 -> {2, 16, 4} (2.625
 *  b/w), 3 -> {3, 32, 5} (3.4375), 4 -> {4, 32, 6} (4.5), 8 -> {8, 32, 6} (8.5); other
 *  values give {bits, 32, 6} (rejected by aq_dq_layout_check when bits is invalid). */
aq_dq_layout aq_dq_default_layout(int bits);

/*! aq_dq_layout_check() : AQ_OK, or AQ_E_CONFIG naming the bad field ("dq: bits = 5: must
 *  be 2, 3, 4 or 8" and the like). */
aq_status aq_dq_layout_check(const aq_dq_layout *L, aq_err *err);

/*! aq_dq_groups() : ceil(cols / G). */
int64_t aq_dq_groups(int64_t cols, const aq_dq_layout *L);
/*! aq_dq_sub_row_bytes() : ceil(2 * groups * S / 8), the sub bytes of one row. */
size_t aq_dq_sub_row_bytes(int64_t cols, const aq_dq_layout *L);
/*! aq_dq_supers() : ceil(cols / 256), the d (and dmin) entries of one row. */
int64_t aq_dq_supers(int64_t cols);
/*! aq_dq_bits_per_weight() : total stored bits of one row / cols (0 when cols <= 0). */
double aq_dq_bits_per_weight(int64_t cols, const aq_dq_layout *L);

/*! aq_quant_dq_layout() : the aq_dq_layout of params with scale_dtype dq: {bits,
 *  group_size, dq_bits, or aq_dq_default_layout(bits).sub_bits when dq_bits is 0}. */
aq_dq_layout aq_quant_dq_layout(const aq_quant_params *p);

/*! aq_dq_quantize_row() :
 *  Quantizes `w[0..cols)` with importance `h` (cols entries >= 0, NULL: all 1) into `codes`,
 *  `sub`, `d`, `dmin` (sizes above; every byte of them is written, unused high bits 0) with
 *  kernel set `k` (NULL: aq_kernels_select(0)); every kernel set gives bit-identical output.
 *  Pure function of its inputs; uses about 64 KB of stack.  cols <= 0 writes nothing.
 *  @return : AQ_OK; AQ_E_CONFIG for a bad layout; AQ_E_VALUE for a non-finite weight or when
 *            d/dmin do not fit float16 (|w| beyond ~1e6); outputs are then unspecified. */
aq_status aq_dq_quantize_row(const aq_kernels *k, const aq_dq_layout *L, const float *w,
                             int64_t cols, const float *h, uint8_t *codes, uint8_t *sub,
                             uint16_t *d, uint16_t *dmin, aq_err *err);

/*! aq_dq_dequantize_row() : w^ of one row (cols floats to `out`) from its stored arrays
 *  (the layout must be valid). */
void aq_dq_dequantize_row(const aq_dq_layout *L, const uint8_t *codes, const uint8_t *sub,
                          const uint16_t *d, const uint16_t *dmin, int64_t cols, float *out);

/*! aq_dq_quantize_tensor() :
 *  aq_qformat_quantize_tensor() (aq/qformat.h, the one tensor driver) for the "dq" row with
 *  the arrays named here: a [rows, cols] tensor of `src_dtype` at `src` (rows widened one at a
 * time), kernel set `k` (NULL: auto).  Arrays are [rows, per-row size] as above, caller-allocated.
 * OpenMP over rows; codes/sub/d/dmin and `metrics` (may be NULL; definitions of aq_quant_metrics)
 * are bit-identical for any thread count and kernel set (per-row partial sums added in row order).
 * `name` is used in messages.
 *  @return : AQ_OK; AQ_E_CONFIG bad layout; AQ_E_VALUE "tensor <name>: non-finite weight at
 *            [r, c]" (lowest flat index over the tensor), else a float16 overflow naming row
 *            and column, a bad shape or h, a missing buffer; AQ_E_NOMEM. */
aq_status aq_dq_quantize_tensor(const aq_kernels *k, const aq_dq_layout *L, aq_dtype src_dtype,
                                const void *src, int64_t rows, int64_t cols, const float *h,
                                const char *name, uint8_t *codes, uint8_t *sub, uint16_t *d,
                                uint16_t *dmin, aq_quant_metrics *metrics, aq_err *err);

#endif /* AQ_DQ_H */
