/*
 * aq-mpi — kernel sets and their runtime selection (cpuid through
 * __builtin_cpu_supports).  The tables are static constants: no global mutable state; the
 * choice is made by the caller and passed down explicitly.
 */
#include "quant_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

const aq_kernels_t aq_kernels_scalar = {
    "scalar",           1,
    aq_convert_to_f32,  aq_minmax_f32,
    aq_encode_pack_ref, aq_dequant_ref,
    aq_err_sums_ref,    aq_group_wsse,
    aq_round2_ref,      aq_wconst_ref,
    aq_mse_eval_ref,    aq_first_nonfinite_ref,
    aq_rtn_params_ref,  aq_store_params_ref,
    aq_encode_row_ref,  aq_dq_targets_ref,
    aq_dq_pick_ref,
};

static int have_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* F16C from cpuid leaf 1 (ECX bit 29) directly: clang before 15 does not know "f16c" as a
 * __builtin_cpu_supports() feature name. */
static int have_f16c(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
#else
    return 0;
#endif
}

static int have_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && have_f16c() && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

const aq_kernels *aq_kernels_select(int simd) {
    switch (simd) {
    case 0:
#if defined(__x86_64__) || defined(__i386__)
        if (have_avx512()) return &aq_kernels_avx512;
        if (have_avx2()) return &aq_kernels_avx2;
#endif
        return &aq_kernels_scalar;
    case 1:
        return &aq_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
    case 2:
        return have_avx2() ? &aq_kernels_avx2 : NULL;
    case 3:
        return have_avx512() ? &aq_kernels_avx512 : NULL;
#endif
    default:
        return NULL;
    }
}

const char *aq_kernels_name(const aq_kernels *k) {
    return k ? k->name : "none";
}

static const aq_kernels_t *or_auto(const aq_kernels *k) {
    return k ? k : aq_kernels_select(0);
}

void aq_quantize_row_ex(const aq_kernels *k, const aq_quant_params *p, const float *w, int64_t cols,
                        const float *h, uint8_t *codes, void *scale, void *min) {
    aq_quantize_row_k(or_auto(k), p, w, cols, h, codes, scale, min);
}

void aq_dequantize_row_ex(const aq_kernels *k, const aq_quant_params *p, const uint8_t *codes,
                          const void *scale, const void *min, int64_t cols, float *out) {
    aq_dequantize_row_k(or_auto(k), p, codes, scale, min, cols, out);
}

void aq_group_params_mse_ex(const aq_kernels *k, const float *x, const float *h, int n, int bits,
                            aq_scale_dtype d, float *scale, float *min) {
    aq_group_params_mse_k(or_auto(k), x, h, n, bits, d, scale, min);
}

void aq_convert_to_f32_ex(const aq_kernels *k, aq_dtype dt, const void *src, size_t n, float *dst) {
    or_auto(k)->convert(dt, src, n, dst);
}
