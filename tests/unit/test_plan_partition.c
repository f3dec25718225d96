/* Partition: contiguity, balance against brute force, more ranks than units; plan of the real
 * model. */
#include <check.h>

#include "aq_check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/plan.h"
#include "aq/synth.h"

static uint64_t max_load(const uint64_t *b, size_t n, const int *owner, int ranks) {
    uint64_t load[64] = {0}, m = 0;
    for (size_t i = 0; i < n; ++i)
        load[owner[i]] += b[i];
    for (int r = 0; r < ranks; ++r)
        if (load[r] > m) m = load[r];
    return m;
}

/* Optimal largest load over all contiguous partitions into at most `ranks` parts. */
static uint64_t brute(const uint64_t *b, size_t n, int ranks) {
    uint64_t best = UINT64_MAX;
    /* cut mask over the n-1 gaps */
    for (uint32_t mask = 0; mask < (1u << (n - 1)); ++mask) {
        if (__builtin_popcount(mask) + 1 > ranks) continue;
        uint64_t acc = b[0], m = 0;
        for (size_t i = 1; i < n; ++i) {
            if (mask & (1u << (i - 1))) {
                if (acc > m) m = acc;
                acc = 0;
            }
            acc += b[i];
        }
        if (acc > m) m = acc;
        if (m < best) best = m;
    }
    return best;
}

START_TEST(partition_matches_brute_force) {
    aq_rng r;
    aq_rng_seed(&r, 42);
    for (int trial = 0; trial < 400; ++trial) {
        size_t n = 1 + aq_rng_next(&r) % 12;
        int ranks = 1 + (int)(aq_rng_next(&r) % 6);
        uint64_t b[12];
        int owner[12];
        for (size_t i = 0; i < n; ++i)
            b[i] = 1 + aq_rng_next(&r) % 1000;
        aq_plan_partition(b, n, ranks, owner);
        ck_assert_int_eq(owner[0], 0);
        for (size_t i = 1; i < n; ++i) {
            /* contiguous: owners non-decreasing by steps of 0 or 1 */
            ck_assert(owner[i] == owner[i - 1] || owner[i] == owner[i - 1] + 1);
        }
        ck_assert_int_lt(owner[n - 1], ranks);
        if ((size_t)ranks <= n) ck_assert_int_eq(owner[n - 1], ranks - 1); /* nobody idle */
        ck_assert_uint_eq(max_load(b, n, owner, ranks), brute(b, n, ranks));
    }
}
END_TEST

START_TEST(more_ranks_than_units) {
    uint64_t b[3] = {5, 7, 9};
    int owner[3];
    aq_plan_partition(b, 3, 8, owner);
    ck_assert_int_eq(owner[0], 0);
    ck_assert_int_eq(owner[1], 1);
    ck_assert_int_eq(owner[2], 2);
}
END_TEST

START_TEST(equal_units_spread_evenly) {
    uint64_t b[4] = {10, 10, 10, 10};
    int owner[4];
    aq_plan_partition(b, 4, 3, owner);
    /* max load 20 is optimal; every rank gets work */
    ck_assert_uint_eq(max_load(b, 4, owner, 3), 20);
    ck_assert_int_eq(owner[3], 2);
}
END_TEST

/* Row blocks: boundaries on the granule, strictly increasing, within max_bytes where the
 * granules allow, capped by max_blocks, one block when it fits or cannot be cut. */
/* The items of aq_plan_split() (spread = 0) or aq_plan_spread() (1): every invariant of
 * their contracts; returns the busiest rank's cost, *largest the costliest item's. */
