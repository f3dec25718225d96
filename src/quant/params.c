/*
 * aq-mpi — quantization parameters: validation, names, layout sizes and the rounding of
 * scale/min to their storage precision (docs/DESIGN.md §3).
 */
#include <string.h>

#include "quant_impl.h"

static int is_valid_group_size(int g) {
    return g == 16 || g == 32 || g == 64 || g == 128 || g == 256;
}

aq_status aq_quant_params_check(const aq_quant_params *p, aq_err *err) {
    if (!p) return aq_err_set(err, AQ_E_CONFIG, "quant: no parameters given");
    if (p->bits == 3 && p->scale_dtype != AQ_SCALE_DQ)
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.bits = 3 needs quant.scale_dtype = dq (3-bit codes exist only "
                          "in the double-quantized layout)");
    if (p->bits != 2 && p->bits != 3 && p->bits != 4 && p->bits != 8)
        return aq_err_set(err, AQ_E_CONFIG, "quant.bits = %d: must be 2, 4 or 8 (3 with dq)",
                          p->bits);
    if (!is_valid_group_size(p->group_size))
        return aq_err_set(err, AQ_E_CONFIG, "quant.group_size = %d: must be 16, 32, 64, 128 or 256",
                          p->group_size);
    if (p->method != AQ_METHOD_RTN && p->method != AQ_METHOD_MSE)
        return aq_err_set(err, AQ_E_CONFIG, "quant.method = %d: must be rtn or mse",
                          (int)p->method);
    if (p->scale_dtype != AQ_SCALE_F16 && p->scale_dtype != AQ_SCALE_F32 &&
        p->scale_dtype != AQ_SCALE_DQ)
        return aq_err_set(err, AQ_E_CONFIG, "quant.scale_dtype = %d: must be f16, f32 or dq",
                          (int)p->scale_dtype);
    if (p->scale_dtype != AQ_SCALE_DQ) return AQ_OK;
    if (p->method != AQ_METHOD_MSE)
        return aq_err_set(err, AQ_E_CONFIG,
                          "quant.scale_dtype = dq searches its own parameters by weighted mse: "
                          "set quant.method = mse");
    /* Every valid bits / group_size above is a valid dq layout (aq_dq_layout_check); only
     * the width of the group codes is left. */
    if (p->dq_bits != 0 && (p->dq_bits < 4 || p->dq_bits > 8))
        return aq_err_set(err, AQ_E_CONFIG, "quant.dq_bits = %d: must be 0 (default) or 4..8",
                          p->dq_bits);
    return AQ_OK;
}

const char *aq_method_name(aq_method m) {
    switch (m) {
    case AQ_METHOD_RTN:
        return "rtn";
    case AQ_METHOD_MSE:
        return "mse";
    }
    return "unknown";
}

const char *aq_scale_dtype_name(aq_scale_dtype d) {
    switch (d) {
    case AQ_SCALE_F16:
        return "f16";
    case AQ_SCALE_F32:
        return "f32";
    case AQ_SCALE_DQ:
        return "dq";
    }
    return "unknown";
}

size_t aq_packed_row_bytes(int64_t cols, int bits) {
    return (size_t)((cols * bits + 7) / 8);
}

int64_t aq_groups_per_row(int64_t cols, int group_size) {
    return (cols + group_size - 1) / group_size;
}

size_t aq_scale_dtype_size(aq_scale_dtype d) {
    return d == AQ_SCALE_F16 ? 2 : 4;
}

float aq_round_param(float v, aq_scale_dtype d) {
    /* Round-trip through the stored type: every error we report is that of the file. */
    return d == AQ_SCALE_F16 ? aq_f16_to_f32(aq_f32_to_f16(v)) : v;
}

void aq_round2_ref(float *s, float *m, aq_scale_dtype d) {
    *s = aq_round_param(*s, d);
    *m = aq_round_param(*m, d);
}

void aq_store_param(void *arr, int64_t i, aq_scale_dtype d, float v) {
    if (d == AQ_SCALE_F16) {
        uint16_t b = aq_f32_to_f16(v);
        memcpy((unsigned char *)arr + (size_t)i * sizeof b, &b, sizeof b);
    } else {
        memcpy((unsigned char *)arr + (size_t)i * sizeof v, &v, sizeof v);
    }
}

float aq_load_param(const void *arr, int64_t i, aq_scale_dtype d) {
    if (d == AQ_SCALE_F16) {
        uint16_t b;
        memcpy(&b, (const unsigned char *)arr + (size_t)i * sizeof b, sizeof b);
        return aq_f16_to_f32(b);
    }
    float v;
    memcpy(&v, (const unsigned char *)arr + (size_t)i * sizeof v, sizeof v);
    return v;
}
