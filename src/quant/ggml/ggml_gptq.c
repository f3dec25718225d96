/*
 * aq-mpi — the GPTQ operations (aq_qf_gptq, include/aq/qformat.h) of ggml's block formats,
 * the rows AQ_QFMT_Q8_0 .. AQ_QFMT_Q6_K.
 *
 * A parameter block is the format's block: 32 columns for Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (params:
 * the stored fp16 d, and m for *_1), 256 columns for Q2_K .. Q6_K (params: the stored fp16
 * d, dmin and the sub-block scale / min codes).  fit() is the encoder's own search of that one
 * block (lg_fit_block, aq_kq_fit_affine, aq_kq_fit_sym: the functions quantize_row runs per
 * block), round() the encoder's code rule for those stored parameters (lg_code_at,
 * aq_kq_affine_code, aq_kq_sym_code: nearest code of x for the stored d, m or the sub-block's
 * effective scale d * sc and min dmin * m), emit() the encoder's packer.  So fitting and
 * rounding an unchanged row gives quantize_row's bytes, and emit()'s blocks decode to the
 * values round() returns (tests/unit/test_quant_gptq_ggml.c).
 *
 * Every encoder here picks each code by that per-weight rule once its block's parameters are
 * fixed (their searches only choose the parameters), so no format needs a special round().
 * The format is p->format (an aq_qformat_id); the row functions are the same for a family.
 */
#include <math.h>
#include <string.h>

#include "kquant_impl.h"
#include "legacy_impl.h"

/*-*********************************************
 *  Legacy formats: 32-column blocks, params (d, m)
 ***********************************************/

typedef struct {
    float d, m;
} legacy_par;

static aq_ggml_legacy_fmt legacy_fmt(const aq_quant_params *p) {
    return (aq_ggml_legacy_fmt)(p->format - AQ_QFMT_Q8_0);
}

static int64_t legacy_block_cols(const aq_quant_params *p) {
    (void)p;
    return LG_QK;
}

static size_t legacy_param_bytes(const aq_quant_params *p) {
    (void)p;
    return sizeof(legacy_par);
}

static int legacy_fit(const aq_qf_env *e, const float *x, const float *h, int64_t n, void *par) {
    legacy_par *lp = par;
    if (n != LG_QK) return -1; /* rows are multiples of 32 (row_multiple) */
    lg_fit_block(legacy_fmt(e->p), &lg_kernels_ref, x, h, &lp->d, &lp->m);
    return isfinite(lp->d) && isfinite(lp->m) ? 0 : -1;
}

static float legacy_round(const aq_quant_params *p, const void *par, int64_t j, float x,
                          uint8_t *code) {
    (void)j;
    const legacy_par *lp = par;
    float y;
    *code = lg_code_at(legacy_fmt(p), lp->d, lp->m, x, &y);
    return y;
}

static void legacy_emit(const aq_qf_env *e, const uint8_t *codes, const void *par, int64_t cols,
                        void *const *arr) {
    const aq_ggml_legacy_fmt fmt = legacy_fmt(e->p);
    const legacy_par *lp = par;
    const size_t bytes = (size_t)e->f->blocks->block_bytes;
    unsigned char *out = arr[0];
    for (int64_t b = 0; b < cols / LG_QK; ++b)
        lg_pack_block(fmt, aq_f32_to_f16(lp[b].d), aq_f32_to_f16(lp[b].m), codes + b * LG_QK,
                      out + (size_t)b * bytes);
}

const aq_qf_gptq aq_ggml_legacy_gptq = {
    .block_cols = legacy_block_cols,
    .param_bytes = legacy_param_bytes,
    .fit = legacy_fit,
    .round = legacy_round,
    .emit = legacy_emit,
};

/*-*********************************************
 *  k-quants: 256-column super-blocks, params d, dmin, sub-block codes
 ***********************************************/

#define KQ_SB AQ_GGML_QK_K

