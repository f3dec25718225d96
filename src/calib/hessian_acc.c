/*
 * aq-mpi — accumulation of time-weighted layer-input Hessians (include/aq/hessian.h):
 * float32 ssyrk per batch, double packed upper triangle across batches.
 */
#include <cblas.h>
#include <math.h>

#include "aq/hessian.h"

int64_t aq_hessian_packed_size(int64_t n) {
    return n > 0 ? n * (n + 1) / 2 : 0;
}

void aq_hessian_accumulate(double *Hp, float *scratch, int64_t n, const float *X, int64_t tokens,
                           double weight) {
    if (tokens <= 0 || n <= 0) return;
    /* scratch = X^T X, upper triangle (row-major: C[i * n + j], j >= i) */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)n, (blasint)tokens, 1.0f, X,
                (blasint)n, 0.0f, scratch, (blasint)n);
    int64_t off = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float *c = scratch + i * n;
        for (int64_t j = i; j < n; ++j)
            Hp[off++] += weight * (double)c[j];
    }
}

aq_status aq_hessian_finish(const double *Hp, int64_t n, double tokens_per_bin, const char *layer,
                            float *out, aq_err *err) {
    if (!layer) layer = "(unnamed)";
    if (!(tokens_per_bin > 0.0) || !isfinite(tokens_per_bin))
        return aq_err_set(err, AQ_E_VALUE, "layer %s: tokens per bin = %g: must be > 0", layer,
                          tokens_per_bin);
    int64_t off = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i; j < n; ++j, ++off) {
            const float v = (float)(Hp[off] / tokens_per_bin);
            if (!isfinite(v))
                return aq_err_set(err, AQ_E_VALUE,
                                  "layer %s: Hessian value %g at [%lld, %lld] is not finite in "
                                  "float32",
                                  layer, Hp[off] / tokens_per_bin, (long long)i, (long long)j);
            out[off] = v;
        }
    return AQ_OK;
}
