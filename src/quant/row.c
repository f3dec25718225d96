/*
 * aq-mpi — one row: groups -> (scale, min, codes) -> packed bytes, and back.
 *
 * group_size * bits is a multiple of 8 for every valid pair (16 * 2 = 32 bits at least),
 * so each group starts on a byte boundary of the packed row and can be packed on its own.
 */
#include "quant_impl.h"

static void group_params(const aq_quant_params *p, const float *x, const float *h, int n,
                         float *s, float *m) {
    if (p->method == AQ_METHOD_MSE)
        aq_group_params_mse(x, h, n, p->bits, p->scale_dtype, s, m);
    else
        aq_group_params_rtn(x, n, p->bits, p->scale_dtype, s, m);
}

void aq_quantize_row(const aq_quant_params *p, const float *w, int64_t cols, const float *h,
                     uint8_t *codes, void *scale, void *min) {
    const int gs = p->group_size;
    const int64_t groups = aq_groups_per_row(cols, gs);
    uint8_t q[AQ_MAX_GROUP];
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        float s, m;
        group_params(p, w + off, h ? h + off : NULL, n, &s, &m);
        aq_encode_group(w + off, n, p->bits, s, m, q);
        aq_pack_codes(q, n, p->bits, codes + off * p->bits / 8);
        aq_store_param(scale, g, p->scale_dtype, s);
        aq_store_param(min, g, p->scale_dtype, m);
    }
}

void aq_dequantize_row(const aq_quant_params *p, const uint8_t *codes, const void *scale,
                       const void *min, int64_t cols, float *out) {
    const int gs = p->group_size;
    const int64_t groups = aq_groups_per_row(cols, gs);
    uint8_t q[AQ_MAX_GROUP];
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        const float s = aq_load_param(scale, g, p->scale_dtype);
        const float m = aq_load_param(min, g, p->scale_dtype);
        aq_unpack_codes(codes + off * p->bits / 8, n, p->bits, q);
        for (int j = 0; j < n; ++j) out[off + j] = m + (float)q[j] * s;
    }
}