typedef struct {
    float d, dmin;   /* stored fp16 values (dmin: ggml's sign; 0 for Q3_K / Q6_K) */
    int8_t sc[16];   /* sub-block scale codes (signed for Q3_K / Q6_K) */
    uint8_t mc[16];  /* sub-block min codes (Q2_K, Q4_K, Q5_K) */
    uint8_t g_shift; /* log2 of the sub-block size: 4 (16) or 5 (32) */
} kq_par;

/* 2..6 for Q2_K..Q6_K; affine: 2, 4, 5. */
static int kq_fmt(const aq_quant_params *p) {
    return p->format - AQ_QFMT_Q2_K + 2;
}

static int kq_affine(int fmt) {
    return fmt == 2 || fmt == 4 || fmt == 5;
}

static int64_t kq_block_cols(const aq_quant_params *p) {
    (void)p;
    return KQ_SB;
}

static size_t kq_param_bytes(const aq_quant_params *p) {
    (void)p;
    return sizeof(kq_par);
}

static int kq_fit(const aq_qf_env *e, const float *x, const float *h, int64_t n, void *par) {
    kq_par *kp = par;
    memset(kp, 0, sizeof *kp);
    if (n != KQ_SB) return -1; /* rows are multiples of 256 (row_multiple) */
    const int fmt = kq_fmt(e->p);
    if (kq_affine(fmt)) {
        /* the dq kernels of the caller's set (bit-identical to the scalar ones) */
        const aq_kq_kernels k = {e->k, aq_kq_kernels_ref.ssums};
        uint8_t sc[16];
        aq_kq_fit_affine(&k, fmt, x, h, &kp->d, &kp->dmin, sc, kp->mc);
        const int G = aq_kq_affine_group(fmt);
        for (int g = 0; g < KQ_SB / G; ++g)
            kp->sc[g] = (int8_t)sc[g]; /* codes <= 63 */
        kp->g_shift = G == 16 ? 4 : 5;
    } else {
        int sc[16];
        aq_kq_fit_sym(&aq_kq_kernels_ref, fmt, x, h, &kp->d, sc);
        for (int g = 0; g < 16; ++g)
            kp->sc[g] = (int8_t)sc[g];
        kp->g_shift = 4;
    }
    return isfinite(kp->d) && isfinite(kp->dmin) ? 0 : -1;
}

static float kq_round(const aq_quant_params *p, const void *par, int64_t j, float x,
                      uint8_t *code) {
    const kq_par *kp = par;
    const int fmt = kq_fmt(p), g = (int)(j >> kp->g_shift);
    float y;
    if (kq_affine(fmt))
        *code = aq_kq_affine_code(kp->d * (float)kp->sc[g], kp->dmin * (float)kp->mc[g],
                                  aq_kq_affine_nmax(fmt), x, &y);
    else
        *code = aq_kq_sym_code(kp->d * (float)kp->sc[g], aq_kq_sym_nlo(fmt), x, &y);
    return y;
}

static void kq_emit(const aq_qf_env *e, const uint8_t *codes, const void *par, int64_t cols,
                    void *const *arr) {
    const int fmt = kq_fmt(e->p);
    const kq_par *kp = par;
    const size_t bytes = (size_t)e->f->blocks->block_bytes;
    uint8_t *out = arr[0];
    for (int64_t b = 0; b < cols / KQ_SB; ++b) {
        const kq_par *q = &kp[b];
        if (kq_affine(fmt)) {
            uint8_t sc[16];
            for (int g = 0; g < 16; ++g)
                sc[g] = (uint8_t)q->sc[g];
            aq_kq_pack_affine(fmt, q->d, q->dmin, sc, q->mc, codes + b * KQ_SB,
                              out + (size_t)b * bytes);
        } else {
            int sc[16];
            for (int g = 0; g < 16; ++g)
                sc[g] = q->sc[g];
            aq_kq_pack_sym(fmt, q->d, sc, codes + b * KQ_SB, out + (size_t)b * bytes);
        }
    }
}

const aq_qf_gptq aq_ggml_kquant_gptq = {
    .block_cols = kq_block_cols,
    .param_bytes = kq_param_bytes,
    .fit = kq_fit,
    .round = kq_round,
    .emit = kq_emit,
};
