/* Row-sharding's cut (issue 16): a contiguous split of the model's cost over the ranks with
 * units, tensors and row blocks as the pieces (pure; aq_plan_shard() feeds it).
 *
 * Two passes.  First the smallest capacity C (largest rank total) for which a fill that packs
 * each rank up to C (cutting cuttable tensors at C) needs at most `ranks` ranks: a binary
 * search, the same idea as aq_plan_partition() one level down.  Then the items: each rank
 * aims at an even share of what is left (start + remaining / remaining ranks), a tensor
 * crossing that target is cut at the granule nearest it or, when it may not be cut, goes to
 * the side where most of it lies; a choice is taken only if the rest still fits in the
 * remaining ranks at C (else the packing choice, which always does).  So no rank exceeds C
 * and the ranks are as even as the pieces allow. */
#include <stdint.h>

#include "plan_internal.h"

typedef struct {
    const aq_plan_piece *pc;
    size_t n; /* pieces */
    int ranks;
    uint64_t cap;
} problem;

/* A piece with a head (a factorization its blocks would share) stays whole here. */
static int cuttable(const aq_plan_piece *p) {
    return p->head == 0 && aq_piece_cuttable(p);
}

static uint64_t per_row(const aq_plan_piece *p) {
    return p->cost / (uint64_t)p->rows;
}

/* Cost of rows [row0, rows) of piece p (the rounding remainder stays with the last block). */
static uint64_t rest_cost(const aq_plan_piece *p, int64_t row0) {
    return row0 ? p->cost - per_row(p) * (uint64_t)row0 : p->cost;
}

/* The largest cut at or below what `room` holds beyond row0: a multiple of the granule. */
static int64_t cut_in(const aq_plan_piece *p, int64_t row0, uint64_t room) {
    return row0 + (int64_t)(room / per_row(p) / (uint64_t)p->granule) * p->granule;
}

/* Whether the pieces from (k, row0), with rank r holding `load`, fit in the ranks at capacity
 * x->cap when every rank is packed (tensors cut where the capacity ends). */
static int fits(const problem *x, size_t k, int64_t row0, int r, uint64_t load) {
    for (; k < x->n; ++k, row0 = 0) {
        const aq_plan_piece *p = &x->pc[k];
        uint64_t rest = rest_cost(p, row0);
        while (load + rest > x->cap) {
            if (cuttable(p)) {
                const int64_t cut = cut_in(p, row0, x->cap - load);
                if (cut >= p->rows) break;
                row0 = cut;
                rest = rest_cost(p, row0);
            } else if (rest > x->cap) {
                return 0;
            }
            if (++r >= x->ranks) return 0;
            load = 0;
            if (!cuttable(p)) break;
        }
        load += rest;
    }
    return 1;
}

/* The smallest capacity that fits: at least the mean, every uncuttable piece and one granule
 * of every cuttable one (so packing always progresses). */
static uint64_t min_capacity(problem *x) {
    uint64_t total = 0, lo = 0;
    for (size_t k = 0; k < x->n; ++k) {
        const aq_plan_piece *p = &x->pc[k];
        const uint64_t least =
            cuttable(p) ? per_row(p) * (uint64_t)p->granule + (p->cost % (uint64_t)p->rows)
                        : p->cost;
        total += p->cost;
        lo = least > lo ? least : lo;
    }
    const uint64_t mean = (total + (uint64_t)x->ranks - 1) / (uint64_t)x->ranks;
    lo = mean > lo ? mean : lo;
    uint64_t hi = total > lo ? total : lo;
    while (lo < hi) {
        x->cap = lo + (hi - lo) / 2;
        if (fits(x, 0, 0, 0, 0))
            hi = x->cap;
        else
            lo = x->cap + 1;
    }
    x->cap = lo;
    return total;
}

/* The emitting pass: position (piece k, row0), rank r with `load`, cost placed `at`, and the
 * rank's target end. */
typedef struct {
    problem x;
    uint64_t total, at, target, load;
    int r;
    aq_plan_item *out; /* NULL: count only */
    size_t n;
} cursor;

static void open_rank(cursor *c, int r) {
    const uint64_t left = c->total - c->at, n = (uint64_t)(c->x.ranks - r);
    c->r = r;
    c->load = 0;
    c->target = c->at + (left + n / 2) / n;
}

/* Cost left before the target (0 once past it). */
static uint64_t to_target(const cursor *c) {
    return c->target > c->at ? c->target - c->at : 0;
}

static void put(cursor *c, aq_plan_item it, uint64_t cost) {
    it.rank = c->r;
    it.cost = cost;
    if (c->out) c->out[c->n] = it;
    c->n++;
    c->load += cost;
    c->at += cost;
}

/* After a piece ends at or past the target: the next rank, if the rest still fits. */
static void maybe_next(cursor *c, size_t k_next, uint64_t cost) {
    if (cost > 0 && c->at >= c->target && c->r + 1 < c->x.ranks &&
        fits(&c->x, k_next, 0, c->r + 1, 0))
        open_rank(c, c->r + 1);
}

static aq_plan_item item(size_t unit, size_t first, size_t count, uint64_t work) {
    return (aq_plan_item){unit, first, count, 0, 0, 0, 1, work, 0, 0, 0};
}

/* A piece that may not be cut and crosses the target: on this rank when most of it lies
 * before the target (or the rank is empty), else on the next; the other side when that one
 * would not leave the rest fitting. */
