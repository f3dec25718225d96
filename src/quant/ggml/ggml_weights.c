/*
 * aq-mpi — error weights of the ggml-format encoders (ggml_weights.h).
 */
#include "ggml_weights.h"

#include <math.h>
#include <stdlib.h>

/* EXPERIMENT knob (removed before the final commit). */
static void mode(int *cal, int *unc, float *c) {
    const char *e = getenv("AQ_GW");
    *cal = 1;
    *unc = 2;
    *c = 2.0f;
    if (e && e[0] && e[1] && e[2]) {
        *cal = e[0] - '0';
        *unc = e[1] - '0';
        *c = (float)atof(e + 2);
    }
}

int aq_ggml_weights(const float *x, const float *h, int64_t n, float *w) {
    int cal, unc;
    float c;
    mode(&cal, &unc, &c);
    double ss = 0.0;
    for (int64_t j = 0; j < n; ++j)
        ss += (double)x[j] * (double)x[j];
    if (!(ss > 0.0)) return 0;
    const double ims = (double)n / ss;
    float sh = 0.0f;
    if (h)
        for (int64_t j = 0; j < n; ++j)
            sh = sh + h[j];
    const int calibrated = h && sh > 0.0f;
    for (int64_t j = 0; j < n; ++j) {
        const float u = (float)(((double)x[j] * (double)x[j]) * ims);
        float v;
        if (calibrated)
            v = cal ? h[j] * sqrtf(c + u) : h[j];
        else if (unc == 1)
            v = sqrtf(c + u);
        else if (unc == 2)
            v = c + u;
        else if (unc == 3)
            v = sqrtf(c) + sqrtf(u);
        else
            v = 1.0f;
        w[j] = v;
    }
    return 1;
}
