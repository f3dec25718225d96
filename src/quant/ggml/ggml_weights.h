/*
 * aq-mpi — the error weights of the ggml-format encoders (legacy_search.c, kquant_affine.c,
 * kquant_sym.c): the one place where the weight w_j of each element's squared error is
 * formed from the values x_j and the importance h_j (calibration statistic, NULL without).
 * The ISA twins only evaluate candidates on these weights, so they stay bit-identical.
 */
#ifndef AQ_GGML_WEIGHTS_H
#define AQ_GGML_WEIGHTS_H

#include <stdint.h>

/*! aq_ggml_weights() : w[0..n) for the region x[0..n) (a legacy block of 32, a k-quant
 *  super-block of 256) with importance h[0..n) (NULL: uncalibrated).  With
 *  ms = sum_j x_j^2 / n (double) and u_j = x_j^2 / ms:
 *    calibrated (h given, sum_j h_j > 0)  w_j = h_j * sqrt(2 + u_j)
 *    otherwise                            w_j = 2 + u_j
 *  i.e. llama.cpp's h_j sqrt(sigma2 + x_j^2) with sigma2 = 2 ms (and sigma2 + x_j^2 without
 *  h), divided by a constant of the region (sqrt(ms), ms), which leaves every choice of the
 *  search unchanged and keeps the error sums finite for any finite x.  Float operations in j
 *  order (u_j = x_j^2 * (n / sum x^2) in double, then rounded to float).  docs/FORMAT.md "Error
 * weights".
 *  @return : 1 when w was written, 0 when every x_j is 0 (w untouched: weigh every element 1). */
int aq_ggml_weights(const float *x, const float *h, int64_t n, float *w);

#endif /* AQ_GGML_WEIGHTS_H */
