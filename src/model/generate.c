/*
 * aq-mpi — text from a masked-diffusion LM by iterative unmasking (MaskGIT-style confidence
 * decoding: Chang et al., "MaskGIT", arXiv:2202.04200; as Dream's "maskgit_plus" sampler):
 * BOS + prompt + n_new masks; at each of `steps` steps every masked position gets a token
 * (drawn at the temperature, or the argmax) and a confidence (the probability of that token);
 * the k most confident positions keep theirs, the others stay masked.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "aq/synth.h"

typedef struct {
    int pos;
    int32_t tok;
    double conf;
} candidate;

/* Token and its probability from softmax(logits / temperature) (temperature 0: the argmax and
 * its probability under softmax(logits)), the mask token excluded: it is never a target. */
static candidate draw(const float *z, int64_t vocab, int32_t mask, double temperature, aq_rng *r) {
    int64_t best = mask == 0 ? 1 : 0;
    for (int64_t j = 0; j < vocab; j++)
        if (j != mask && z[j] > z[best]) best = j;
    double tau = temperature > 0 ? temperature : 1, sum = 0;
    for (int64_t j = 0; j < vocab; j++)
        if (j != mask) sum += exp((z[j] - z[best]) / tau);
    candidate c = {0, (int32_t)best, 1.0 / sum};
    if (temperature <= 0) return c;
    double u = aq_rng_uniform(r) * sum, acc = 0;
    for (int64_t j = 0; j < vocab; j++) {
        if (j == mask) continue;
        double e = exp((z[j] - z[best]) / tau);
        acc += e;
        if (u < acc) {
            c.tok = (int32_t)j, c.conf = e / sum;
            break;
        }
    }
    return c;
}

/* Higher confidence first; equal confidence: the leftmost position first. */
static int by_conf(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->conf != y->conf) return x->conf > y->conf ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* One step on the last rank: candidates for the masked positions, the k best unmasked. */
static void unmask_step(const aq_llm_config *c, const float *logits, int L, int k,
                        int32_t mask_token, double temperature, aq_rng *r, candidate *cand,
                        int32_t *tok) {
    int n = 0;
    for (int i = 1; i < L; i++) {
        if (tok[i] != mask_token) continue;
        int row = c->logits_shift ? i - 1 : i;
        cand[n] = draw(logits + (int64_t)row * c->vocab, c->vocab, mask_token, temperature, r);
        cand[n++].pos = i;
    }
    qsort(cand, (size_t)n, sizeof *cand, by_conf);
    for (int j = 0; j < k && j < n; j++)
        tok[cand[j].pos] = cand[j].tok;
}

aq_status aq_generate(const aq_pipe *p, const aq_llm *m, aq_actq *actq, const int32_t *prompt,
                      int n_prompt, const aq_gen_opts *o, int32_t mask_token, int32_t *out,
                      aq_err *err) {
    const aq_llm_config *c = &m->cfg;
    const int L = 1 + n_prompt + o->n_new;
    if (n_prompt < 0 || o->n_new < 1 || o->steps < 1)
        return aq_err_set(err, AQ_E_VALUE, "generate: need n_new >= 1 and steps >= 1");
    float *logits = p->last ? malloc((size_t)L * (size_t)c->vocab * sizeof *logits) : NULL;
    candidate *cand = malloc((size_t)L * sizeof *cand);
    aq_status st =
        (logits || !p->last) && cand ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "out of memory");
    st = aq_agree(p->comm, st, "generate: allocation", err);
    out[0] = (int32_t)(c->bos >= 0 ? c->bos : 0);
    memcpy(out + 1, prompt, (size_t)n_prompt * sizeof *out);
    for (int i = 1 + n_prompt; i < L; i++)
        out[i] = mask_token;
    aq_rng r;
    aq_rng_seed(&r, aq_synth_seed_for(o->seed, "generate"));
    aq_llm_hook hook = aq_actq_hook(actq);
    int masked = o->n_new;
    for (int s = 0; s < o->steps && masked > 0 && st == AQ_OK; s++) {
        /* the /act step of the current mask ratio over the predicted positions [1, L) */
        if (o->timesteps > 0) {
            int t = (int)((double)masked / (L - 1) * o->timesteps);
            aq_actq_set_step(actq, t < o->timesteps ? t : o->timesteps - 1);
        }
        st = aq_pipe_forward(p, m, out, L, logits, actq ? &hook : NULL, err);
        int k = (masked + (o->steps - s) - 1) / (o->steps - s); /* even share of what is left */
        if (st == AQ_OK && p->last)
            unmask_step(c, logits, L, k, mask_token, o->temperature, &r, cand, out);
        if (st == AQ_OK && MPI_Bcast(out, L, MPI_INT32_T, p->size - 1, p->comm) != MPI_SUCCESS)
            st = aq_err_set(err, AQ_E_MPI, "generate: MPI_Bcast failed");
        masked -= k < masked ? k : masked;
    }
    free(logits);
    free(cand);
    return st;
}