static uint64_t items_checked(const aq_plan_piece *pc, const size_t *first, const size_t *count,
                              size_t nu, int ranks, int spread, uint64_t *largest) {
    size_t np = 0, n0 = 0;
    for (size_t u = 0; u < nu; ++u)
        np += count[u];
    static aq_plan_item items[4096];
    aq_err err = {0};
    if (spread) {
        ck_assert_int_eq(aq_plan_spread(pc, first, count, nu, ranks, NULL, &n0, &err), AQ_OK);
        ck_assert(n0 <= np + 4 * (size_t)ranks * np && n0 <= 4096);
        size_t n1 = 0;
        ck_assert_int_eq(aq_plan_spread(pc, first, count, nu, ranks, items, &n1, &err), AQ_OK);
        ck_assert_uint_eq(n1, n0);
    } else {
        n0 = aq_plan_split(pc, first, count, nu, ranks, NULL);
        ck_assert(n0 <= np + (size_t)ranks && n0 <= 4096);
        ck_assert_uint_eq(aq_plan_split(pc, first, count, nu, ranks, items), n0);
    }
    uint64_t load[64] = {0}, total = 0, mx = 0;
    *largest = 0;
    size_t next = 0; /* the next piece to be covered */
    int64_t row = 0; /* rows of it covered so far by blocks */
    for (size_t i = 0; i < n0; ++i) {
        const aq_plan_item *it = &items[i];
        ck_assert(it->rank >= 0 && it->rank < ranks);
        ck_assert(spread || i == 0 || it->rank >= items[i - 1].rank); /* contiguous */
        ck_assert_uint_eq(it->first, next);
        ck_assert(it->unit < nu && it->first >= first[it->unit] &&
                  it->first + it->count <= first[it->unit] + count[it->unit]);
        uint64_t w = 0;
        for (size_t k = it->first; k < it->first + it->count; ++k)
            w += pc[k].work;
        if (it->n_blocks > 1) { /* a row block: in order, on a granule multiple */
            const aq_plan_piece *q = &pc[it->first];
            ck_assert(it->count == 1 && q->granule > 0 && it->row0 == row && it->row1 > row);
            ck_assert(it->row0 % q->granule == 0);
            ck_assert(it->block + 1 < it->n_blocks
                          ? it->row1 % q->granule == 0 && it->row1 < q->rows
                          : it->row1 == q->rows);
            ck_assert(it->work_bytes <= w);
            row = it->row1 == q->rows ? 0 : it->row1;
            next += it->row1 == q->rows;
        } else {
            ck_assert_int_eq(row, 0);
            ck_assert_uint_eq(it->work_bytes, w);
            next += it->count;
        }
        /* cost = bytes in these tests (cost == work), so work_bytes is the item's cost */
        load[it->rank] += it->work_bytes;
        total += it->work_bytes;
        *largest = it->work_bytes > *largest ? it->work_bytes : *largest;
    }
    ck_assert_uint_eq(next, np);
    uint64_t want = 0;
    for (size_t k = 0; k < np; ++k)
        want += pc[k].work;
    ck_assert_uint_eq(total, want);
    for (int r = 0; r < ranks; ++r)
        mx = load[r] > mx ? load[r] : mx;
    return mx;
}

static uint64_t split_checked(const aq_plan_piece *pc, const size_t *first, const size_t *count,
                              size_t nu, int ranks) {
    uint64_t largest;
    return items_checked(pc, first, count, nu, ranks, 0, &largest);
}

START_TEST(split_cases) {
    /* 4 units of 3 tensors of 1000 rows x 10 bytes (granule 100): 4 ranks, one unit each */
    aq_plan_piece pc[12];
    size_t first[4], count[4];
    for (int k = 0; k < 12; ++k)
        pc[k] = (aq_plan_piece){10000, 10000, 1000, 100, 0, 0};
    for (int u = 0; u < 4; ++u)
        first[u] = 3 * (size_t)u, count[u] = 3;
    ck_assert_uint_eq(split_checked(pc, first, count, 4, 4), 30000);
    ck_assert_uint_eq(split_checked(pc, first, count, 4, 1), 120000);
    /* 3 ranks: 40000 each, exactly, by cutting the middle tensors of units 1 and 2 */
    ck_assert_uint_eq(split_checked(pc, first, count, 4, 3), 40000);
    /* 24 ranks: 5000 each (half a tensor) */
    ck_assert_uint_eq(split_checked(pc, first, count, 4, 24), 5000);
    /* more ranks than granules: each rank at most one granule (1000 bytes) */
    ck_assert_uint_eq(split_checked(pc, first, count, 4, 64), 2000);
    /* uncuttable tensors go whole: 7 ranks over 12 x 10000 -> the busiest has 2 */
    for (int k = 0; k < 12; ++k)
        pc[k].granule = 0;
    ck_assert_uint_eq(split_checked(pc, first, count, 4, 7), 20000);
    /* a zero-work unit (passthrough) and a huge uncuttable tensor */
    pc[4].work = pc[5].work = pc[4].cost = pc[5].cost = 0;
    pc[0].work = pc[0].cost = 90000, pc[0].rows = 9000;
    ck_assert_uint_eq(split_checked(pc, first, count, 4, 4), 90000);
}
END_TEST

/* Up to 16 units of 1-4 random pieces (some of no work, some uncuttable) into pc, first,
 * count; *total their work, *big the largest piece that cannot be cut (or one granule's
 * bytes of a cuttable one). */
