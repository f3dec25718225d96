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
        pc[k].head = pc[k].each = 0;
        pc[k].cost = work && cost ? cost(t, ctx, &pc[k].head, &pc[k].each) : pc[k].work;
        pc[k].rows = t->ndim > 0 ? t->shape[0] : 1;
        pc[k].granule = work && granule ? granule(t, ctx) : 0;
    }
}

/* The busiest rank's cost of n items (load: scratch of `ranks`). */
static uint64_t busiest(const aq_plan_item *items, size_t n, int ranks, uint64_t *load) {
    uint64_t mx = 0;
    memset(load, 0, (size_t)ranks * sizeof *load);
    for (size_t i = 0; i < n; ++i) {
        load[items[i].rank] += items[i].cost;
        mx = load[items[i].rank] > mx ? load[items[i].rank] : mx;
    }
    return mx;
}

typedef struct {
    aq_plan_item *items;
    size_t n;
} candidate;

/* Both cuts of the pieces; *spread when aq_plan_spread()'s busiest rank is at least 2 %
 * below the contiguous cut's (with a cost only: contiguity keeps a block's tensors, and so
 * their shared Hessian factorization, on one rank, which the estimate does not count). */
static aq_status cut(const aq_plan *p, const aq_plan_piece *pc, const size_t *first,
                     const size_t *count, int with_spread, candidate *out, int *spread,
                     aq_err *err) {
    candidate c[2] = {{NULL, aq_plan_split(pc, first, count, p->n_units, p->n_ranks, NULL)}, {0}};
    aq_status st = AQ_OK;
    if (with_spread)
        st = aq_plan_spread(pc, first, count, p->n_units, p->n_ranks, NULL, &c[1].n, err);
    for (int i = 0; i < 1 + with_spread && st == AQ_OK; ++i)
        if (!(c[i].items = calloc(c[i].n + 1, sizeof *c[i].items)))
            st = aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    if (st == AQ_OK) aq_plan_split(pc, first, count, p->n_units, p->n_ranks, c[0].items);
    if (st == AQ_OK && with_spread)
        st = aq_plan_spread(pc, first, count, p->n_units, p->n_ranks, c[1].items, &c[1].n, err);
    uint64_t *load = st == AQ_OK ? malloc((size_t)p->n_ranks * sizeof *load) : NULL;
    if (st == AQ_OK && !load) st = aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    *spread = 0;
    if (st == AQ_OK && with_spread) {
        const uint64_t a = busiest(c[0].items, c[0].n, p->n_ranks, load);
        const uint64_t b = busiest(c[1].items, c[1].n, p->n_ranks, load);
        *spread = (double)b < 0.98 * (double)a;
    }
    free(load);
    free(c[*spread ? 0 : 1].items);
    if (st != AQ_OK) {
        free(c[*spread ? 1 : 0].items);
        return st;
    }
    *out = c[*spread];
    return AQ_OK;
}

aq_status aq_plan_shard(aq_plan *p, const aq_checkpoint *m, aq_plan_is_work is_work,
                        aq_plan_granule granule, aq_plan_cost cost, const void *ctx, aq_err *err) {
    if (p->n_ranks == 1) return AQ_OK; /* the items are the units */
    aq_plan_piece *pc = calloc(p->n_tensors + 1, sizeof *pc);
    size_t *first = malloc((p->n_units + 1) * sizeof *first);
    size_t *count = malloc((p->n_units + 1) * sizeof *count);
    aq_status st =
        pc && first && count ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    candidate c = {NULL, 0};
    int spread = 0;
    if (st == AQ_OK) {
        fill_pieces(p, m, is_work, granule, cost, ctx, pc);
        for (size_t u = 0; u < p->n_units; ++u)
            first[u] = p->units[u].first, count[u] = p->units[u].count;
        st = cut(p, pc, first, count, cost != NULL, &c, &spread, err);
    }
    int *owner = st == AQ_OK ? malloc((c.n + 1) * sizeof *owner) : NULL;
    if (st == AQ_OK && !owner) st = aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    if (st == AQ_OK) {
        free(p->items);
        p->items = c.items, c.items = NULL;
        p->n_items = c.n;
        p->sharded = 1;
        p->by_cost = cost != NULL;
        p->spread = spread;
        for (size_t i = 0; i < c.n; ++i)
            owner[i] = p->items[i].rank;
        st = aq_plan_assign_items(p, owner, err);
    }
    free(c.items);
    free(pc);
    free(first);
    free(count);
    free(owner);
    return st;
}
