/* The greedy bit allocator under a size budget (include/aq/budget.h). */
#include <math.h>
#include <stdint.h>

#include "aq/budget.h"

/* Levels of layer r: its own count when set, else nw. */
static int top(const aq_budget_layer *r, int nw) {
    return (r->n_levels > 0 && r->n_levels < nw ? r->n_levels : nw) - 1;
}

/* The last narrowing step may leave room: step layers back up, largest error decrease per
 * byte first, while the budget still holds.  @return : achieved bytes. */
static double fill(const aq_budget_layer *rec, size_t n, int nw, double budget_bytes, double bytes,
                   int *level) {
    for (;;) {
        size_t best = SIZE_MAX;
        double best_gain = 0.0;
        for (size_t i = 0; i < n; ++i) {
            int l = level[i];
            if (l >= top(&rec[i], nw)) continue;
            double extra = rec[i].bytes[l + 1] - rec[i].bytes[l];
            if (!(extra > 0) || bytes + extra > budget_bytes) continue;
            double gain = (rec[i].err[l] - rec[i].err[l + 1]) / extra;
            if (gain > best_gain) best_gain = gain, best = i;
        }
        if (best == SIZE_MAX) return bytes;
        bytes += rec[best].bytes[level[best] + 1] - rec[best].bytes[level[best]];
        level[best]++;
    }
}

double aq_budget_allocate(const aq_budget_layer *rec, size_t n, int nw, double budget_bytes,
                          int *level) {
    double bytes = 0.0;
    for (size_t i = 0; i < n; ++i)
        level[i] = top(&rec[i], nw), bytes += rec[i].bytes[level[i]];
    while (bytes > budget_bytes) {
        size_t best = SIZE_MAX;
        double best_cost = INFINITY;
        for (size_t i = 0; i < n; ++i) {
            if (level[i] == 0) continue;
            int l = level[i];
            double saved = rec[i].bytes[l] - rec[i].bytes[l - 1];
            double cost = saved > 0 ? (rec[i].err[l - 1] - rec[i].err[l]) / saved : INFINITY;
            if (cost < best_cost) best_cost = cost, best = i;
        }
        if (best == SIZE_MAX) break; /* every layer at level 0: the budget is below the minimum */
        bytes -= rec[best].bytes[level[best]] - rec[best].bytes[level[best] - 1];
        level[best]--;
    }
    return bytes <= budget_bytes ? fill(rec, n, nw, budget_bytes, bytes, level) : bytes;
}
