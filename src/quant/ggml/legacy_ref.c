/*
 * aq-mpi — scalar reference candidate evaluators of the ggml legacy encoders, and the _ref
 * entry points (include/aq/ggml_legacy.h).  The SIMD twins (legacy_avx2.c, legacy_avx512.c)
 * reproduce these loops lane by lane; the operation order written here is the contract.
 */
#include "legacy_impl.h"

#include <math.h>

#include "aq/dtype.h"

/* The clamp of every fitted parameter to the fp16 range, NaN going to -65504 (lg_max). */
static float clamp_f16(float v) {
    return lg_min(lg_max(v, -LG_F16_MAX), LG_F16_MAX);
}

void lg_eval_sym_ref(const lg_block *b, float lo, float hi, const float *is, int nc, lg_fit *out) {
    for (int c = 0; c < nc; ++c) {
        float sll = 0.0f, sxl = 0.0f;
        for (int j = 0; j < LG_QK; ++j) {
            const float l = lg_code(b->x[j] * is[c], lo, hi);
            const float wl = b->w[j] * l;
            sll = sll + wl * l;
            sxl = sxl + wl * b->x[j];
        }
        float d = sll > 0.0f ? sxl / sll : 0.0f;
        d = lg_f16_round(clamp_f16(d));
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        float err = 0.0f;
        for (int j = 0; j < LG_QK; ++j) {
            const float l = lg_code(b->x[j] * id, lo, hi);
            const float e = b->x[j] - l * d;
            err = err + b->w[j] * (e * e);
        }
        out[c] = (lg_fit){d, 0.0f, err};
    }
}

void lg_eval_asym_ref(const lg_block *b, float nmax, const float *lo, const float *is, int nc,
                      lg_fit *out) {
    for (int c = 0; c < nc; ++c) {
        float sl = 0.0f, sll = 0.0f, sxl = 0.0f;
        for (int j = 0; j < LG_QK; ++j) {
            const float l = lg_code((b->x[j] - lo[c]) * is[c], 0.0f, nmax);
            const float wl = b->w[j] * l;
            sl = sl + wl;
            sll = sll + wl * l;
            sxl = sxl + wl * b->x[j];
        }
        const float det = b->sw * sll - sl * sl;
        float d = (b->sw * sxl - b->sx * sl) / det;
        float m = (sll * b->sx - sl * sxl) / det;
        if (!(det > 0.0f && fabsf(d) <= LG_F16_MAX && fabsf(m) <= LG_F16_MAX)) {
            d = 1.0f / is[c]; /* the candidate's own grid */
            m = lo[c];
        }
        d = lg_f16_round(clamp_f16(d));
        m = lg_f16_round(clamp_f16(m));
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        float err = 0.0f;
        for (int j = 0; j < LG_QK; ++j) {
            const float l = lg_code((b->x[j] - m) * id, 0.0f, nmax);
            const float e = b->x[j] - (l * d + m);
            err = err + b->w[j] * (e * e);
        }
        out[c] = (lg_fit){d, m, err};
    }
}

const lg_kernels lg_kernels_ref = {lg_eval_sym_ref, lg_eval_asym_ref};

int aq_ggml_quantize_row_q8_0_ref(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q8_0, &lg_kernels_ref, x, h, n, blocks);
}
int aq_ggml_quantize_row_q4_0_ref(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q4_0, &lg_kernels_ref, x, h, n, blocks);
}
int aq_ggml_quantize_row_q4_1_ref(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q4_1, &lg_kernels_ref, x, h, n, blocks);
}
int aq_ggml_quantize_row_q5_0_ref(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q5_0, &lg_kernels_ref, x, h, n, blocks);
}
int aq_ggml_quantize_row_q5_1_ref(const float *x, const float *h, int64_t n, void *blocks) {
    return lg_quantize_row(AQ_GGML_LEGACY_Q5_1, &lg_kernels_ref, x, h, n, blocks);
}
