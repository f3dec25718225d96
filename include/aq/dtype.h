/*
 * aq-mpi — tensor element types and conversions to and from float32.
 *
 * bf16: the upper 16 bits of an IEEE-754 binary32 (Google Brain bfloat16).
 * f16 : IEEE-754 binary16 (1 sign, 5 exponent bits with bias 15, 10 mantissa bits).
 * All narrowing conversions round to nearest, ties to even (IEEE-754 default), keep the
 * sign of zero, turn overflow into +-Inf and keep NaN a NaN (quiet).  Widening is exact.
 */
#ifndef AQ_DTYPE_H
#define AQ_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { AQ_DT_F32 = 0, AQ_DT_F16 = 1, AQ_DT_BF16 = 2 } aq_dtype;

/*! aq_dtype_size() : bytes per element (4, 2, 2). */
size_t aq_dtype_size(aq_dtype dt);

/*! aq_dtype_name() : the safetensors spelling: "F32", "F16", "BF16". */
const char *aq_dtype_name(aq_dtype dt);

/*! aq_dtype_parse() : parses a safetensors dtype string ("F32", "F16", "BF16").
 *  @return : 0 and sets *out on success, -1 for any other string (caller reports). */
int aq_dtype_parse(const char *s, aq_dtype *out);

/*! aq_bf16_to_f32() : exact widening of bfloat16 bits. */
float aq_bf16_to_f32(uint16_t h);
/*! aq_f32_to_bf16() : round-to-nearest-even narrowing; NaN stays NaN. */
uint16_t aq_f32_to_bf16(float f);
/*! aq_f16_to_f32() : exact widening of binary16 bits (subnormals included). */
float aq_f16_to_f32(uint16_t h);
/*! aq_f32_to_f16() : round-to-nearest-even narrowing; |f| >= 65520 -> Inf; NaN stays NaN. */
uint16_t aq_f32_to_f16(float f);

/*! aq_convert_to_f32() :
 *  Widens `n` elements of type `dt` at `src` (little-endian, any alignment) into `dst`.
 *  `src` and `dst` must not overlap. */
void aq_convert_to_f32(aq_dtype dt, const void *src, size_t n, float *dst);

#endif /* AQ_DTYPE_H */
