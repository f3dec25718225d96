/*
 * Unit tests: time-group boundaries — the DP against brute force over every K-partition
 * (T <= 10, K <= 4, random and tie-heavy costs), uniform boundaries, K > T, and the
 * fixed-point segment costs of a hand-built layer.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aq/phases.h"
#include "aq/synth.h"

#define C(i, j) cost[(size_t)(i) * (size_t)(T + 1) + (size_t)(j)]

typedef struct {
    int64_t best;
    int b[5];
} brute;

/* Is partition a preferred to b on a tie: smaller b[K-1], then b[K-2], ... */
static int earlier(const int *a, const int *b, int K) {
    for (int k = K - 1; k >= 1; --k)
        if (a[k] != b[k]) return a[k] < b[k];
    return 0;
}

/* Recursively enumerate b[k..K-1] after b[k-1], every group at least m steps. */
static void enumerate(const int64_t *cost, int T, int K, int m, int k, int *b, int64_t acc,
                      brute *r) {
    if (k == K) {
        if (T - b[K - 1] < m) return;
        int64_t tot = acc + C(b[K - 1], T);
        if (tot < r->best || (tot == r->best && earlier(b, r->b, K))) {
            r->best = tot;
            memcpy(r->b, b, sizeof r->b);
        }
        return;
    }
    for (int x = b[k - 1] + m; x <= T - (K - k) * m; ++x) {
        b[k] = x;
        enumerate(cost, T, K, m, k + 1, b, acc + C(b[k - 1], x), r);
    }
}

static int64_t partition_cost(const int64_t *cost, int T, int K, const int *b) {
    int64_t s = 0;
    for (int k = 0; k < K; ++k)
        s += C(b[k], b[k + 1]);
    return s;
}

/* _i even: random costs up to 2^40; odd: costs in 0..3, so ties are everywhere. */
START_TEST(dp_vs_brute_force) {
    aq_rng r;
    aq_rng_seed(&r, 77 + (uint64_t)_i);
    for (int T = 1; T <= 10; ++T)
        for (int K = 1; K <= 4 && K <= T; ++K) {
            int64_t cost[11 * 11];
            for (int x = 0; x < 121; ++x)
                cost[x] =
                    (_i % 2) ? (int64_t)(aq_rng_next(&r) % 4) : (int64_t)(aq_rng_next(&r) >> 24);
            brute bf = {INT64_MAX, {0}};
            int bb[5] = {0};
            enumerate(cost, T, K, 1, 1, bb, 0, &bf);
            bf.b[K] = T;
            int b[5];
            aq_err e = {0};
            ck_assert_int_eq(aq_boundaries_dp(cost, T, K, 1, b, &e), AQ_OK);
            ck_assert(b[0] == 0 && b[K] == T);
            for (int k = 0; k < K; ++k)
                ck_assert(b[k] < b[k + 1]);
            ck_assert_msg(partition_cost(cost, T, K, b) == bf.best, "T=%d K=%d", T, K);
            for (int k = 0; k <= K; ++k)
                ck_assert_msg(b[k] == bf.b[k], "T=%d K=%d tie rule at b[%d]: %d vs %d", T, K, k,
                              b[k], bf.b[k]);
        }
}
END_TEST

/* Groups of at least m steps (timegroups.min_steps): same optimum and tie rule as brute force;
 * K * m > T refused. */
START_TEST(dp_min_steps_vs_brute_force) {
    aq_rng r;
    aq_rng_seed(&r, 4242 + (uint64_t)_i);
    for (int m = 2; m <= 3; ++m)
        for (int T = 1; T <= 10; ++T)
            for (int K = 1; K <= 4 && K <= T; ++K) {
                int64_t cost[11 * 11];
                for (int x = 0; x < 121; ++x)
                    cost[x] = (_i % 2) ? (int64_t)(aq_rng_next(&r) % 4)
                                       : (int64_t)(aq_rng_next(&r) >> 24);
                int b[5];
                aq_err e = {0};
                if (K * m > T) {
                    ck_assert_int_eq(aq_boundaries_dp(cost, T, K, m, b, &e), AQ_E_CONFIG);
                    ck_assert_ptr_nonnull(strstr(e.msg, "min_steps"));
                    continue;
                }
                brute bf = {INT64_MAX, {0}};
                int bb[5] = {0};
                enumerate(cost, T, K, m, 1, bb, 0, &bf);
                bf.b[K] = T;
                ck_assert_int_eq(aq_boundaries_dp(cost, T, K, m, b, &e), AQ_OK);
                for (int k = 0; k < K; ++k)
                    ck_assert_msg(b[k + 1] - b[k] >= m, "T=%d K=%d m=%d: group %d too short", T, K,
                                  m, k);
                ck_assert_msg(partition_cost(cost, T, K, b) == bf.best, "T=%d K=%d m=%d", T, K, m);
                for (int k = 0; k <= K; ++k)
                    ck_assert_int_eq(b[k], bf.b[k]);
            }
}
END_TEST