static void random_pieces(aq_rng *r, aq_plan_piece *pc, size_t *first, size_t *count, size_t *nu,
                          uint64_t *total, uint64_t *big) {
    size_t np = 0;
    *nu = 1 + aq_rng_next(r) % 16, *total = *big = 0;
    for (size_t u = 0; u < *nu; ++u) {
        first[u] = np;
        count[u] = 1 + aq_rng_next(r) % 4;
        for (size_t k = 0; k < count[u]; ++k, ++np) {
            const int64_t rows = 1 + (int64_t)(aq_rng_next(r) % 3000);
            const uint64_t per = aq_rng_next(r) % 5 == 0 ? 0 : 1 + aq_rng_next(r) % 16;
            const int64_t g = aq_rng_next(r) % 4 == 0 ? 0 : 1 << (aq_rng_next(r) % 8);
            pc[np] = (aq_plan_piece){per * (uint64_t)rows, per * (uint64_t)rows, rows, g, 0, 0};
            *total += pc[np].work;
            const uint64_t stuck = g && rows >= 2 * g ? per * (uint64_t)g : pc[np].work;
            *big = stuck > *big ? stuck : *big;
        }
    }
}

/* Random sequences: the invariants, and the busiest rank within one share plus the largest
 * uncuttable piece or one granule's bytes of the mean. */
START_TEST(split_random) {
    aq_rng r;
    aq_rng_seed(&r, 11);
    for (int trial = 0; trial < 400; ++trial) {
        aq_plan_piece pc[64];
        size_t first[16], count[16], nu;
        uint64_t total, big;
        random_pieces(&r, pc, first, count, &nu, &total, &big);
        const int ranks = 1 + (int)(aq_rng_next(&r) % 40);
        const uint64_t mx = split_checked(pc, first, count, nu, ranks);
        ck_assert_msg(mx <= (total + (uint64_t)ranks - 1) / (uint64_t)ranks + big,
                      "trial %d: busiest %llu, mean %llu, largest stuck piece %llu", trial,
                      (unsigned long long)mx, (unsigned long long)(total / (uint64_t)ranks),
                      (unsigned long long)big);
    }
}
END_TEST

/* n units of four pieces: a, b, b, c (a layer: down_proj, gate/up, the rest). */
static void layers(aq_plan_piece *pc, size_t *first, size_t *count, int n, aq_plan_piece a,
                   aq_plan_piece b, aq_plan_piece c) {
    for (int u = 0; u < n; ++u) {
        first[u] = 4 * (size_t)u, count[u] = 4;
        pc[4 * u] = a, pc[4 * u + 1] = pc[4 * u + 2] = b, pc[4 * u + 3] = c;
    }
}

/* GPTQ-like: 28 blocks of [55 000 uncuttable, 6 000 x 2 and 3 000 cuttable]; 24 ranks must
 * put two of the uncuttable on some rank (110 000, the optimum), and a contiguous cut would
 * also take everything between them. */
START_TEST(spread_cases) {
    aq_plan_piece pc[112];
    size_t first[28], count[28];
    layers(pc, first, count, 28, (aq_plan_piece){55000, 55000, 100, 0, 0, 0},
           (aq_plan_piece){6000, 6000, 600, 8, 0, 0}, (aq_plan_piece){3000, 3000, 300, 8, 0, 0});
    uint64_t largest;
    ck_assert_uint_eq(items_checked(pc, first, count, 28, 24, 1, &largest), 110000);
    ck_assert_uint_gt(split_checked(pc, first, count, 28, 24), 110000); /* contiguous: worse */
    /* 32 ranks: one uncuttable each on 28, the rest spread: within one small item of the mean */
    const uint64_t mx = items_checked(pc, first, count, 28, 32, 1, &largest);
    ck_assert_uint_le(mx, 28 * 70000 / 32 + 6000);
    ck_assert_uint_eq(items_checked(pc, first, count, 28, 1, 1, &largest), 28 * 70000);
}
END_TEST

/* Pieces with a head (a factorization their blocks share): at most AQ_PLAN_SHARED_BLOCKS
 * blocks, marked shared, block 0 carrying the head, the other blocks neither on rank 0 nor on
 * block 0's owner; fewer than 3 ranks: never cut. */
