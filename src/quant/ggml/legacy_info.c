/*
 * aq-mpi — the descriptor table of ggml's legacy formats and the CPU check of their SIMD
 * twins (include/aq/ggml_legacy.h).  Constant data only.
 */
#include "legacy_impl.h"

#include "aq/quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const aq_ggml_legacy_info k_info[AQ_GGML_LEGACY_COUNT] = {
    {"q8_0", 8, LG_QK, AQ_GGML_Q8_0_BYTES, aq_ggml_quantize_row_q8_0_ref,
     aq_ggml_quantize_row_q8_0_avx2, aq_ggml_quantize_row_q8_0_avx512, aq_ggml_dequantize_row_q8_0},
    {"q4_0", 2, LG_QK, AQ_GGML_Q4_0_BYTES, aq_ggml_quantize_row_q4_0_ref,
     aq_ggml_quantize_row_q4_0_avx2, aq_ggml_quantize_row_q4_0_avx512, aq_ggml_dequantize_row_q4_0},
    {"q4_1", 3, LG_QK, AQ_GGML_Q4_1_BYTES, aq_ggml_quantize_row_q4_1_ref,
     aq_ggml_quantize_row_q4_1_avx2, aq_ggml_quantize_row_q4_1_avx512, aq_ggml_dequantize_row_q4_1},
    {"q5_0", 6, LG_QK, AQ_GGML_Q5_0_BYTES, aq_ggml_quantize_row_q5_0_ref,
     aq_ggml_quantize_row_q5_0_avx2, aq_ggml_quantize_row_q5_0_avx512, aq_ggml_dequantize_row_q5_0},
    {"q5_1", 7, LG_QK, AQ_GGML_Q5_1_BYTES, aq_ggml_quantize_row_q5_1_ref,
     aq_ggml_quantize_row_q5_1_avx2, aq_ggml_quantize_row_q5_1_avx512, aq_ggml_dequantize_row_q5_1},
};

const aq_ggml_legacy_info *aq_ggml_legacy_get(aq_ggml_legacy_fmt fmt) {
    return (unsigned)fmt < AQ_GGML_LEGACY_COUNT ? &k_info[fmt] : NULL;
}

size_t aq_ggml_legacy_row_bytes(aq_ggml_legacy_fmt fmt, int64_t n) {
    const aq_ggml_legacy_info *i = aq_ggml_legacy_get(fmt);
    if (!i || n < 0 || n % LG_QK != 0) return 0;
    return (size_t)(n / LG_QK) * (size_t)i->block_bytes;
}

/* F16C (cpuid leaf 1, ECX bit 29): the AVX2 twin rounds to fp16 with vcvtps2ph, which
 * aq_kernels_select(2) does not check (its kernels do not need it). */
static int have_f16c(void) {
#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__) /* clang < 15 does not know "f16c": cpuid leaf 1 directly */
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
#else /* libgcc's table, read once at start-up: this runs once per row, and cpuid traps in a VM */
    return __builtin_cpu_supports("f16c");
#endif
#else
    return 0;
#endif
}

int aq_ggml_legacy_isa_supported(int simd) {
    switch (simd) {
    case 1:
        return 1;
    case 2:
        return aq_kernels_select(2) != NULL && have_f16c();
    case 3:
        return aq_kernels_select(3) != NULL; /* checks F16C itself */
    default:
        return 0;
    }
}
