/*
 * aq-mpi — aq_llm_source over a safetensors model (bf16/f16/f32 widened to float32).
 */
#include "aq/dtype.h"
#include "aq/model.h"

static aq_status st_get(const void *ctx, const char *name, int64_t numel, float *dst, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_find((const aq_checkpoint *)ctx, name);
    if (!t) return aq_err_set(err, AQ_E_FORMAT, "model has no tensor %s", name);
    if ((int64_t)t->numel != numel)
        return aq_err_set(err, AQ_E_FORMAT, "tensor %s has %llu elements, config implies %lld",
                          name, (unsigned long long)t->numel, (long long)numel);
    aq_convert_to_f32(t->dtype, t->data, (size_t)numel, dst);
    return AQ_OK;
}

static int st_has(const void *ctx, const char *name) {
    return aq_checkpoint_find((const aq_checkpoint *)ctx, name) != NULL;
}

aq_llm_source aq_llm_source_safetensors(const aq_checkpoint *m) {
    aq_llm_source s = {m, st_get, st_has};
    return s;
}
