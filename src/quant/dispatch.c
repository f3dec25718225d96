/*
 * aq-mpi — kernel sets and their runtime selection (cpuid through
 * __builtin_cpu_supports), and the names of the instruction sets (aq_simd).  The sets
 * themselves live beside their kernels: simd_ref.c, simd_avx2.c, simd_avx512.c.  The tables are
 * static constants: no global mutable state; the choice is made by the caller and passed down
 * explicitly.
 */
#include <string.h>

#include "quant_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

const char *const aq_simd_names[AQ_SIMD_N + 1] = {
    [AQ_SIMD_AUTO] = "auto",     [AQ_SIMD_SCALAR] = "scalar", [AQ_SIMD_AVX2] = "avx2",
    [AQ_SIMD_AVX512] = "avx512", [AQ_SIMD_N] = NULL,
};

int aq_simd_parse(const char *s, aq_simd *out) {
    for (int i = 0; s && i < AQ_SIMD_N; ++i)
        if (strcmp(s, aq_simd_names[i]) == 0) {
            *out = (aq_simd)i;
            return 0;
        }
    return -1;
}

static int have_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* F16C (cpuid leaf 1, ECX bit 29). */
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
    case AQ_SIMD_AUTO:
#if defined(__x86_64__) || defined(__i386__)
        if (have_avx512()) return &aq_kernels_avx512;
        if (have_avx2()) return &aq_kernels_avx2;
#endif
        return &aq_kernels_scalar;
    case AQ_SIMD_SCALAR:
        return &aq_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
    case AQ_SIMD_AVX2:
        return have_avx2() ? &aq_kernels_avx2 : NULL;
    case AQ_SIMD_AVX512:
        return have_avx512() ? &aq_kernels_avx512 : NULL;
#endif
    default:
        return NULL;
    }
}

const char *aq_kernels_name(const aq_kernels *k) {
    return k ? k->name : "none";
}

void aq_convert_to_f32_ex(const aq_kernels *k, aq_dtype dt, const void *src, size_t n, float *dst) {
    (k ? k : aq_kernels_select(0))->convert(dt, src, n, dst);
}
