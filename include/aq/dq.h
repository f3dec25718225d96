/*
 * aq-mpi — double-quantized group parameters ("dq", issue 8; k-quant-like layout).
 *
 * A row of `cols` weights is cut into super-blocks of AQ_DQ_SUPER = 256 weights, each made
 * of 16 groups of AQ_DQ_GROUP = 16 weights.  Group g of super-block b decodes as
 *     scale_g = d_b    * (float)sc_g          sc_g in 0..15 (4-bit code)
 *     min_g   = dmin_b * (float)mc_g          mc_g in 0..15 (4-bit code)
 *     w^      = min_g + (float)q * scale_g    q in 0..2^bits-1, float32 arithmetic
 * with d_b (>= 0) and dmin_b (either sign; usually negative, so min_g <= 0 for mc_g > 0)
 * stored as IEEE float16.  d * sc and dmin * mc are exact in float32 (11 x 4 significant
 * bits), so the decode does not depend on the evaluation order of the product.  The codes q
 * follow the single rounding rule of DESIGN section 3 (aq_encode_group()) for the STORED
 * scale_g/min_g, i.e. each q is the nearest code for the parameters in the file.
 *
 * Tail: when cols % 256 != 0 the last super-block holds ceil(rem / 16) groups and, when
 * cols % 16 != 0, its last group is short; counts and sizes below are ceilings.  Nothing is
 * padded: a short row stores exactly the groups it has.  A constant group is not exact (its
 * min is dmin * mc with a float16 dmin: relative error up to 2^-11).
 *
 * Storage of one row (bits in {2, 4}):
 *   codes : aq_packed_row_bytes(cols, bits) bytes, DESIGN 3 packing (lsb first; each group of
 *           16 codes starts on a byte boundary at byte 2 * bits * g);
 *   sub   : aq_dq_groups(cols) bytes, byte g = sc_g | mc_g << 4;
 *   super : 2 * aq_dq_supers(cols) uint16 float16 bits, [2b] = d_b, [2b + 1] = dmin_b.
 * A tensor [rows, cols] stores rows of each array back to back ([rows, per-row size]).
 * Bits/weight = (cols * bits + 8 * groups + 32 * supers) / cols, i.e. for cols % 256 == 0
 *     bits + 8/16 + 32/256 = 2.625 (2-bit), 4.625 (4-bit).
 *
 * Search (per super-block, importance h_j per column, NULL = all 1):
 *   1. per group the mse method of aq/quant.h (clipping search + weighted LS refit) with
 *      unrounded parameters -> target (s_g, m_g) and codes;
 *   2. d = max s_g / 15, dmin = (min m_g if -min m_g >= max m_g, else max m_g) / 15, nearest
 *      (sc, mc),
 *      then the joint weighted LS refit of (d, dmin) for those (sc, mc) and codes;
 *   3. d, dmin rounded to float16, per group the best of the 4 floor/ceil (sc, mc) pairs by
 *      the exact quadratic error for the current codes, the codes
 *      re-encoded for the stored parameters;
 *   4. AQ_DQ_ITERS refinement passes (LS targets from the new codes, (sc, mc), LS (d, dmin),
 *      float16, re-encode), each kept only when it lowers the weighted error.
 */
#ifndef AQ_DQ_H
#define AQ_DQ_H

#include <stddef.h>
#include <stdint.h>

#include "aq/dtype.h"
#include "aq/error.h"
#include "aq/quant.h"

#define AQ_DQ_GROUP 16
#define AQ_DQ_SUPER 256

/*! aq_dq_groups() : ceil(cols / 16), the sub bytes of one row. */
int64_t aq_dq_groups(int64_t cols);
/*! aq_dq_supers() : ceil(cols / 256); a row stores 2 * this many uint16. */
int64_t aq_dq_supers(int64_t cols);
/*! aq_dq_bits_per_weight() : total stored bits of one row / cols (0 when cols <= 0). */
double aq_dq_bits_per_weight(int64_t cols, int bits);

/*! aq_dq_quantize_row() :
 *  Quantizes `w[0..cols)` with importance `h` (cols entries >= 0, NULL: all 1) into `codes`,
 *  `sub`, `super` (sizes above).  Pure function of its inputs.
 *  @return : AQ_OK; AQ_E_CONFIG when bits is not 2 or 4; AQ_E_VALUE for a non-finite weight
 *            or when d/dmin do not fit float16 (|w| beyond ~1e6); outputs are then
 *            unspecified. */
aq_status aq_dq_quantize_row(const float *w, int64_t cols, int bits, const float *h,
                             uint8_t *codes, uint8_t *sub, uint16_t *super, aq_err *err);

/*! aq_dq_dequantize_row() : w^ of one row (cols floats to `out`) from its stored arrays. */
void aq_dq_dequantize_row(const uint8_t *codes, const uint8_t *sub, const uint16_t *super,
                          int64_t cols, int bits, float *out);

/*! aq_dq_quantize_tensor() :
 *  [rows, cols] tensor of `src_dtype` at `src` (rows widened one at a time).  OpenMP over
 *  rows; codes/sub/super and `metrics` (may be NULL; definitions of aq_quant_metrics) are
 *  bit-identical for any thread count (per-row partial sums added in row order).
 *  @return : AQ_OK; AQ_E_CONFIG bad bits; AQ_E_VALUE "tensor <name>: non-finite weight at
 *            [r, c]" (lowest flat index), a float16 overflow, a bad shape or h; AQ_E_NOMEM. */
aq_status aq_dq_quantize_tensor(aq_dtype src_dtype, const void *src, int64_t rows,
                                int64_t cols, int bits, const float *h, const char *name,
                                uint8_t *codes, uint8_t *sub, uint16_t *super,
                                aq_quant_metrics *metrics, aq_err *err);

#endif /* AQ_DQ_H */
