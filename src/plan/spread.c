/* Row-sharding for a cost far from proportional to bytes (GPTQ): tensor and row-block items
 * spread over the ranks by longest-processing-time-first, not contiguously (pure;
 * aq_plan_shard() feeds it). */
#include <stdlib.h>

#include "plan_internal.h"

typedef struct {
    uint64_t cost;
    size_t item;
    int first; /* block 0 of a shared tensor: placed before every other item */
} ranked;

static int by_cost_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->first != y->first) return x->first ? -1 : 1;
    if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Blocks of piece p for blocks of at most `most` cost: boundaries at the granule multiples
 * nearest b * rows / n.  @return : n (1: whole). */
static int blocks_of(const aq_plan_piece *p, uint64_t most, int64_t *bounds, int max_blocks,
                     int ranks) {
    bounds[0] = 0, bounds[1] = p->rows;
    if (!aq_piece_cuttable(p) || p->cost <= most || (p->head && ranks < 3)) return 1;
    if (p->head && max_blocks > AQ_PLAN_SHARED_BLOCKS) max_blocks = AQ_PLAN_SHARED_BLOCKS;
    const int64_t g = p->granule, whole_granules = p->rows / g;
    int64_t n = (int64_t)((p->cost + most - 1) / most);
    n = n < whole_granules ? n : whole_granules;
    n = n < max_blocks ? n : max_blocks;
    if (n < 2) return 1;
    for (int64_t b = 1; b < n; ++b) /* at least a granule apart: n <= rows / g */
        bounds[b] = (2 * b * p->rows + n * g) / (2 * n * g) * g;
    bounds[n] = p->rows;
    return (int)n;
}

/* The items in plan order (out NULL: count only); costs[] (when not NULL) their costs. */
static size_t make_items(const aq_plan_piece *pc, const size_t *unit_first,
                         const size_t *unit_count, size_t n_units, uint64_t most, int max_blocks,
                         int ranks, int64_t *bounds, aq_plan_item *out, uint64_t *costs) {
    size_t n = 0;
    for (size_t u = 0; u < n_units; ++u)
        for (size_t k = unit_first[u]; k < unit_first[u] + unit_count[u]; ++k) {
            const aq_plan_piece *p = &pc[k];
            const int nb = blocks_of(p, most, bounds, max_blocks, ranks);
            const uint64_t head = nb > 1 ? p->head : 0, each = nb > 1 ? p->each : 0;
            const uint64_t rest = p->cost - head - each;
            const uint64_t bpr = p->work / (uint64_t)(p->rows > 0 ? p->rows : 1);
            const uint64_t cpr = rest / (uint64_t)(p->rows > 0 ? p->rows : 1);
            for (int b = 0; b < nb; ++b, ++n) {
                if (!out) continue;
                const int last = b + 1 == nb;
                const int64_t r0 = bounds[b], r1 = bounds[b + 1];
                out[n] = (aq_plan_item){u, k, 1, 0, 0, 0, 1, p->work, 0, 0, 0};
                costs[n] = p->cost;
                if (nb == 1) continue;
                out[n].row0 = r0, out[n].row1 = r1, out[n].block = b, out[n].n_blocks = nb;
                out[n].shared = head > 0;
                out[n].work_bytes = last ? p->work - bpr * (uint64_t)r0 : bpr * (uint64_t)(r1 - r0);
                costs[n] = (last ? rest - cpr * (uint64_t)r0 : cpr * (uint64_t)(r1 - r0)) +
                           (b == 0 ? head : 0) + each;
            }
            for (int b = 0; out && b < nb; ++b)
                out[n - (size_t)nb + (size_t)b].cost = costs[n - (size_t)nb + (size_t)b];
        }
    return n;
}

/* When rank r would finish: its work, or the latest factorization it waits for (ready at its
 * head: block 0 goes first on its owner) plus the blocks that wait for it. */
static uint64_t finish(const uint64_t *load, int ranks, int r) {
    const uint64_t work = load[r], waiting = load[ranks + r], ready = load[2 * ranks + r];
    return ready + waiting > work ? ready + waiting : work;
}

/* Item i of cost c to the rank where it ends soonest (ties: the lowest); a block that
 * receives its factorization: not rank 0 (which stores every result and must not wait) and
 * not block 0's owner (the shared tensors' blocks 0 are placed first). */
static void place(aq_plan_item *out, size_t i, uint64_t c, const aq_plan_piece *pc, int ranks,
                  uint64_t *load) {
    aq_plan_item *it = &out[i];
    const int waits = it->shared && it->block > 0;
    const int avoid = waits ? out[i - (size_t)it->block].rank : -1;
    const uint64_t ready = waits ? pc[it->first].head : 0;
    int best = -1;
    uint64_t best_end = 0;
    for (int r = waits ? 1 : 0; r < ranks; ++r) {
        if (r == avoid) continue;
        uint64_t end = finish(load, ranks, r) > load[r] + c ? finish(load, ranks, r) : load[r] + c;
        if (waits) {
            const uint64_t rd = ready > load[2 * ranks + r] ? ready : load[2 * ranks + r];
            end = rd + load[ranks + r] + c > load[r] + c ? rd + load[ranks + r] + c : load[r] + c;
        }
        if (best < 0 || end < best_end) best = r, best_end = end;
    }
    it->rank = best;
    load[best] += c;
    if (waits) {
        load[ranks + best] += c;
        if (ready > load[2 * ranks + best]) load[2 * ranks + best] = ready;
    }
}

aq_status aq_plan_spread(const aq_plan_piece *pieces, const size_t *unit_first,
                         const size_t *unit_count, size_t n_units, int ranks, aq_plan_item *out,
                         size_t *n, aq_err *err) {
    if (ranks < 1) ranks = 1;
    uint64_t total = 0;
    for (size_t u = 0; u < n_units; ++u)
        for (size_t k = unit_first[u]; k < unit_first[u] + unit_count[u]; ++k)
            total += pieces[k].cost;
    const uint64_t mean = total / (uint64_t)ranks, most = mean / 4 > 0 ? mean / 4 : 1;
    const int max_blocks = 4 * ranks;
    int64_t *bounds = malloc(((size_t)max_blocks + 1) * sizeof *bounds);
    if (!bounds) return aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    *n = make_items(pieces, unit_first, unit_count, n_units, most, max_blocks, ranks, bounds, NULL,
                    NULL);
    if (!out) return free(bounds), AQ_OK;
    uint64_t *costs = malloc((*n + 1) * sizeof *costs);
    uint64_t *load = calloc(3 * (size_t)ranks, sizeof *load); /* per rank: work, waiting, ready */
    ranked *order = malloc((*n + 1) * sizeof *order);
    if (!costs || !load || !order) {
        free(bounds), free(costs), free(load), free(order);
        return aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    }
    make_items(pieces, unit_first, unit_count, n_units, most, max_blocks, ranks, bounds, out,
               costs);
    for (size_t i = 0; i < *n; ++i)
        order[i] = (ranked){costs[i], i, out[i].shared && out[i].block == 0};
    qsort(order, *n, sizeof *order, by_cost_desc);
    for (size_t i = 0; i < *n; ++i) /* the largest first, each where it ends soonest */
        place(out, order[i].item, order[i].cost, pieces, ranks, load);
    free(bounds), free(costs), free(load), free(order);
    return AQ_OK;
}
