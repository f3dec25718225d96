/*
 * aq-mpi — what aq-calib and aq-eval share: model, pipeline, full-precision weights and the
 * token sequences, set up collectively.
 */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "aq/mpi_util.h"

aq_status aq_agree(MPI_Comm comm, aq_status st, const char *what, aq_err *err) {
    /* The job's agreement: every rank gets the lowest failing rank's own message. */
    if (st != AQ_OK && err && !err->msg[0]) aq_err_set(err, st, "%s failed", what);
    return aq_mpi_agree(comm, st, err);
}

static aq_status open_local(const aq_run_opts *o, MPI_Comm comm, aq_run *r, aq_err *err) {
    aq_status st = aq_checkpoint_open(o->model, &r->st, err);
    if (st == AQ_OK)
        st = aq_llm_config_parse(aq_checkpoint_config_json(r->st), o->model, &r->cfg, err);
    if (st != AQ_OK) return st;
    if (o->causal >= 0) r->cfg.causal = o->causal;
    if (o->causal == 1) r->cfg.logits_shift = 1;
    r->mask_from_config = o->mask_token < 0 && r->cfg.mask_token >= 0;
    r->mask_token =
        (int32_t)(o->mask_token >= 0 ? o->mask_token
                                     : (r->cfg.mask_token >= 0 ? r->cfg.mask_token : 0));
    if (r->mask_token >= r->cfg.vocab)
        return aq_err_set(err, AQ_E_CONFIG, "mask token %d outside the vocabulary (%lld)",
                          r->mask_token, (long long)r->cfg.vocab);
    if (o->n_seq < 0 || (o->n_seq > 0 && o->L < 2))
        return aq_err_set(err, AQ_E_CONFIG, "need sequences of at least 2 tokens");
    st = aq_pipe_init(&r->cfg, comm, &r->pipe, err);
    if (st == AQ_OK) {
        aq_llm_source src = aq_llm_source_safetensors(r->st);
        st = aq_pipe_load(&r->pipe, &r->cfg, &src, &r->fp, err);
    }
    if (st == AQ_OK && o->n_seq > 0) {
        r->seqs = malloc((size_t)o->n_seq * (size_t)o->L * sizeof *r->seqs);
        if (!r->seqs) st = aq_err_set(err, AQ_E_NOMEM, "sequences: out of memory");
    }
    if (st == AQ_OK && o->n_seq > 0 && o->tokens)
        st = aq_tokens_read(o->tokens, o->n_seq, o->L, r->cfg.vocab, r->seqs, err);
    return st;
}

aq_status aq_run_open(const aq_run_opts *o, MPI_Comm comm, aq_run *r, aq_err *err) {
    memset(r, 0, sizeof *r);
    aq_status st = aq_agree(comm, open_local(o, comm, r, err), "loading the model", err);
    if (st == AQ_OK && o->n_seq > 0 && !o->tokens)
        st = aq_sample_sequences(&r->pipe, &r->fp, o->n_seq, o->L, o->seed, o->temperature,
                                 r->mask_token, r->seqs, err);
    if (st != AQ_OK) aq_run_close(r);
    return st;
}

void aq_run_close(aq_run *r) {
    aq_llm_free(&r->fp);
    aq_checkpoint_close(r->st);
    free(r->seqs);
    memset(r, 0, sizeof *r);
}
