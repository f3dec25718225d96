/*
 * aq-mpi — the error weights of the ggml-format encoders (legacy_search.c, kquant_affine.c,
 * kquant_sym.c): the one place where the weight w_j of each element's squared error is
 * formed from the values x_j and the importance h_j (calibration statistic, NULL without).
 * The ISA twins only evaluate candidates on these weights, so they stay bit-identical.
 */
#ifndef AQ_GGML_WEIGHTS_H
#define AQ_GGML_WEIGHTS_H

#include <stdint.h>

/* Which encoder family asks (the calibrated formula differs). */
typedef enum {
    AQ_GGML_W_LEGACY = 0, /* Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: region = block of 32 */
    AQ_GGML_W_KQUANT = 1  /* Q2_K .. Q6_K: region = super-block of 256 */
} aq_ggml_wfamily;

/*! aq_ggml_weights() : w[0..n) for the region x[0..n) with importance h[0..n) (NULL:
 *  uncalibrated).  With u_j = x_j^2 / ms, ms = sum_j x_j^2 / n the region's mean square:
 *    k-quants, calibrated (h given, sum_j h_j > 0)   w_j = h_j * sqrt(1 + u_j)
 *    legacy formats, calibrated                      w_j = h_j
 *    uncalibrated (h NULL or sum_j h_j == 0), both   w_j = sqrt(1 + u_j)
 *  i.e. llama.cpp's imatrix_j * sqrt(sigma2 + x_j^2) (ggml-quants.c, its k-quant and legacy
 *  *_impl functions) with sigma2 = ms, divided by sqrt(ms), a constant of the region that
 *  leaves every choice of the search unchanged and keeps the error sums finite for any
 *  finite x.  Chosen by KL on the calibration text (docs/LLAMA_CPP.md "Error weights").
 *  Float operations in j order; u_j = x_j^2 * (n / sum x^2) in double, rounded to float.
 *  @return : 1 when w was written, 0 when uncalibrated and every x_j is 0 (w untouched: the
 *  caller weighs every element 1). */
int aq_ggml_weights(aq_ggml_wfamily fam, const float *x, const float *h, int64_t n, float *w);

#endif /* AQ_GGML_WEIGHTS_H */
