/* The greedy bit allocator (aq_budget_allocate): hand-worked tables, ties, the step back up,
 * budgets outside the reachable range, and invariants on random tables. */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdint.h>

#include "aq/budget.h"
#include "aq/synth.h"

/* A layer with three widths (2/4/8 bits): bytes and distortion per level. */
static aq_budget_layer layer3(int64_t t, double b0, double b1, double b2, double e0, double e1,
                              double e2) {
    aq_budget_layer l = {.tensor = t, .bytes = {b0, b1, b2}, .err = {e0, e1, e2}};
    return l;
}

static double total(const aq_budget_layer *L, size_t n, const int *level) {
    double s = 0.0;
    for (size_t i = 0; i < n; ++i)
        s += L[i].bytes[level[i]];
    return s;
}

/* Worked by hand: from 8 bytes, B's step (0.1 per 2 bytes) is cheaper than A's (0.3 per 2);
 * at 6 bytes the next cheapest is A's, which reaches 4.  Neither step back up fits in 5. */
START_TEST(hand_worked_steps_down) {
    aq_budget_layer L[2] = {layer3(0, 1, 2, 4, 0.9, 0.3, 0.0), layer3(1, 1, 2, 4, 0.5, 0.1, 0.0)};
    int level[2];
    double got = aq_budget_allocate(L, 2, 3, 5.0, level);
    ck_assert_int_eq(level[0], 1);
    ck_assert_int_eq(level[1], 1);
    ck_assert_double_eq(got, 4.0);
    got = aq_budget_allocate(L, 2, 3, 6.0, level); /* one step (B's) suffices */
    ck_assert_int_eq(level[0], 2);
    ck_assert_int_eq(level[1], 1);
    ck_assert_double_eq(got, 6.0);
}
END_TEST

/* A steps down first (0.1/byte), then B's large step (0.1125/byte) overshoots to 4 bytes of
 * an 11-byte budget: the step back up gives A its 8-bit width again. */
START_TEST(overshoot_is_filled_back) {
    aq_budget_layer L[2] = {layer3(0, 1, 2, 4, 1.0, 0.2, 0.0), layer3(1, 1, 2, 10, 1.0, 0.9, 0.0)};
    int level[2];
    double got = aq_budget_allocate(L, 2, 3, 11.0, level);
    ck_assert_int_eq(level[0], 2);
    ck_assert_int_eq(level[1], 1);
    ck_assert_double_eq(got, 6.0);
}
END_TEST

START_TEST(ties_go_to_the_lowest_index) {
    aq_budget_layer L[3] = {layer3(0, 1, 2, 4, 1, 0.5, 0), layer3(1, 1, 2, 4, 1, 0.5, 0),
                            layer3(2, 1, 2, 4, 1, 0.5, 0)};
    int level[3];
    double got = aq_budget_allocate(L, 3, 3, 10.0, level); /* 12 -> one step of 2 bytes */
    ck_assert_int_eq(level[0], 1);
    ck_assert_int_eq(level[1], 2);
    ck_assert_int_eq(level[2], 2);
    ck_assert_double_eq(got, 10.0);
}
END_TEST

START_TEST(budget_outside_the_range) {
    aq_budget_layer L[2] = {layer3(0, 1, 2, 4, 0.9, 0.3, 0.0), layer3(1, 3, 5, 9, 0.5, 0.1, 0.0)};
    int level[2];
    ck_assert_double_eq(aq_budget_allocate(L, 2, 3, 1e9, level), 13.0); /* all at 8 bits */
    ck_assert_int_eq(level[0], 2);
    ck_assert_int_eq(level[1], 2);
    ck_assert_double_eq(aq_budget_allocate(L, 2, 3, 1.0, level), 4.0); /* below the minimum */
    ck_assert_int_eq(level[0], 0);
    ck_assert_int_eq(level[1], 0);
    ck_assert_double_eq(aq_budget_allocate(L, 0, 3, 1.0, level), 0.0); /* no layers */
}
END_TEST

/* Four widths (the dq layout's 2/3/4/8) and a step that saves no bytes, which is never taken
 * down (infinite cost) nor up. */
