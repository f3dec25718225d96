/* Which tensors the job quantizes, and the 2-D view [rows, cols] it quantizes them in. */
#include <string.h>

#include "aq/job.h"
#include "job_internal.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int aq_job_is_quantized(const aq_tensor *t, const aq_config *cfg) {
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1 || !ends_with(t->name, ".weight"))
        return 0;
    int embedding = strstr(t->name, "embed") || strstr(t->name, "wte") || strstr(t->name, "wpe") ||
                    strncmp(t->name, "lm_head", 7) == 0;
    if (embedding && !cfg->quant_embeddings) return 0;
    /* quant.format: rows no ggml block fits (cols % 32 != 0) stay unquantized, as with
     * llama-quantize (aq_qformat_fallback) */
    return !cfg->quant.format || aq_qformat_fallback(cfg->quant.format, t->shape[1]) != 0;
}

void aq_tensor_view(const aq_tensor *t, int64_t *rows, int64_t *cols) {
    *rows = t->ndim > 0 ? t->shape[0] : 1;
    *cols = 1;
    for (int d = 1; d < t->ndim; ++d)
        *cols *= t->shape[d];
}

int aq_job_passthrough_by_format(const aq_tensor *t, const aq_config *cfg) {
    if (!cfg->quant.format || aq_job_is_quantized(t, cfg)) return 0;
    aq_config plain = *cfg; /* would it be quantized but for its row length? */
    plain.quant.format = 0;
    return aq_job_is_quantized(t, &plain);
}

int aq_job_passthrough_filtered(const aq_tensor *t, const aq_config *cfg) {
    return t->ndim == 2 && t->shape[0] >= 1 && t->shape[1] >= 1 && !aq_job_is_quantized(t, cfg);
}
