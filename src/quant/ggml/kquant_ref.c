/*
 * aq-mpi — scalar entry points of the k-quant encoders (include/aq/ggml_kquants.h) and the
 * ISA check of their twins.
 */
#include "kquant_impl.h"

const aq_kq_kernels aq_kq_kernels_ref = {&aq_kernels_scalar, aq_kq_ssums_ref};

int aq_ggml_kquant_isa(int simd) {
    const aq_kernels *k = aq_kernels_select(simd);
    return k != NULL && (simd == 1 || aq_kernels_name(k)[0] == 'a');
}

void aq_ggml_quantize_row_q2_k_ref(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_ref, 2, x, h, n, blocks);
}

void aq_ggml_quantize_row_q3_k_ref(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_sym(&aq_kq_kernels_ref, 3, x, h, n, blocks);
}

void aq_ggml_quantize_row_q4_k_ref(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_ref, 4, x, h, n, blocks);
}

void aq_ggml_quantize_row_q5_k_ref(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_ref, 5, x, h, n, blocks);
}

void aq_ggml_quantize_row_q6_k_ref(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_sym(&aq_kq_kernels_ref, 6, x, h, n, blocks);
}