START_TEST(dp_errors) {
    int64_t cost[16] = {0};
    int b[8];
    aq_err e = {0};
    ck_assert_int_eq(aq_boundaries_dp(cost, 3, 4, 1, b, &e), AQ_E_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "4"));
    ck_assert_int_eq(aq_boundaries_dp(cost, 3, 0, 1, b, &e), AQ_E_CONFIG);
    ck_assert_int_eq(aq_boundaries_dp(cost, 3, 3, 1, b, &e), AQ_OK);
    ck_assert(b[0] == 0 && b[1] == 1 && b[2] == 2 && b[3] == 3);
}
END_TEST

START_TEST(uniform) {
    int b[9];
    aq_boundaries_uniform(32, 4, b);
    const int w1[] = {0, 8, 16, 24, 32};
    ck_assert_mem_eq(b, w1, sizeof w1);
    aq_boundaries_uniform(10, 4, b); /* 2.5 -> 3, 5, 7.5 -> 8 */
    const int w2[] = {0, 3, 5, 8, 10};
    ck_assert_mem_eq(b, w2, sizeof w2);
    aq_boundaries_uniform(7, 7, b);
    for (int k = 0; k <= 7; ++k)
        ck_assert_int_eq(b[k], k);
    for (int T = 1; T <= 40; ++T)
        for (int K = 1; K <= T && K <= 8; ++K) {
            aq_boundaries_uniform(T, K, b);
            ck_assert(b[0] == 0 && b[K] == T);
            for (int k = 0; k < K; ++k) {
                ck_assert(b[k] < b[k + 1]);
                ck_assert_int_eq(b[k], (int)floor((double)k * T / K + 0.5));
            }
        }
}
END_TEST

static void layer(aq_layer_stats *s, int T) {
    memset(s, 0, sizeof *s);
    s->T = T;
    s->min = malloc((size_t)T * sizeof(double));
    s->max = malloc((size_t)T * sizeof(double));
    s->mean = malloc((size_t)T * sizeof(double));
    s->std = malloc((size_t)T * sizeof(double));
    for (int t = 0; t < T; ++t) {
        s->mean[t] = 0.1 * t;
        s->std[t] = t < T / 2 ? 1.0 : 3.0; /* a regime change at T/2 */
        s->min[t] = s->mean[t] - 4 * s->std[t];
        s->max[t] = s->mean[t] + 4 * s->std[t];
    }
}

static void layer_free(aq_layer_stats *s) {
    free(s->min);
    free(s->max);
    free(s->mean);
    free(s->std);
}

/* The whole range costs exactly 1.0 in fixed point; costs add; the DP finds the regime
 * change; the lower triangle is untouched; adding twice doubles exactly. */
START_TEST(segment_costs) {
    enum { T = 12 };
    aq_layer_stats s;
    layer(&s, T);
    double w[T];
    aq_time_weights(AQ_SCHED_MASK, AQ_TW_ALPHABAR, T, 1000, w, NULL);
    int64_t cost[(T + 1) * (T + 1)], twice[(T + 1) * (T + 1)];
    for (int x = 0; x < (T + 1) * (T + 1); ++x)
        cost[x] = twice[x] = -7;
    aq_segment_costs_add(&s, w, 8, cost);
    aq_segment_costs_add(&s, w, 8, twice);
    aq_segment_costs_add(&s, w, 8, twice);
    ck_assert(C(0, T) == ((int64_t)1 << AQ_COST_FRAC_BITS) - 7);
    for (int i = 0; i <= T; ++i)
        for (int j = 0; j <= T; ++j) {
            if (j <= i) {
                ck_assert(C(i, j) == -7);
                continue;
            }
            ck_assert(C(i, j) >= -7);
            ck_assert(twice[i * (T + 1) + j] + 7 == 2 * (C(i, j) + 7));
        }
    int b[3];
    aq_err e = {0};
    ck_assert_int_eq(aq_boundaries_dp(cost, T, 2, 1, b, &e), AQ_OK);
    ck_assert_int_eq(b[1], T / 2);
    layer_free(&s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("phases_dp");
    TCase *tc = tcase_create("dp");
    tcase_add_loop_test(tc, dp_min_steps_vs_brute_force, 0, 4);
    tcase_add_loop_test(tc, dp_vs_brute_force, 0, 6);
    tcase_add_test(tc, dp_errors);
    tcase_add_test(tc, uniform);
    tcase_add_test(tc, segment_costs);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
