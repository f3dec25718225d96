/*
 * aq-mpi — private kernels of src/quant (not installed, not part of the API).
 *
 * The scalar functions here are the reference for SIMD twins added later beside them
 * (same names with an _avx2 / _avx512 suffix); a twin must give bit-identical codes, so
 * the rounding rule lives in exactly one inline function, aq_code_of().
 */
#ifndef AQ_QUANT_IMPL_H
#define AQ_QUANT_IMPL_H

#include <float.h>
#include <stdint.h>

#include "aq/quant.h"

#if FLT_EVAL_METHOD != 0
#error "aq_code_of() relies on float arithmetic being evaluated in float (FLT_EVAL_METHOD 0)"
#endif

/* Largest group size, so group-level scratch can live on the stack. */
#define AQ_MAX_GROUP 256

/*! aq_code_of() :
 *  clamp(nearbyintf(v), 0, qmaxf) for the default rounding mode, without a libm call.
 *  Clamping first does not change the result (rounding is monotonic and 0, qmaxf are
 *  integers) and maps NaN to 0, so the float->int conversion is always defined.  Adding
 *  1.5*2^23 moves v (now in [0, 255]) into a binade whose ulp is 1, so the addition itself
 *  rounds to nearest, ties to even, exactly as nearbyintf() would; without -ffast-math the
 *  compiler may not fold the pair away. */
static inline uint8_t aq_code_of(float v, float qmaxf) {
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    v = v > 0.0f ? v : 0.0f;
    v = v < qmaxf ? v : qmaxf;
    return (uint8_t)((v + magic) - magic);
}

/*! aq_qmax() : 2^bits - 1. */
static inline int aq_qmax(int bits) {
    return (1 << bits) - 1;
}

/*! aq_minmax_f32() : smallest and largest of x[0..n) (both 0 when n == 0). */
void aq_minmax_f32(const float *x, int n, float *lo, float *hi);

/*! aq_params_from_range() :
 *  scale = (hi - lo) / qmax and min = lo, both rounded to `d`; scale 0 when hi <= lo or
 *  when the scale rounds to 0 (min is then lo rounded). */
void aq_params_from_range(float lo, float hi, int bits, aq_scale_dtype d, float *scale,
                          float *min);

/*! aq_group_wsse() :
 *  sum_j h_j (x_j - x^_j)^2 (h NULL: all 1) for stored `scale`/`min`, codes by the exact
 *  encoding rule and x^ = min + q * scale in float, as aq_dequantize_row() decodes it. */
double aq_group_wsse(const float *x, const float *h, int n, int bits, float scale, float min);

/*! aq_store_param() / aq_load_param() : element `i` of a scale/min array of dtype `d`
 *  (memcpy, so the caller's array needs no particular alignment). */
void aq_store_param(void *arr, int64_t i, aq_scale_dtype d, float v);
float aq_load_param(const void *arr, int64_t i, aq_scale_dtype d);

#endif /* AQ_QUANT_IMPL_H */
