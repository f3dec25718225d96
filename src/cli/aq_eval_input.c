/* aq-eval: the model input of one (sequence, time step), shared by both modes. */
#include <string.h>

#include "aq_eval.h"

void aq_eval_input(const eval_opts *o, const aq_run *r, int s, int t, aq_eval_bufs *b) {
    const int L = o->run.L;
    const int32_t *orig = r->seqs + (int64_t)s * L;
    if (o->clean) { /* the text as it is; every position scored (aq_eval_score: "masked") */
        memcpy(b->tok, orig, (size_t)L * sizeof *b->tok);
        memset(b->masked, 1, (size_t)L);
        return;
    }
    aq_mask_sequence(orig, L, t, o->T, o->run.seed, s, r->mask_token, r->cfg.logits_shift, b->tok,
                     b->masked);
}
