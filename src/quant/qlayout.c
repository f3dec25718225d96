/* Storage sizes of a quantized tensor (include/aq/qlayout.h). */
#include "aq/qlayout.h"

aq_dq_layout aq_quant_dq_layout(const aq_quant_params *p) {
    aq_dq_layout L = aq_dq_default_layout(p->bits);
    L.group_size = p->group_size;
    if (p->dq_bits) L.sub_bits = p->dq_bits;
    return L;
}

aq_qrow_sizes aq_qrow_sizes_of(const aq_quant_params *p, int64_t cols) {
    aq_qrow_sizes s = {aq_packed_row_bytes(cols, p->bits), 0, 0, 0, 0};
    if (p->scale_dtype == AQ_SCALE_DQ) {
        const aq_dq_layout L = aq_quant_dq_layout(p);
        s.params = aq_dq_supers(cols);
        s.sub = aq_dq_sub_row_bytes(cols, &L);
        s.scale = s.min = (size_t)s.params * sizeof(uint16_t);
    } else {
        s.params = aq_groups_per_row(cols, p->group_size);
        s.scale = s.min = (size_t)s.params * aq_scale_dtype_size(p->scale_dtype);
    }
    return s;
}

uint64_t aq_quant_tensor_bytes(const aq_quant_params *p, int64_t rows, int64_t cols) {
    const aq_qrow_sizes s = aq_qrow_sizes_of(p, cols);
    return (uint64_t)rows * (uint64_t)(s.codes + s.scale + s.min + s.sub);
}
