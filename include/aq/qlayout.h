/*
 * aq-mpi — storage sizes of one quantized tensor, whatever its layout.
 *
 * A quantized tensor [rows, cols] is stored as up to four arrays, each [rows, per-row size]:
 *   plain (scale_dtype f16 | f32, include/aq/quant.h):
 *     codes  uint8  [rows, aq_packed_row_bytes(cols, bits)]
 *     scale  f16|f32 [rows, groups]          min  f16|f32 [rows, groups]      sub  (none)
 *   double-quantized (scale_dtype dq, include/aq/dq.h):
 *     codes  uint8  [rows, aq_packed_row_bytes(cols, bits)]
 *     scale  f16    [rows, supers]   the super-block scales d
 *     min    f16    [rows, supers]   the super-block mins dmin
 *     sub    uint8  [rows, aq_dq_sub_row_bytes(cols, L)]   packed group scale/min codes
 * The job, the MPI protocol, the HDF5 writer and readers use these sizes, so a layout is
 * described in one place.
 */
#ifndef AQ_QLAYOUT_H
#define AQ_QLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "aq/dq.h"
#include "aq/quant.h"

/*! aq_qrow_sizes : bytes of one row of each array (0: the array does not exist), and the
 *  element counts of scale/min per row. */
typedef struct {
    size_t codes, scale, min, sub; /* bytes per row */
    int64_t params;                /* scale (and min) elements per row: groups or supers */
} aq_qrow_sizes;

/*! aq_quant_dq_layout() : the aq_dq_layout of params with scale_dtype dq: {bits,
 *  group_size, dq_bits, or aq_dq_default_layout(bits).sub_bits when dq_bits is 0}. */
aq_dq_layout aq_quant_dq_layout(const aq_quant_params *p);

/*! aq_qrow_sizes_of() : per-row sizes for valid params (aq_quant_params_check) and cols >= 0. */
aq_qrow_sizes aq_qrow_sizes_of(const aq_quant_params *p, int64_t cols);

/*! aq_quant_tensor_bytes() : rows * (codes + scale + min + sub) bytes per row, the stored
 *  size of the tensor before compression. */
uint64_t aq_quant_tensor_bytes(const aq_quant_params *p, int64_t rows, int64_t cols);

#endif /* AQ_QLAYOUT_H */
