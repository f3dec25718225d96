/*
 * aq-mpi — pipeline parallelism: contiguous blocks per rank, activations passed on.
 */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "aq/plan.h"

#define TAG_ACT 4101

aq_status aq_pipe_init(const aq_llm_config *cfg, aq_pipe *p, aq_err *err) {
    memset(p, 0, sizeof *p);
    if (MPI_Comm_rank(MPI_COMM_WORLD, &p->rank) != MPI_SUCCESS ||
        MPI_Comm_size(MPI_COMM_WORLD, &p->size) != MPI_SUCCESS)
        return aq_err_set(err, AQ_E_MPI, "MPI_Comm_rank/size failed");
    size_t n = (size_t)cfg->n_layers;
    uint64_t *bytes = malloc(n * sizeof *bytes + 1);
    int *owner = malloc(n * sizeof *owner + 1);
    if (!bytes || !owner) {
        free(bytes);
        free(owner);
        return aq_err_set(err, AQ_E_NOMEM, "pipeline plan: out of memory");
    }
    /* Blocks of one model are the same size; the byte rule keeps this aq-mpi's partition. */
    for (size_t i = 0; i < n; i++)
        bytes[i] = 1;
    aq_plan_partition(bytes, n, p->size, owner);
    p->l0 = p->l1 = 0;
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (owner[i] < p->rank) p->l0 = p->l1 = (int)i + 1;
        if (owner[i] == p->rank) {
            if (!seen) p->l0 = (int)i;
            p->l1 = (int)i + 1;
            seen = 1;
        }
    }
    free(bytes);
    free(owner);
    p->first = p->rank == 0;
    p->last = p->rank == p->size - 1;
    return AQ_OK;
}

aq_status aq_pipe_load(const aq_pipe *p, const aq_llm_config *cfg, const aq_llm_source *src,
                       aq_llm *out, aq_err *err) {
    return aq_llm_load(cfg, src, p->l0, p->l1, p->first, p->last, out, err);
}

/* Every rank learns whether any rank failed, so none waits forever on a dead neighbour. */
static aq_status agree_fwd(aq_status st, aq_err *err) {
    int bad = st != AQ_OK, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any && !bad) return aq_err_set(err, AQ_E_MPI, "another rank failed in the forward pass");
    return st;
}

aq_status aq_pipe_forward(const aq_pipe *p, const aq_llm *m, const int32_t *tok, int L,
                          float *logits, const aq_llm_hook *hook, aq_err *err) {
    int count = L * (int)m->cfg.hidden;
    float *x = malloc((size_t)count * sizeof *x + 1);
    aq_status st = x ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "forward: out of memory");
    /* A failed stage still sends (garbage) so the chain never blocks; agree() reports it. */
    if (p->first) {
        if (st == AQ_OK) st = aq_llm_embed(m, tok, L, x, err);
    } else if (x) {
        MPI_Recv(x, count, MPI_FLOAT, p->rank - 1, TAG_ACT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    if (st == AQ_OK) st = aq_llm_blocks(m, x, L, hook, err);
    if (!p->last && x) MPI_Send(x, count, MPI_FLOAT, p->rank + 1, TAG_ACT, MPI_COMM_WORLD);
    if (p->last && st == AQ_OK) st = aq_llm_head(m, x, L, logits, hook, err);
    free(x);
    return agree_fwd(st, err);
}