START_TEST(spread_shared) {
    aq_plan_piece pc[16];
    size_t first[4], count[4];
    layers(pc, first, count, 4, (aq_plan_piece){35840, 470000, 3584, 128, 260000, 0},
           (aq_plan_piece){18944, 80000, 18944, 128, 0, 3000},
           (aq_plan_piece){3584, 20000, 3584, 128, 0, 3000});
    static aq_plan_item items[4096];
    aq_err err = {0};
    size_t n = 0, n2 = 0;
    ck_assert_int_eq(aq_plan_spread(pc, first, count, 4, 2, NULL, &n, &err), AQ_OK);
    ck_assert_int_eq(aq_plan_spread(pc, first, count, 4, 2, items, &n2, &err), AQ_OK);
    for (size_t i = 0; i < n2; ++i)
        ck_assert(!items[i].shared);
    ck_assert_int_eq(aq_plan_spread(pc, first, count, 4, 24, NULL, &n, &err), AQ_OK);
    ck_assert_int_eq(aq_plan_spread(pc, first, count, 4, 24, items, &n2, &err), AQ_OK);
    ck_assert_uint_eq(n, n2);
    int shared_blocks = 0;
    for (size_t i = 0; i < n2; ++i) {
        const aq_plan_item *it = &items[i];
        ck_assert(it->shared == (it->first % 4 == 0 && it->n_blocks > 1));
        if (!it->shared) continue;
        ck_assert(it->n_blocks <= AQ_PLAN_SHARED_BLOCKS);
        shared_blocks++;
        if (it->block == 0) continue;
        ck_assert_int_ne(it->rank, 0);
        ck_assert_int_ne(it->rank, items[i - (size_t)it->block].rank);
    }
    ck_assert_int_gt(shared_blocks, 4);
}
END_TEST

/* Random sequences: the invariants, and longest-processing-time-first's bound: the busiest
 * rank within the costliest item of the mean. */
START_TEST(spread_random) {
    aq_rng r;
    aq_rng_seed(&r, 12);
    for (int trial = 0; trial < 300; ++trial) {
        aq_plan_piece pc[64];
        size_t first[16], count[16], nu;
        uint64_t total, big;
        random_pieces(&r, pc, first, count, &nu, &total, &big);
        const int ranks = 1 + (int)(aq_rng_next(&r) % 40);
        uint64_t largest;
        const uint64_t mx = items_checked(pc, first, count, nu, ranks, 1, &largest);
        ck_assert_msg(mx <= total / (uint64_t)ranks + largest, "trial %d: busiest %llu", trial,
                      (unsigned long long)mx);
    }
}
END_TEST

/* The real model's directory (main() checks it is there before running this case). */
static char g_model[1024];

START_TEST(real_model_units) {
    aq_checkpoint *m = NULL;
    aq_err err = {0};
    ck_assert_msg(aq_checkpoint_open(g_model, &m, &err) == AQ_OK, "%s", err.msg);
    aq_plan *p = NULL;
    ck_assert_int_eq(aq_plan_build(m, 3, NULL, NULL, &p, &err), AQ_OK);
    /* blocks 0 and 1, model.norm.weight, lm_head.weight (the alias is not a unit) */
    ck_assert_uint_eq(p->n_units, 4);
    ck_assert_str_eq(p->units[0].name, "model.layers.0");
    ck_assert_str_eq(p->units[1].name, "model.layers.1");
    ck_assert_str_eq(p->units[2].name, "model.norm.weight");
    ck_assert_str_eq(p->units[3].name, "lm_head.weight");
    ck_assert_uint_eq(p->units[0].count, 9);
    ck_assert_uint_eq(p->n_tensors, 20);
    uint64_t total = 0;
    for (int r = 0; r < 3; ++r)
        total += p->rank_bytes[r];
    ck_assert_uint_eq(total, 2626168 - 8 - 2160);
    for (size_t u = 1; u < p->n_units; ++u)
        ck_assert_int_ge(p->units[u].rank, p->units[u - 1].rank);
    aq_plan_free(p);
    aq_checkpoint_close(m);
}
END_TEST

/* Without an argument the pure cases; "real_model" (its own CTest test) the real model's
 * plan, skipped (77) when the model is not there. */
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "real_model") != 0)
        return aq_check_unknown_case("test_core_plan", argv[1]);
    if (argc > 1 && !aq_check_real_model(g_model, sizeof g_model))
        return aq_check_skip("test_core_plan real_model", "the real model is missing");
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create(argc > 1 ? "real_model" : "core");
    if (argc > 1) {
        tcase_add_test(tc, real_model_units);
    } else {
        tcase_add_test(tc, partition_matches_brute_force);
        tcase_add_test(tc, more_ranks_than_units);
        tcase_add_test(tc, equal_units_spread_evenly);
        tcase_add_test(tc, split_cases);
        tcase_add_test(tc, split_random);
        tcase_add_test(tc, spread_cases);
        tcase_add_test(tc, spread_random);
        tcase_add_test(tc, spread_shared);
    }
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