START_TEST(four_widths_and_free_steps) {
    aq_budget_layer L[2] = {
        {.tensor = 0, .bytes = {2, 3, 4, 8}, .err = {0.8, 0.4, 0.2, 0.0}},
        {.tensor = 1, .bytes = {2, 2, 4, 8}, .err = {0.8, 0.4, 0.2, 0.0}},
    };
    int level[2];
    /* From 16: both 8->4 steps cost 0.05/byte, A's first (tie) -> 12, then B's -> 8; then
     * B's 4->3 (0.1/byte) before A's (0.2/byte) -> 6.  Neither step back up fits in 7. */
    ck_assert_double_eq(aq_budget_allocate(L, 2, 4, 7.0, level), 6.0);
    ck_assert_int_eq(level[0], 2);
    ck_assert_int_eq(level[1], 1);
    /* Then A's 4->3 and 3->2; B's 3->2 saves nothing and is never taken. */
    ck_assert_double_eq(aq_budget_allocate(L, 2, 4, 4.0, level), 4.0);
    ck_assert_int_eq(level[0], 0);
    ck_assert_int_eq(level[1], 1);
    /* Below that, no step saves bytes: the allocation stops above the budget. */
    ck_assert_double_eq(aq_budget_allocate(L, 2, 4, 3.0, level), 4.0);
    ck_assert_int_eq(level[1], 1);
}
END_TEST

/* Random tables: the returned size is the chosen levels' size, fits whenever the budget is
 * reachable, and no single step back up would still fit and lower the distortion. */
START_TEST(invariants_on_random_tables) {
    aq_rng r;
    aq_rng_seed(&r, 12);
    for (int trial = 0; trial < 500; ++trial) {
        size_t n = 1 + aq_rng_next(&r) % 20;
        int nw = 3 + (int)(aq_rng_next(&r) % 2);
        aq_budget_layer L[20] = {{0}};
        int level[20];
        double min = 0.0, max = 0.0;
        for (size_t i = 0; i < n; ++i) {
            double b = 1.0 + (double)(aq_rng_next(&r) % 100), e = 1.0;
            L[i].tensor = (int64_t)i;
            for (int w = 0; w < nw; ++w) {
                L[i].bytes[w] = b;
                L[i].err[w] = e;
                b += 1.0 + (double)(aq_rng_next(&r) % 100);
                e *= 0.05 + 0.9 * (double)(aq_rng_next(&r) % 1000) / 1000.0;
            }
            min += L[i].bytes[0];
            max += L[i].bytes[nw - 1];
        }
        double budget =
            min * 0.9 + (max * 1.1 - min * 0.9) * (double)(aq_rng_next(&r) % 1000) / 1000.0;
        double got = aq_budget_allocate(L, n, nw, budget, level);
        ck_assert_double_eq(got, total(L, n, level));
        for (size_t i = 0; i < n; ++i)
            ck_assert(level[i] >= 0 && level[i] < nw);
        if (budget >= min) ck_assert(got <= budget);
        if (budget >= max) ck_assert_double_eq(got, max);
        if (budget < min) ck_assert_double_eq(got, min);
        for (size_t i = 0; got <= budget && i < n; ++i) {
            int l = level[i];
            if (l == nw - 1) continue;
            double extra = L[i].bytes[l + 1] - L[i].bytes[l];
            ck_assert(got + extra > budget || !(L[i].err[l] > L[i].err[l + 1]));
        }
    }
}
END_TEST

/* ggml format chains (quant.format with quant.budget_bits): a k-quant layer with 6 levels
 * (bytes of one 256-weight super-block in Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0) beside a
 * row-length fallback layer with 5 (256 weights in Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and a Q8_0-only
 * layer (1).  Worked by hand from 544 + 34 bytes: A 5->4 (0.4/62), B 4->3 (1.1/80), A 4->3
 * (0.5/34), B 3->2 (0.3/16), A 3->2 (1/32), A 2->1 (2/34 < B's 1/16) -> 286 + 34 = 320 <= 330;
 * no step back up fits (A +34, B +16 > 330 - 320 = 10). */
