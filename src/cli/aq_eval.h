/* Private to aq-eval: options and the pieces shared by its two modes (KL per result file,
 * and per-layer KL sensitivity, aq_eval_layers.c). */
#ifndef AQ_EVAL_H
#define AQ_EVAL_H

#include "aq/model.h"

#define MAX_RESULTS 16

typedef struct {
    aq_run_opts run;
    const char *results[MAX_RESULTS];
    int n_results, T, print_samples;
    int weights_only; /* ignore /act: compare weight layouts alone */
    const char *json;
    const char *layer_kl;    /* per-layer sensitivity JSON (one --result) */
    const char *dump_logits; /* raw float32 full-precision logits [N, T, L, vocab] (tests) */
} eval_opts;

/* Per-(sequence, step) buffers: logits of both models (last rank: [L, vocab]), the masked
 * tokens and mask.  alloc is collective (aq_agree); free is safe on a failed alloc. */
typedef struct {
    float *lf, *lq;
    int32_t *tok;
    uint8_t *masked;
    size_t nl; /* logits floats per model */
} eval_bufs;
aq_status aq_eval_bufs_alloc(const eval_opts *o, const aq_run *r, eval_bufs *b, aq_err *err);
void aq_eval_bufs_free(eval_bufs *b);

/* Adds one (sequence, step) to acc (last rank): KL/top-1/NLL of the predicted positions. */
void aq_eval_score(const aq_llm_config *c, const int32_t *orig, const uint8_t *masked, int L,
                   const float *lf, const float *lq, aq_eval_acc *acc);

/* Mean over the time steps with data of the KL of acc[0..T). NaN when none. */
double aq_eval_overall_kl(const aq_eval_acc *acc, int T);

/* --layer-kl: for every result and every linear weight of the blocks it holds quantized, the
 * KL of the model with only that weight quantized; table on stdout, JSON to o->layer_kl
 * (format in docs/BITS.md).  Collective. */
aq_status aq_eval_layer_kl(const eval_opts *o, const aq_run *r, aq_err *err);

#endif /* AQ_EVAL_H */
