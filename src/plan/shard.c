/* Row-sharding (issue 16): the model's tensors as pieces for aq_plan_split(), its items
 * assigned over the ranks. */
#include <stdlib.h>
#include <string.h>

#include "aq/plan.h"

aq_status aq_plan_assign_items(aq_plan *p, const int *owner, aq_err *err) {
    memset(p->rank_bytes, 0, (size_t)p->n_ranks * sizeof *p->rank_bytes);
    for (size_t i = 0; i < p->n_items; ++i) {
        if (owner[i] < 0 || owner[i] >= p->n_ranks)
            return aq_err_set(err, AQ_E_MPI, "plan: item %zu assigned to rank %d of %d", i,
                              owner[i], p->n_ranks);
        p->items[i].rank = owner[i];
        p->rank_bytes[owner[i]] += p->items[i].work_bytes;
    }
    return AQ_OK;
}

static void fill_pieces(const aq_plan *p, const aq_checkpoint *m, aq_plan_is_work is_work,
                        aq_plan_granule granule, aq_plan_cost cost, const void *ctx,
                        aq_plan_piece *pc) {
    for (size_t k = 0; k < p->n_tensors; ++k) {
        const aq_tensor *t = aq_checkpoint_tensor(m, p->tensor_order[k]);
        const int work = !is_work || is_work(t, ctx);
        pc[k].work = work ? t->nbytes : 0;
        pc[k].cost = work && cost ? cost(t, ctx) : pc[k].work;
        pc[k].rows = t->ndim > 0 ? t->shape[0] : 1;
        pc[k].granule = work && granule ? granule(t, ctx) : 0;
    }
}

aq_status aq_plan_shard(aq_plan *p, const aq_checkpoint *m, aq_plan_is_work is_work,
                        aq_plan_granule granule, aq_plan_cost cost, const void *ctx, aq_err *err) {
    if (p->n_ranks == 1) return AQ_OK; /* the items are the units */
    aq_plan_piece *pc = calloc(p->n_tensors + 1, sizeof *pc);
    size_t *first = malloc((p->n_units + 1) * sizeof *first);
    size_t *count = malloc((p->n_units + 1) * sizeof *count);
    aq_status st =
        pc && first && count ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    size_t n = 0;
    if (st == AQ_OK) {
        fill_pieces(p, m, is_work, granule, cost, ctx, pc);
        for (size_t u = 0; u < p->n_units; ++u)
            first[u] = p->units[u].first, count[u] = p->units[u].count;
        if (cost)
            st = aq_plan_spread(pc, first, count, p->n_units, p->n_ranks, NULL, &n, err);
        else
            n = aq_plan_split(pc, first, count, p->n_units, p->n_ranks, NULL);
    }
    aq_plan_item *items = st == AQ_OK ? calloc(n + 1, sizeof *items) : NULL;
    int *owner = st == AQ_OK ? malloc((n + 1) * sizeof *owner) : NULL;
    if (st == AQ_OK && (!items || !owner)) st = aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    if (st == AQ_OK && cost)
        st = aq_plan_spread(pc, first, count, p->n_units, p->n_ranks, items, &n, err);
    else if (st == AQ_OK)
        aq_plan_split(pc, first, count, p->n_units, p->n_ranks, items);
    if (st == AQ_OK) {
        free(p->items);
        p->items = items, items = NULL;
        p->n_items = n;
        p->sharded = 1;
        p->by_cost = cost != NULL;
        for (size_t i = 0; i < n; ++i)
            owner[i] = p->items[i].rank;
        st = aq_plan_assign_items(p, owner, err);
    }
    free(items);
    free(pc);
    free(first);
    free(count);
    free(owner);
    return st;
}
