/* Private to aq-eval: the options of its two modes (KL per result file, and per-layer KL
 * sensitivity, aq_eval_layers.c).  The scoring and its buffers are src/model's
 * (aq_eval_score, aq_eval_bufs in include/aq/model.h). */
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

/* --layer-kl: for every result and every linear weight of the blocks it holds quantized, the
 * KL of the model with only that weight quantized; table on stdout, JSON to o->layer_kl
 * (format in docs/BITS.md).  Collective. */
aq_status aq_eval_layer_kl(const eval_opts *o, const aq_run *r, aq_err *err);

#endif /* AQ_EVAL_H */
