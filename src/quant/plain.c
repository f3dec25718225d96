/*
 * aq-mpi — the plain layouts (scale_dtype f16 / f32, include/aq/quant.h): one row, groups ->
 * (scale, min, codes) -> packed bytes, and back; the "f16" and "f32" rows of the format
 * table (qformat.c).
 *
 * group_size * bits is a multiple of 8 for every valid pair (16 * 2 = 32 bits at least),
 * so each group starts on a byte boundary of the packed row and can be packed on its own.
 */
#include <math.h>
#include <stdio.h>

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

void aq_quantize_row_ex(const aq_kernels *k, const aq_quant_params *p, const float *w, int64_t cols,
                        const float *h, uint8_t *codes, void *scale, void *min) {
    aq_quantize_row_k(k ? k : aq_kernels_select(0), p, w, cols, h, codes, scale, min);
}

void aq_dequantize_row_ex(const aq_kernels *k, const aq_quant_params *p, const uint8_t *codes,
                          const void *scale, const void *min, int64_t cols, float *out) {
    aq_dequantize_row_k(k ? k : aq_kernels_select(0), p, codes, scale, min, cols, out);
}

/*-*********************************************
 *  The "f16" / "f32" rows of the format table
 ***********************************************/

size_t aq_plain_scratch_bytes(const aq_quant_params *p, int64_t cols) {
    return 2 * (size_t)aq_groups_per_row(cols, p->group_size) * sizeof(float);
}

/* Arrays in table order: codes, scale, min.  Same results as aq_quantize_row() +
 * aq_dequantize_row() + the error sums, fused: each group starts from its rtn parameters. */
int64_t aq_plain_quantize_row_qf(const aq_qf_env *e, const float *w, const float *h, int64_t cols,
                                 void *const *arr, aq_qf_sums *sums) {
    const aq_kernels_t *k = e->k;
    const aq_quant_params *p = e->p;
    const int gs = p->group_size;
    const int64_t groups = aq_groups_per_row(cols, gs);
    float *s = e->scratch, *m = s + groups;
    k->rtn_params(w, cols, gs, p->bits, p->scale_dtype, s, m);
    if (p->method == AQ_METHOD_MSE)
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t off = g * gs;
            const int n = (int)(cols - off < gs ? cols - off : gs);
            aq_group_params_mse_from_rtn(k, w + off, h ? h + off : NULL, n, p->bits, p->scale_dtype,
                                         &s[g], &m[g]);
        }
    /* f16 cannot hold |v| > 65504: such a scale/min is stored as Inf and must not pass. */
    int64_t bad = -1;
    for (int64_t g = 0; g < groups && bad < 0; ++g)
        if (!isfinite(s[g]) || !isfinite(m[g])) bad = g * gs;
    k->store_params(s, m, groups, p->scale_dtype, arr[1], arr[2]);
    k->encode_row(w, cols, gs, p->bits, h, s, m, arr[0], sums->lanes);
    return bad;
}

void aq_plain_dequantize_row_qf(const aq_qformat *f, const aq_quant_params *p,
                                const void *const *arr, int64_t cols, float *out) {
    (void)f;
    aq_dequantize_row_k(&aq_kernels_scalar, p, arr[0], arr[1], arr[2], cols, out);
}

void aq_plain_overflow_msg(const aq_quant_params *p, int64_t col, char *buf, size_t size) {
    snprintf(buf, size,
             "group %lld: scale or min does not fit %s (weights too large); use "
             "quant.scale_dtype=f32",
             (long long)(col / p->group_size), aq_scale_dtype_name(p->scale_dtype));
}
