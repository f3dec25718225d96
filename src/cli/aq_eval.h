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
    int clean;        /* --clean: no token masked, T = 1, every predicted position scored */
    const char *json;
    const char *layer_kl;    /* per-layer sensitivity JSON (one --result) */
    const char *dump_logits; /* raw float32 full-precision logits [N, T, L, vocab] (tests) */
} eval_opts;

/* The input of sequence s at step t into b->tok / b->masked: with o->clean the tokens as they
 * are and every position flagged (so that aq_eval_score counts KL, NLL and accuracy at every
 * predicted position: next-token scoring of an autoregressive model), else
 * aq_mask_sequence() with the run's seed and mask token. */
void aq_eval_input(const eval_opts *o, const aq_run *r, int s, int t, aq_eval_bufs *b);

/* --layer-kl's candidates (aq_eval_layers.c): a block linear, the embedding (first rank), the
 * lm_head (last rank). */
typedef enum { AQ_PROBE_LINEAR, AQ_PROBE_EMBED, AQ_PROBE_HEAD } aq_probe_kind;

/* One candidate weight: block `layer`, linear `lin` (AQ_PROBE_LINEAR), its width and ggml
 * format name ("" when it has none) in the result, its measured KL. */
typedef struct {
    aq_probe_kind kind;
    int layer;
    aq_linear lin;
    int bits;
    char name[160];
    char format[16];
    double kl;
} aq_probe_target;

/* What the full-precision model computes once for --layer-kl (aq_eval_probe.c): its logits of
 * every (sequence, step) on the last rank, and on a single rank the residual stream at the
 * input of every block and of the head, so that a probe of block l's weight runs blocks l..
 * and the head only.  Within AQ_PROBE_CACHE_MAX bytes; otherwise recomputed per probe. */
typedef struct aq_probe_cache aq_probe_cache;

/* Collective (every rank agrees on whether to cache; a cache that does not fit or cannot be
 * allocated is simply off).  @return : AQ_OK and *out (free with aq_probe_cache_free), or
 * AQ_E_NOMEM on every rank when a rank cannot allocate the struct itself (*out NULL). */
aq_status aq_probe_cache_create(const eval_opts *o, const aq_run *r, aq_probe_cache **out,
                                aq_err *err);
void aq_probe_cache_free(aq_probe_cache *c);

/* Collective: acc[0..T) <- the KL terms of `probe` (r->fp with target p swapped) against the
 * full-precision model over every sequence and step; the first call fills the cache. */
aq_status aq_probe_kl(const eval_opts *o, const aq_run *r, const aq_llm *probe,
                      const aq_probe_target *p, aq_probe_cache *c, aq_eval_acc *acc, aq_err *err);

/* --layer-kl: for every result and every weight it holds quantized (block linears, embedding,
 * lm_head), the KL of the model with only that weight quantized; table on stdout, JSON to
 * o->layer_kl (format in docs/BITS.md).  Collective. */
aq_status aq_eval_layer_kl(const eval_opts *o, const aq_run *r, aq_err *err);

#endif /* AQ_EVAL_H */
