/*
 * aq-mpi — aq_llm_source over an aq-mpi result file: weights as the quantized model sees
 * them (dequantized codes, passthrough tensors converted).
 */
#include "aq/h5in.h"
#include "aq/qformat.h"
#include "aq/model.h"

static aq_status h5_get(const void *ctx, const char *name, int64_t numel, float *dst, aq_err *err) {
    return aq_qread_tensor((const aq_h5in *)ctx, name, dst, numel, err);
}

static int h5_has(const void *ctx, const char *name) {
    return aq_h5in_has((const aq_h5in *)ctx, name);
}

aq_llm_source aq_llm_source_result(const aq_h5in *h) {
    aq_llm_source s = {h, h5_get, h5_has};
    return s;
}