START_TEST(format_chains_with_their_own_lengths) {
    aq_budget_layer L[3] = {
        {.tensor = 0,
         .n_levels = 6,
         .bytes = {84, 110, 144, 176, 210, 272},
         .err = {8, 4, 2, 1, 0.5, 0.1}},
        {.tensor = 1,
         .n_levels = 5,
         .bytes = {144, 160, 176, 192, 272},
         .err = {3, 2.5, 1.5, 1.2, 0.1}},
        {.tensor = 2, .n_levels = 1, .bytes = {34}, .err = {0.01}},
    };
    int level[3];
    ck_assert_double_eq(aq_budget_allocate(L, 3, AQ_BUDGET_MAX_WIDTHS, 330.0, level), 320.0);
    ck_assert_int_eq(level[0], 1); /* Q3_K */
    ck_assert_int_eq(level[1], 2); /* Q5_0 */
    ck_assert_int_eq(level[2], 0); /* Q8_0, its only level */
    /* 16 more bytes: B's step back up 2->3 (0.3/16) fits, A's 1->2 (+34) does not. */
    ck_assert_double_eq(aq_budget_allocate(L, 3, AQ_BUDGET_MAX_WIDTHS, 336.0, level), 336.0);
    ck_assert_int_eq(level[0], 1);
    ck_assert_int_eq(level[1], 3);
    /* Unbounded: every layer at its own top level, never past it. */
    ck_assert_double_eq(aq_budget_allocate(L, 3, AQ_BUDGET_MAX_WIDTHS, 1e9, level), 578.0);
    ck_assert_int_eq(level[0], 5);
    ck_assert_int_eq(level[1], 4);
    ck_assert_int_eq(level[2], 0);
    /* Below the minimum (84 + 144 + 34): every layer at level 0. */
    ck_assert_double_eq(aq_budget_allocate(L, 3, AQ_BUDGET_MAX_WIDTHS, 100.0, level), 262.0);
    ck_assert_int_eq(level[0] + level[1] + level[2], 0);
}
END_TEST

/* Random tables with per-layer level counts (1..6): levels stay below each layer's count,
 * the size is the chosen levels' size and fits whenever the budget is reachable. */
START_TEST(format_chains_random) {
    aq_rng r;
    aq_rng_seed(&r, 13);
    for (int trial = 0; trial < 500; ++trial) {
        size_t n = 1 + aq_rng_next(&r) % 20;
        aq_budget_layer L[20] = {{0}};
        int level[20];
        double min = 0.0, max = 0.0;
        for (size_t i = 0; i < n; ++i) {
            double b = 1.0 + (double)(aq_rng_next(&r) % 100), e = 1.0;
            L[i].tensor = (int64_t)i;
            L[i].n_levels = 1 + (int32_t)(aq_rng_next(&r) % AQ_BUDGET_MAX_WIDTHS);
            for (int w = 0; w < AQ_BUDGET_MAX_WIDTHS; ++w) {
                L[i].bytes[w] = b; /* levels past n_levels: cheaper bait, never to be used */
                L[i].err[w] = w < L[i].n_levels ? e : 0.0;
                b += w + 1 < L[i].n_levels ? 1.0 + (double)(aq_rng_next(&r) % 100) : -0.5;
                e *= 0.05 + 0.9 * (double)(aq_rng_next(&r) % 1000) / 1000.0;
            }
            min += L[i].bytes[0];
            max += L[i].bytes[L[i].n_levels - 1];
        }
        double budget =
            min * 0.9 + (max * 1.1 - min * 0.9) * (double)(aq_rng_next(&r) % 1000) / 1000.0;
        double got = aq_budget_allocate(L, n, AQ_BUDGET_MAX_WIDTHS, budget, level);
        ck_assert_double_eq(got, total(L, n, level));
        for (size_t i = 0; i < n; ++i)
            ck_assert(level[i] >= 0 && level[i] < L[i].n_levels);
        if (budget >= min) ck_assert(got <= budget);
        if (budget >= max) ck_assert_double_eq(got, max);
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("plan_budget");
    TCase *tc = tcase_create("allocate");
    tcase_add_test(tc, hand_worked_steps_down);
    tcase_add_test(tc, overshoot_is_filled_back);
    tcase_add_test(tc, ties_go_to_the_lowest_index);
    tcase_add_test(tc, budget_outside_the_range);
    tcase_add_test(tc, four_widths_and_free_steps);
    tcase_add_test(tc, invariants_on_random_tables);
    tcase_add_test(tc, format_chains_with_their_own_lengths);
    tcase_add_test(tc, format_chains_random);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