static void place_whole(cursor *c, size_t unit, size_t k) {
    const aq_plan_piece *p = &c->x.pc[k];
    const int keep_ok =
        c->load + p->cost <= c->x.cap && fits(&c->x, k + 1, 0, c->r, c->load + p->cost);
    const int move_ok =
        c->load > 0 && c->r + 1 < c->x.ranks && fits(&c->x, k + 1, 0, c->r + 1, p->cost);
    const int prefer_keep = c->load == 0 || 2 * to_target(c) >= p->cost;
    if (move_ok && (!keep_ok || !prefer_keep)) open_rank(c, c->r + 1);
    put(c, item(unit, k, 1, p->work), p->cost);
    maybe_next(c, k + 1, p->cost);
}

/* One row block [row0, row1) of piece k, block b (numbered later: n_blocks fixed up). */
static void put_block(cursor *c, size_t unit, size_t k, int64_t row0, int64_t row1, int b) {
    const aq_plan_piece *p = &c->x.pc[k];
    const uint64_t bpr = p->work / (uint64_t)p->rows;
    aq_plan_item it = item(unit, k, 1, p->work);
    it.row0 = row0, it.row1 = row1, it.block = b;
    it.work_bytes = row1 < p->rows ? bpr * (uint64_t)(row1 - row0) : p->work - bpr * (uint64_t)row0;
    const uint64_t cost =
        row1 < p->rows ? per_row(p) * (uint64_t)(row1 - row0) : rest_cost(p, row0);
    put(c, it, cost);
}

/* The cut for the rest of piece k from row0 on this rank: the granule nearest the target,
 * else (if that leaves no fit) the largest that the capacity holds; row0 itself means "start
 * the next rank", rows "the rest stays here". */
static int64_t choose_cut(const cursor *c, size_t k, int64_t row0) {
    const aq_plan_piece *p = &c->x.pc[k];
    const int64_t g = p->granule;
    int64_t near =
        row0 + (int64_t)((to_target(c) / per_row(p) + (uint64_t)g / 2) / (uint64_t)g) * g;
    if (near == row0 && c->load == 0) near = row0 + g; /* an empty rank takes a granule */
    const int64_t most = cut_in(p, row0, c->x.cap - c->load);
    const int64_t tries[2] = {near, most};
    for (int i = 0; i < 2; ++i) {
        const int64_t cut = tries[i] < p->rows ? tries[i] : p->rows;
        if (cut > most && cut < p->rows) continue; /* over the capacity */
        if (cut == p->rows) {
            if (c->load + rest_cost(p, row0) <= c->x.cap &&
                fits(&c->x, k + 1, 0, c->r, c->load + rest_cost(p, row0)))
                return cut;
        } else if (fits(&c->x, k, cut, c->r + 1, 0)) {
            return cut;
        }
    }
    return most < p->rows ? most : p->rows;
}

/* A cuttable piece crossing the target: row blocks, one per rank it reaches. */
static void place_rows(cursor *c, size_t unit, size_t k) {
    const aq_plan_piece *p = &c->x.pc[k];
    const size_t first_item = c->n;
    int64_t row0 = 0;
    int b = 0;
    while (row0 < p->rows) {
        if (c->r == c->x.ranks - 1 || c->at + rest_cost(p, row0) <= c->target) {
            put_block(c, unit, k, row0, p->rows, b++);
            break;
        }
        const int64_t cut = choose_cut(c, k, row0);
        if (cut > row0) put_block(c, unit, k, row0, cut, b++);
        if (cut >= p->rows) break;
        open_rank(c, c->r + 1);
        row0 = cut;
    }
    for (size_t i = first_item; c->out && i < c->n; ++i) /* one block: the tensor is whole */
        if (b > 1)
            c->out[i].n_blocks = b;
        else
            c->out[i].row0 = c->out[i].row1 = 0;
    maybe_next(c, k + 1, p->cost);
}

static void place_tensor(cursor *c, size_t unit, size_t k) {
    const aq_plan_piece *p = &c->x.pc[k];
    if (c->r == c->x.ranks - 1 || c->at + p->cost <= c->target) {
        put(c, item(unit, k, 1, p->work), p->cost);
        maybe_next(c, k + 1, p->cost);
    } else if (cuttable(p)) {
        place_rows(c, unit, k);
    } else {
        place_whole(c, unit, k);
    }
}

size_t aq_plan_split(const aq_plan_piece *pieces, const size_t *unit_first,
                     const size_t *unit_count, size_t n_units, int ranks, aq_plan_item *out) {
    cursor c = {{pieces, 0, ranks > 0 ? ranks : 1, 0}, 0, 0, 0, 0, 0, out, 0};
    for (size_t u = 0; u < n_units; ++u)
        c.x.n = unit_first[u] + unit_count[u] > c.x.n ? unit_first[u] + unit_count[u] : c.x.n;
    c.total = min_capacity(&c.x);
    open_rank(&c, 0);
    for (size_t u = 0; u < n_units; ++u) {
        uint64_t uc = 0, ub = 0; /* the unit's cost and work bytes */
        const size_t end = unit_first[u] + unit_count[u];
        for (size_t k = unit_first[u]; k < end; ++k)
            uc += pieces[k].cost, ub += pieces[k].work;
        const int whole =
            c.r == c.x.ranks - 1 || (c.at + uc <= c.target && fits(&c.x, end, 0, c.r, c.load + uc));
        if (whole) { /* the unit fits: one item */
            put(&c, item(u, unit_first[u], unit_count[u], ub), uc);
            maybe_next(&c, end, uc);
            continue;
        }
        for (size_t k = unit_first[u]; k < end; ++k)
            place_tensor(&c, u, k);
    }
    return c.n;
}
