/*
 * aq-mpi — the kernel tables of ggml's block formats, the rows AQ_QFMT_Q8_0 .. AQ_QFMT_Q6_K
 * of the format table (include/aq/qformat.h; the rows themselves are in qformat.c).
 *
 * The legacy encoders (include/aq/ggml_legacy.h) return an int (-1 for n % 32 != 0, which
 * the table's driver has excluded before: row_multiple), so they are wrapped here into the
 * table's void signature.  GGUF type ids: ggml/include/ggml.h (enum ggml_type) of the
 * llama.cpp snapshot in ../shared/llama.cpp.
 */
#include "aq/ggml_kquants.h"
#include "aq/ggml_legacy.h"
#include "quant_impl.h"

/* void twins of the legacy functions of format F (q8_0 ...). */
#define LEGACY_WRAP(F)                                                                             \
    static void F##_ref(const float *x, const float *h, int64_t n, void *b) {                      \
        (void)aq_ggml_quantize_row_##F##_ref(x, h, n, b);                                          \
    }                                                                                              \
    static void F##_avx2(const float *x, const float *h, int64_t n, void *b) {                     \
        (void)aq_ggml_quantize_row_##F##_avx2(x, h, n, b);                                         \
    }                                                                                              \
    static void F##_avx512(const float *x, const float *h, int64_t n, void *b) {                   \
        (void)aq_ggml_quantize_row_##F##_avx512(x, h, n, b);                                       \
    }                                                                                              \
    static void F##_dequant(const void *b, int64_t n, float *y) {                                  \
        (void)aq_ggml_dequantize_row_##F(b, n, y);                                                 \
    }

LEGACY_WRAP(q8_0)
LEGACY_WRAP(q4_0)
LEGACY_WRAP(q4_1)
LEGACY_WRAP(q5_0)
LEGACY_WRAP(q5_1)

#define LEGACY_BLOCKS(F, BYTES, TYPE)                                                              \
    {                                                                                              \
        .block_elems = AQ_GGML_LEGACY_QK, .block_bytes = (BYTES),                                  \
        .quantize = {[AQ_SIMD_SCALAR] = F##_ref,                                                   \
                     [AQ_SIMD_AVX2] = F##_avx2,                                                    \
                     [AQ_SIMD_AVX512] = F##_avx512},                                               \
        .dequantize = F##_dequant, .isa = aq_ggml_legacy_isa_supported, .ggml_type = (TYPE)        \
    }

#define KQUANT_BLOCKS(F, BYTES, TYPE)                                                              \
    {                                                                                              \
        .block_elems = AQ_GGML_QK_K, .block_bytes = (BYTES),                                       \
        .quantize = {[AQ_SIMD_SCALAR] = aq_ggml_quantize_row_##F##_ref,                            \
                     [AQ_SIMD_AVX2] = aq_ggml_quantize_row_##F##_avx2,                             \
                     [AQ_SIMD_AVX512] = aq_ggml_quantize_row_##F##_avx512},                        \
        .dequantize = aq_ggml_dequantize_row_##F, .isa = aq_ggml_kquant_isa, .ggml_type = (TYPE)   \
    }

const aq_qf_blocks aq_qf_q8_0 = LEGACY_BLOCKS(q8_0, AQ_GGML_Q8_0_BYTES, 8);
const aq_qf_blocks aq_qf_q4_0 = LEGACY_BLOCKS(q4_0, AQ_GGML_Q4_0_BYTES, 2);
const aq_qf_blocks aq_qf_q4_1 = LEGACY_BLOCKS(q4_1, AQ_GGML_Q4_1_BYTES, 3);
const aq_qf_blocks aq_qf_q5_0 = LEGACY_BLOCKS(q5_0, AQ_GGML_Q5_0_BYTES, 6);
const aq_qf_blocks aq_qf_q5_1 = LEGACY_BLOCKS(q5_1, AQ_GGML_Q5_1_BYTES, 7);
const aq_qf_blocks aq_qf_q2_k = KQUANT_BLOCKS(q2_k, AQ_GGML_Q2_K_BYTES, 10);
const aq_qf_blocks aq_qf_q3_k = KQUANT_BLOCKS(q3_k, AQ_GGML_Q3_K_BYTES, 11);
const aq_qf_blocks aq_qf_q4_k = KQUANT_BLOCKS(q4_k, AQ_GGML_Q4_K_BYTES, 12);
const aq_qf_blocks aq_qf_q5_k = KQUANT_BLOCKS(q5_k, AQ_GGML_Q5_K_BYTES, 13);
const aq_qf_blocks aq_qf_q6_k = KQUANT_BLOCKS(q6_k, AQ_GGML_Q6_K_BYTES, 14);
