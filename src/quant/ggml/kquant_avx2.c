/*
 * aq-mpi — AVX2 entry points of the k-quant encoders (include/aq/ggml_kquants.h): the
 * same search as kquant_ref.c on the AVX2 kernel table (dq kernels of simd_avx2.c and
 * the signed-scale twins below), bit-identical to the reference.  Compiled with the ISA's
 * flags and -ffp-contract=off (CMakeLists.txt); call only when aq_ggml_kquant_isa() says so.
 */
#if defined(__x86_64__) || defined(__i386__)
#include "kquant_impl.h"

const aq_kq_kernels aq_kq_kernels_avx2 = {&aq_kernels_avx2, aq_kq_sym_targets_ref,
                                          aq_kq_sym_pick_ref};

void aq_ggml_quantize_row_q2_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx2, 2, x, h, n, blocks);
}

void aq_ggml_quantize_row_q3_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_sym(&aq_kq_kernels_avx2, 3, x, h, n, blocks);
}

void aq_ggml_quantize_row_q4_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx2, 4, x, h, n, blocks);
}

void aq_ggml_quantize_row_q5_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_affine(&aq_kq_kernels_avx2, 5, x, h, n, blocks);
}

void aq_ggml_quantize_row_q6_k_avx2(const float *x, const float *h, int64_t n, void *blocks) {
    aq_kq_quantize_sym(&aq_kq_kernels_avx2, 6, x, h, n, blocks);
}
#endif
