/*
 * aq-mpi — quantization parameters: names, layout sizes and the rounding of
 * scale/min to their storage precision (docs/DESIGN.md §3).
 */
#include <string.h>

#include "quant_impl.h"

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
