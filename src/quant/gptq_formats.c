/*
 * aq-mpi — the GPTQ operations (aq_qf_gptq, include/aq/qformat.h) of the plain layouts
 * (f16/f32: a parameter block is a group) and of dq (a parameter block is a super-block).
 *
 * Rounding is the single rule of include/aq/quant.h: q = clamp(nearbyint((x - min) / scale),
 * 0, qmax) for the STORED scale/min (0 when scale is 0), and the value is min + q * scale in
 * float, which is what the format's dequantize_row computes from the emitted arrays.
 */
#include <string.h>

#include "quant_impl.h"

static float round_rule(float x, float scale, float min, float qmaxf, uint8_t *code) {
    const uint8_t q = scale == 0.0f ? 0 : aq_code_of((x - min) / scale, qmaxf);
    *code = q;
    return min + (float)q * scale;
}

/*-*********************************************
 *  Plain layouts: one group = (scale, min), already rounded to the scale dtype
 ***********************************************/

typedef struct {
    float scale, min;
} plain_par;

static int64_t plain_block_cols(const aq_quant_params *p) {
    return p->group_size;
}

static size_t plain_param_bytes(const aq_quant_params *p) {
    (void)p;
    return sizeof(plain_par);
}

/* The format's own search for the group: rtn (min/max) or the mse search from rtn, as
 * aq_plain_quantize_row_qf() does. */
static int plain_fit(const aq_qf_env *e, const float *x, const float *h, int64_t n, void *par) {
    const aq_quant_params *p = e->p;
    plain_par *pp = par;
    float lo, hi;
    e->k->minmax(x, (int)n, &lo, &hi);
    aq_params_from_range(lo, hi, p->bits, p->scale_dtype, &pp->scale, &pp->min);
    if (p->method == AQ_METHOD_MSE)
        aq_group_params_mse_from_rtn(e->k, x, h, (int)n, p->bits, p->scale_dtype, &pp->scale,
                                     &pp->min);
    return isfinite(pp->scale) && isfinite(pp->min) ? 0 : -1;
}

static float plain_round(const aq_quant_params *p, const void *par, int64_t j, float x,
                         uint8_t *code) {
    (void)j;
    const plain_par *pp = par;
    return round_rule(x, pp->scale, pp->min, (float)aq_qmax(p->bits), code);
}

/* Arrays in table order: codes, scale, min. */
static void plain_emit(const aq_qf_env *e, const uint8_t *codes, const void *par, int64_t cols,
                       void *const *arr) {
    const aq_quant_params *p = e->p;
    const plain_par *pp = par;
    aq_pack_codes(codes, cols, p->bits, arr[0]);
    const int64_t groups = aq_groups_per_row(cols, p->group_size);
    for (int64_t g = 0; g < groups; ++g) {
        aq_store_param(arr[1], g, p->scale_dtype, pp[g].scale);
        aq_store_param(arr[2], g, p->scale_dtype, pp[g].min);
    }
}

const aq_qf_gptq aq_plain_gptq = {
    .block_cols = plain_block_cols,
    .param_bytes = plain_param_bytes,
    .fit = plain_fit,
    .round = plain_round,
    .emit = plain_emit,
};

/*-*********************************************
 *  dq: one super-block = d, dmin (float16-rounded) and its groups' codes
 ***********************************************/

typedef struct {
    float d, dmin;
    uint8_t sc[AQ_DQ_SUPER / 16], mc[AQ_DQ_SUPER / 16]; /* G >= 16 */
} dq_par;

static int64_t dq_block_cols(const aq_quant_params *p) {
    (void)p;
    return AQ_DQ_SUPER;
}

static size_t dq_param_bytes(const aq_quant_params *p) {
    (void)p;
    return sizeof(dq_par);
}

static int dq_fit(const aq_qf_env *e, const float *x, const float *h, int64_t n, void *par) {
    const aq_dq_layout L = aq_quant_dq_layout(e->p);
    dq_par *dp = par;
    memset(dp, 0, sizeof *dp);
    return aq_dq_fit_super(e->k, &L, x, h, (int)n, &dp->d, &dp->dmin, dp->sc, dp->mc);
}

static float dq_round(const aq_quant_params *p, const void *par, int64_t j, float x,
                      uint8_t *code) {
    const dq_par *dp = par;
    const int64_t g = j / p->group_size;
    return round_rule(x, dp->d * (float)dp->sc[g], dp->dmin * (float)dp->mc[g],
                      (float)aq_qmax(p->bits), code);
}

/* Arrays in table order: codes, sub, super_scale (d), super_min (dmin). */
static void dq_emit(const aq_qf_env *e, const uint8_t *codes, const void *par, int64_t cols,
                    void *const *arr) {
    const aq_dq_layout L = aq_quant_dq_layout(e->p);
    const dq_par *dp = par;
    uint8_t *sub = arr[1];
    uint16_t *d = arr[2], *dmin = arr[3];
    aq_pack_codes(codes, cols, L.bits, arr[0]);
    memset(sub, 0, aq_dq_sub_row_bytes(cols, &L));
    const int gpb = AQ_DQ_SUPER / L.group_size;
    const int64_t groups = aq_dq_groups(cols, &L);
    for (int64_t g = 0; g < groups; ++g) {
        const dq_par *b = &dp[g / gpb];
        aq_dq_sub_put(sub, 2 * g, L.sub_bits, b->sc[g % gpb]);
        aq_dq_sub_put(sub, 2 * g + 1, L.sub_bits, b->mc[g % gpb]);
    }
    for (int64_t sb = 0; sb < aq_dq_supers(cols); ++sb) {
        d[sb] = aq_f32_to_f16(dp[sb].d);
        dmin[sb] = aq_f32_to_f16(dp[sb].dmin);
    }
}

const aq_qf_gptq aq_dq_gptq = {
    .block_cols = dq_block_cols,
    .param_bytes = dq_param_bytes,
    .fit = dq_fit,
    .round = dq_round,
    .emit = dq_emit,
};
