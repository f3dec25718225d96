/*
 * aq-mpi — round-to-nearest (min/max) group parameters and the encoding rule.
 */
#include <string.h>

#include "quant_impl.h"

void aq_minmax_f32(const float *x, int n, float *lo, float *hi) {
    float a = n > 0 ? x[0] : 0.0f, b = a;
    for (int j = 1; j < n; ++j) {
        a = x[j] < a ? x[j] : a;
        b = x[j] > b ? x[j] : b;
    }
    /* + 0.0f turns -0 into +0, so the result does not depend on which zero came first
     * (the SIMD twins reduce in another order). */
    *lo = a + 0.0f;
    *hi = b + 0.0f;
}

void aq_params_from_range(float lo, float hi, int bits, aq_scale_dtype d, float *scale,
                          float *min) {
    /* In double so that hi - lo cannot overflow for finite float inputs; the quotient
     * always fits a float again since qmax >= 3. */
    float s = (float)(((double)hi - (double)lo) / aq_qmax(bits));
    s = aq_round_param(s, d);
    *min = aq_round_param(lo, d);
    *scale = (hi > lo && s > 0.0f) ? s : 0.0f;
}

void aq_group_params_rtn(const float *x, int n, int bits, aq_scale_dtype d, float *scale,
                         float *min) {
    float lo, hi;
    aq_minmax_f32(x, n, &lo, &hi);
    aq_params_from_range(lo, hi, bits, d, scale, min);
}

void aq_encode_group(const float *x, int n, int bits, float scale, float min, uint8_t *q) {
    if (scale == 0.0f) {
        memset(q, 0, (size_t)n);
        return;
    }
    const float qmaxf = (float)aq_qmax(bits);
    /* A true division, not a multiply by 1/scale: the rule is defined on the quotient. */
    for (int j = 0; j < n; ++j)
        q[j] = aq_code_of((x[j] - min) / scale, qmaxf);
}

void aq_encode_pack_ref(const float *x, int n, int bits, float scale, float min, uint8_t *packed) {
    uint8_t q[AQ_MAX_GROUP];
    aq_encode_group(x, n, bits, scale, min, q);
    aq_pack_codes(q, n, bits, packed);
}

void aq_dequant_ref(const uint8_t *packed, int n, int bits, float scale, float min, float *out) {
    uint8_t q[AQ_MAX_GROUP];
    aq_unpack_codes(packed, n, bits, q);
    for (int j = 0; j < n; ++j)
        out[j] = min + (float)q[j] * scale;
}

/* Lane order of quant_impl.h: element j adds to lane j % AQ_LANES. */
double aq_group_wsse(const float *x, const float *h, int n, int bits, float scale, float min) {
    uint8_t q[AQ_MAX_GROUP];
    double lanes[AQ_LANES] = {0};
    for (int j0 = 0; j0 < n; j0 += AQ_MAX_GROUP) {
        int m = n - j0 < AQ_MAX_GROUP ? n - j0 : AQ_MAX_GROUP;
        aq_encode_group(x + j0, m, bits, scale, min, q);
        for (int j = 0; j < m; ++j) {
            float xh = min + (float)q[j] * scale; /* exactly as decoded */
            double dlt = (double)x[j0 + j] - (double)xh;
            lanes[(j0 + j) % AQ_LANES] += (h ? (double)h[j0 + j] : 1.0) * dlt * dlt;
        }
    }
    return aq_lanes_sum(lanes);
}
