/*
 * aq-mpi — one row: groups -> (scale, min, codes) -> packed bytes, and back.
 *
 * group_size * bits is a multiple of 8 for every valid pair (16 * 2 = 32 bits at least),
 * so each group starts on a byte boundary of the packed row and can be packed on its own.
 */
#include <math.h>

#include "quant_impl.h"

static void group_params(const aq_kernels_t *k, const aq_quant_params *p, const float *x,
                         const float *h, int n, float *s, float *m) {
    if (p->method == AQ_METHOD_MSE) {
        aq_group_params_mse_k(k, x, h, n, p->bits, p->scale_dtype, s, m);
    } else {
        float lo, hi;
        k->minmax(x, n, &lo, &hi);
        aq_params_from_range(lo, hi, p->bits, p->scale_dtype, s, m);
    }
}

void aq_quantize_row_k(const aq_kernels_t *k, const aq_quant_params *p, const float *w,
                       int64_t cols, const float *h, uint8_t *codes, void *scale, void *min) {
    const int gs = p->group_size;
    const int64_t groups = aq_groups_per_row(cols, gs);
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        float s, m;
        group_params(k, p, w + off, h ? h + off : NULL, n, &s, &m);
        k->encode_pack(w + off, n, p->bits, s, m, codes + off * p->bits / 8);
        aq_store_param(scale, g, p->scale_dtype, s);
        aq_store_param(min, g, p->scale_dtype, m);
    }
}

void aq_dequantize_row_k(const aq_kernels_t *k, const aq_quant_params *p, const uint8_t *codes,
                         const void *scale, const void *min, int64_t cols, float *out) {
    const int gs = p->group_size;
    const int64_t groups = aq_groups_per_row(cols, gs);
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        k->dequant(codes + off * p->bits / 8, n, p->bits, aq_load_param(scale, g, p->scale_dtype),
                   aq_load_param(min, g, p->scale_dtype), out + off);
    }
}

void aq_quantize_row(const aq_quant_params *p, const float *w, int64_t cols, const float *h,
                     uint8_t *codes, void *scale, void *min) {
    aq_quantize_row_k(&aq_kernels_scalar, p, w, cols, h, codes, scale, min);
}

void aq_dequantize_row(const aq_quant_params *p, const uint8_t *codes, const void *scale,
                       const void *min, int64_t cols, float *out) {
    aq_dequantize_row_k(&aq_kernels_scalar, p, codes, scale, min, cols, out);
}

/*-------------------------------- row-level references --------------------------------*/

int64_t aq_first_nonfinite_ref(const float *w, int64_t n) {
    for (int64_t j = 0; j < n; ++j)
        if (!isfinite(w[j])) return j;
    return -1;
}

void aq_rtn_params_ref(const float *w, int64_t cols, int gs, int bits, aq_scale_dtype d, float *s,
                       float *m) {
    const int64_t groups = aq_groups_per_row(cols, gs);
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs;
        const int n = (int)(cols - off < gs ? cols - off : gs);
        aq_group_params_rtn(w + off, n, bits, d, &s[g], &m[g]);
    }
}

void aq_store_params_ref(const float *s, const float *m, int64_t groups, aq_scale_dtype d,
                         void *scale, void *min) {
    for (int64_t g = 0; g < groups; ++g) {
        aq_store_param(scale, g, d, s[g]);
        aq_store_param(min, g, d, m[g]);
    }
}

void aq_encode_row_ref(const float *w, int64_t cols, int gs, int bits, const float *h,
                       const float *s, const float *m, uint8_t *codes,
                       double lanes[AQ_ES_N][AQ_LANES]) {
    const int64_t groups = aq_groups_per_row(cols, gs);
    float wh[AQ_MAX_GROUP];
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t off = g * gs; /* a multiple of AQ_LANES: lanes continue */
        const int n = (int)(cols - off < gs ? cols - off : gs);
        uint8_t *out = codes + off * bits / 8;
        aq_encode_pack_ref(w + off, n, bits, s[g], m[g], out);
        aq_dequant_ref(out, n, bits, s[g], m[g], wh);
        aq_err_sums_ref(w + off, wh, h ? h + off : NULL, n, lanes);
    }
}
