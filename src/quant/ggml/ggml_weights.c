/*
 * aq-mpi — error weights of the ggml-format encoders (ggml_weights.h).
 */
#include "ggml_weights.h"

#include <math.h>

int aq_ggml_weights(aq_ggml_wfamily fam, const float *x, const float *h, int64_t n, float *w) {
    double ss = 0.0;
    for (int64_t j = 0; j < n; ++j)
        ss += (double)x[j] * (double)x[j];
    float sh = 0.0f;
    if (h)
        for (int64_t j = 0; j < n; ++j)
            sh = sh + h[j];
    const int calibrated = h && sh > 0.0f;
    if (calibrated && fam == AQ_GGML_W_LEGACY) { /* the importance alone */
        for (int64_t j = 0; j < n; ++j)
            w[j] = h[j];
        return 1;
    }
    if (!(ss > 0.0)) return 0; /* all zero: any weights give the same blocks */
    const double ims = (double)n / ss;
    for (int64_t j = 0; j < n; ++j) {
        const float r = sqrtf(1.0f + (float)(((double)x[j] * (double)x[j]) * ims));
        w[j] = calibrated ? h[j] * r : r;
    }
    return 1;
}
