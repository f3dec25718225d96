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
START_TEST(row_blocks) {
    int64_t b[65];
    ck_assert_int_eq(aq_plan_row_blocks(1000, 1000, 100, 2000, 8, b), 1); /* fits */
    ck_assert(b[0] == 0 && b[1] == 1000);
    ck_assert_int_eq(aq_plan_row_blocks(1000, 1000, 0, 10, 8, b), 1); /* no granule */
    ck_assert_int_eq(aq_plan_row_blocks(1000, 1000, 100, 300, 8, b), 4);
    ck_assert(b[0] == 0 && b[4] == 1000);
    for (int i = 1; i < 4; ++i)
        ck_assert(b[i] % 100 == 0 && b[i] > b[i - 1] && b[i] - b[i - 1] <= 300);
    ck_assert_int_eq(aq_plan_row_blocks(1000, 1000, 100, 1, 64, b), 10); /* granules cap */
    for (int i = 0; i < 10; ++i)
        ck_assert_int_eq(b[i + 1] - b[i], 100);
    ck_assert_int_eq(aq_plan_row_blocks(1000, 1000, 100, 1, 3, b), 3); /* max_blocks cap */
    ck_assert(b[1] == 300 && b[2] == 700 && b[3] == 1000);
    ck_assert_int_eq(aq_plan_row_blocks(1050, 1050, 256, 400, 64, b), 3); /* nearest */
    ck_assert(b[1] == 256 && b[2] == 768 && b[3] == 1050);
    ck_assert_int_eq(aq_plan_row_blocks(2049, 2049, 1024, 100, 64, b), 2); /* tail joins */
    ck_assert(b[1] == 1024 && b[2] == 2049);
    ck_assert_int_eq(aq_plan_row_blocks(1500, 1500, 1024, 100, 64, b), 1); /* one granule */
    aq_rng r;
    aq_rng_seed(&r, 9);
    for (int trial = 0; trial < 500; ++trial) {
        int64_t rows = 1 + (int64_t)(aq_rng_next(&r) % 5000), g = 1 << (aq_rng_next(&r) % 9);
        uint64_t bytes = (uint64_t)rows * 7, mb = 1 + aq_rng_next(&r) % 4000;
        int maxb = 1 + (int)(aq_rng_next(&r) % 64);
        int n = aq_plan_row_blocks(rows, bytes, g, mb, maxb, b);
        ck_assert(n >= 1 && n <= maxb && b[0] == 0 && b[n] == rows);
        ck_assert(n == 1 || (uint64_t)n <= (bytes + mb - 1) / mb);
        for (int i = 1; i < n; ++i)
            ck_assert(b[i] > b[i - 1] && b[i] % g == 0 && b[i] < rows);
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
        tcase_add_test(tc, row_blocks);
    }
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
