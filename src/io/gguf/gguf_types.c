/*
 * aq-mpi — ggml tensor types: block sizes and names (ggml/src/ggml-common.h block_* structs:
 * e.g. block_q4_K = f16 d, f16 dmin, 12 bytes of 6-bit scales, 128 bytes of 4-bit codes for
 * 256 weights = 144 bytes).
 */
#include "gguf_internal.h"

typedef struct {
    int type;
    int64_t elems;
    size_t bytes;
    const char *name;
} gg_type_row;

static const gg_type_row TYPES[] = {
    {AQ_GGML_F32, 1, 4, "F32"},       {AQ_GGML_F16, 1, 2, "F16"},
    {AQ_GGML_BF16, 1, 2, "BF16"},     {AQ_GGML_Q4_0, 32, 18, "Q4_0"},
    {AQ_GGML_Q4_1, 32, 20, "Q4_1"},   {AQ_GGML_Q5_0, 32, 22, "Q5_0"},
    {AQ_GGML_Q5_1, 32, 24, "Q5_1"},   {AQ_GGML_Q8_0, 32, 34, "Q8_0"},
    {AQ_GGML_Q2_K, 256, 84, "Q2_K"},  {AQ_GGML_Q3_K, 256, 110, "Q3_K"},
    {AQ_GGML_Q4_K, 256, 144, "Q4_K"}, {AQ_GGML_Q5_K, 256, 176, "Q5_K"},
    {AQ_GGML_Q6_K, 256, 210, "Q6_K"},
};

int aq_ggml_type_info(int t, int64_t *block_elems, size_t *block_bytes, const char **name) {
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; ++i) {
        if (TYPES[i].type != t) continue;
        if (block_elems) *block_elems = TYPES[i].elems;
        if (block_bytes) *block_bytes = TYPES[i].bytes;
        if (name) *name = TYPES[i].name;
        return 0;
    }
    return -1;
}

size_t aq_ggml_row_bytes(int t, int64_t ne0) {
    int64_t be;
    size_t bb;
    if (aq_ggml_type_info(t, &be, &bb, NULL) != 0 || ne0 <= 0 || ne0 % be != 0) return 0;
    return (size_t)(ne0 / be) * bb;
}
