/* Contiguous, byte-balanced partition of units over ranks (linear partition problem). */
#include "aq/plan.h"

/* Greedy fill with capacity `cap`; counts the segments needed.  A unit larger than `cap`
 * makes the capacity infeasible (returns SIZE_MAX). */
static size_t segments_needed(const uint64_t *bytes, size_t n, uint64_t cap) {
    size_t segs = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; ++i) {
        if (bytes[i] > cap) return (size_t)-1;
        if (segs == 0 || acc + bytes[i] > cap) {
            ++segs;
            acc = 0;
        }
        acc += bytes[i];
    }
    return segs;
}

static uint64_t min_capacity(const uint64_t *bytes, size_t n, int ranks) {
    uint64_t lo = 0, hi = 0;
    for (size_t i = 0; i < n; ++i) {
        hi += bytes[i];
        if (bytes[i] > lo) lo = bytes[i];
    }
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (segments_needed(bytes, n, mid) <= (size_t)ranks)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void aq_plan_partition(const uint64_t *bytes, size_t n, int ranks, int *owner) {
    if (n == 0) return;
    if ((size_t)ranks >= n) {
        for (size_t i = 0; i < n; ++i)
            owner[i] = (int)i;
        return;
    }
    uint64_t cap = min_capacity(bytes, n, ranks), acc = 0;
    int r = 0;
    for (size_t i = 0; i < n; ++i) {
        /* Close the rank when the unit does not fit, or when every later rank needs one of
         * the remaining units; splitting a segment never raises the maximum. */
        size_t left = n - i;
        int must_close = left <= (size_t)(ranks - 1 - r);
        if (i > 0 && (acc + bytes[i] > cap || must_close) && r < ranks - 1) {
            ++r;
            acc = 0;
        }
        owner[i] = r;
        acc += bytes[i];
    }
}
