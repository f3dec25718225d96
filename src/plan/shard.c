/* Row-sharding (issue 16): units larger than a fair share become tensor and row-block items. */
#include <stdlib.h>
#include <string.h>

#include "aq/plan.h"

int aq_plan_row_blocks(int64_t rows, uint64_t bytes, int64_t granule, uint64_t max_bytes,
                       int max_blocks, int64_t *bounds) {
    bounds[0] = 0;
    bounds[1] = rows > 0 ? rows : 0;
    if (rows < 1 || granule < 1 || max_bytes == 0 || max_blocks < 1 || bytes <= max_bytes) return 1;
    const int64_t g = rows / granule; /* whole granules; a short tail joins the last block */
    uint64_t want = (bytes + max_bytes - 1) / max_bytes;
    int64_t n = (int64_t)(want < (uint64_t)g ? want : (uint64_t)g);
    if (n > max_blocks) n = max_blocks;
    if (n < 2) return 1;
    /* boundary b: the granule multiple nearest to b * rows / n; targets are at least one
     * granule apart (n <= g), so the boundaries strictly increase and stay below rows */
    for (int64_t b = 1; b < n; ++b)
        bounds[b] = (2 * b * rows + n * granule) / (2 * n * granule) * granule;
    bounds[n] = rows;
    return (int)n;
}

static uint64_t work_of(const aq_tensor *t, aq_plan_is_work is_work, const void *ctx) {
    return !is_work || is_work(t, ctx) ? t->nbytes : 0;
}

static aq_plan_item whole(size_t unit, size_t first, size_t count, uint64_t work) {
    return (aq_plan_item){unit, first, count, 0, 0, 0, 1, work, 0};
}

static int64_t rows_of(const aq_tensor *t) {
    return t->ndim > 0 ? t->shape[0] : 1;
}

/* Items of unit u into out (NULL: count only); @return : their number. */
static size_t unit_items(const aq_plan *p, const aq_checkpoint *m, size_t u, uint64_t share,
                         aq_plan_is_work is_work, aq_plan_granule granule, const void *ctx,
                         aq_plan_item *out, int64_t *bounds) {
    const aq_unit *un = &p->units[u];
    if (un->work_bytes <= share) {
        if (out) out[0] = whole(u, un->first, un->count, un->work_bytes);
        return 1;
    }
    size_t n = 0;
    const int max_blocks = 4 * p->n_ranks;
    for (size_t k = un->first; k < un->first + un->count; ++k) {
        const aq_tensor *t = aq_checkpoint_tensor(m, p->tensor_order[k]);
        const uint64_t w = work_of(t, is_work, ctx);
        const int64_t g = w > share / 4 && granule ? granule(t, ctx) : 0;
        int nb = aq_plan_row_blocks(rows_of(t), w, g, share / 4, max_blocks, bounds);
        for (int b = 0; b < nb; ++b, ++n) {
            if (!out) continue;
            out[n] = whole(u, k, 1, w);
            if (nb == 1) continue;
            out[n].row0 = bounds[b];
            out[n].row1 = bounds[b + 1];
            out[n].block = b;
            out[n].n_blocks = nb;
            /* bytes in proportion to rows; the remainder to the last block */
            const uint64_t per = w / (uint64_t)rows_of(t);
            out[n].work_bytes = b + 1 < nb ? per * (uint64_t)(bounds[b + 1] - bounds[b])
                                           : w - per * (uint64_t)bounds[b];
        }
    }
    return n;
}

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

aq_status aq_plan_shard(aq_plan *p, const aq_checkpoint *m, aq_plan_is_work is_work,
                        aq_plan_granule granule, const void *ctx, aq_err *err) {
    uint64_t total = 0;
    for (size_t u = 0; u < p->n_units; ++u)
        total += p->units[u].work_bytes;
    const uint64_t share = (total + (uint64_t)p->n_ranks - 1) / (uint64_t)p->n_ranks;
    if (p->n_ranks == 1) return AQ_OK; /* the items are the units */
    int64_t *bounds = malloc((size_t)(4 * p->n_ranks + 1) * sizeof *bounds);
    if (!bounds) return aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    size_t n = 0;
    for (size_t u = 0; u < p->n_units; ++u)
        n += unit_items(p, m, u, share, is_work, granule, ctx, NULL, bounds);
    aq_plan_item *items = calloc(n ? n : 1, sizeof *items);
    uint64_t *bytes = malloc((n ? n : 1) * sizeof *bytes);
    int *owner = malloc((n ? n : 1) * sizeof *owner);
    aq_status st = AQ_OK;
    if (!items || !bytes || !owner) {
        st = aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
        free(items);
    } else {
        size_t k = 0;
        for (size_t u = 0; u < p->n_units; ++u)
            k += unit_items(p, m, u, share, is_work, granule, ctx, items + k, bounds);
        free(p->items);
        p->items = items;
        p->n_items = n;
        p->sharded = 1;
        for (size_t i = 0; i < n; ++i)
            bytes[i] = items[i].work_bytes;
        aq_plan_partition(bytes, n, p->n_ranks, owner);
        st = aq_plan_assign_items(p, owner, err);
    }
    free(bounds);
    free(bytes);
    free(owner);
    return st;
}
