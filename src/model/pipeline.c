/*
 * aq-mpi — pipeline parallelism: contiguous blocks per rank, activations passed on.
 */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"

#define TAG_ACT 4101

/* Equal blocks over `size` ranks: fill ceil(n / size) per rank, closing a rank early when
 * every later rank needs one of the remaining blocks.  This is the split of the byte-balanced
 * linear partition for equal units (aq-mpi's plan; checked for n, size <= 64 when written). */
static void split_equal(int n, int size, int rank, int *l0, int *l1) {
    int cap = (n + size - 1) / size, r = 0, acc = 0;
    *l0 = *l1 = 0;
    for (int i = 0; i < n; i++) {
        int must_close = n - i <= size - 1 - r;
        if (i > 0 && (acc + 1 > cap || must_close) && r < size - 1) r++, acc = 0;
        acc++;
        if (r < rank) *l0 = *l1 = i + 1;
        if (r == rank) {
            if (acc == 1) *l0 = i;
            *l1 = i + 1;
        }
    }
}

aq_status aq_pipe_init(const aq_llm_config *cfg, MPI_Comm comm, aq_pipe *p, aq_err *err) {
    memset(p, 0, sizeof *p);
    p->comm = comm;
    if (MPI_Comm_rank(comm, &p->rank) != MPI_SUCCESS ||
        MPI_Comm_size(comm, &p->size) != MPI_SUCCESS)
        return aq_err_set(err, AQ_E_MPI, "MPI_Comm_rank/size failed");
    split_equal((int)cfg->n_layers, p->size, p->rank, &p->l0, &p->l1);
    p->first = p->rank == 0;
    p->last = p->rank == p->size - 1;
    return AQ_OK;
}

aq_status aq_pipe_load(const aq_pipe *p, const aq_llm_config *cfg, const aq_llm_source *src,
                       aq_llm *out, aq_err *err) {
    return aq_llm_load(cfg, src, p->l0, p->l1, p->first, p->last, out, err);
}

/* Every rank learns whether any rank failed, so none waits forever on a dead neighbour. */
static aq_status agree_fwd(MPI_Comm comm, aq_status st, aq_err *err) {
    int bad = st != AQ_OK, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm);
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
        MPI_Recv(x, count, MPI_FLOAT, p->rank - 1, TAG_ACT, p->comm, MPI_STATUS_IGNORE);
    }
    if (st == AQ_OK) st = aq_llm_blocks(m, x, L, hook, err);
    if (!p->last && x) MPI_Send(x, count, MPI_FLOAT, p->rank + 1, TAG_ACT, p->comm);
    if (p->last && st == AQ_OK) st = aq_llm_head(m, x, L, logits, hook, err);
    free(x);
    return agree_fwd(p->comm, st, err);
}
