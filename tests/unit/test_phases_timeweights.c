/*
 * Unit tests: time weights (docs/DESIGN.md §4) — normalisation, monotonicity, the mask schedule's
 * alphabar = 1 - u, hand-computed linear/cosine values and independence of T.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdlib.h>

#include "aq/phases.h"

static double sum(const double *w, int n) {
    double s = 0.0;
    for (int i = 0; i < n; ++i)
        s += w[i];
    return s;
}

START_TEST(sums_to_one) {
    double w[37], ab[37];
    for (int sc = AQ_SCHED_LINEAR; sc <= AQ_SCHED_MASK; ++sc)
        for (int tw = AQ_TW_ALPHABAR; tw <= AQ_TW_UNIFORM; ++tw) {
            aq_time_weights((aq_schedule)sc, (aq_time_weight)tw, 37, 1000, w, ab);
            ck_assert_double_eq_tol(sum(w, 37), 1.0, 1e-12);
            for (int t = 0; t < 37; ++t)
                ck_assert(w[t] >= 0.0 && ab[t] > 0.0 && ab[t] <= 1.0);
        }
}
END_TEST

START_TEST(monotone_alphabar) {
    double w[50], ab[50];
    for (int sc = AQ_SCHED_LINEAR; sc <= AQ_SCHED_MASK; ++sc) {
        aq_time_weights((aq_schedule)sc, AQ_TW_ALPHABAR, 50, 1000, w, ab);
        for (int t = 0; t + 1 < 50; ++t) {
            ck_assert(w[t + 1] < w[t]);
            ck_assert(ab[t + 1] < ab[t]);
        }
    }
}
END_TEST

START_TEST(uniform_is_uniform) {
    double w[7];
    aq_time_weights(AQ_SCHED_COSINE, AQ_TW_UNIFORM, 7, 1000, w, NULL);
    for (int t = 0; t < 7; ++t)
        ck_assert_double_eq_tol(w[t], 1.0 / 7.0, 1e-15);
}
END_TEST

START_TEST(mask_exact) {
    double w[10], ab[10];
    aq_time_weights(AQ_SCHED_MASK, AQ_TW_ALPHABAR, 10, 1000, w, ab);
    for (int t = 0; t < 10; ++t) {
        double u = (t + 0.5) / 10.0;
        ck_assert(ab[t] == 1.0 - u);
        /* sum of (1 - u_t) over 10 midpoints = 10 - 5 = 5 */
        ck_assert_double_eq_tol(w[t], (1.0 - u) / 5.0, 1e-15);
    }
}
END_TEST

/* Hand values: linear at T = 2 (u = 1/4, 3/4), cosine at T = 1 (u = 1/2). */
START_TEST(reference_values) {
    double w[2], ab[2];
    aq_time_weights(AQ_SCHED_LINEAR, AQ_TW_ALPHABAR, 2, 1000, w, ab);
    /* 1000 (1e-4/4 + 0.0199 (1/16)/2) = 0.025 + 0.621875 = 0.646875 */
    ck_assert_double_eq_tol(ab[0], exp(-0.646875), 1e-14);
    /* 1000 (1e-4 3/4 + 0.0199 (9/16)/2) = 0.075 + 5.596875 = 5.671875 */
    ck_assert_double_eq_tol(ab[1], exp(-5.671875), 1e-14);
    ck_assert_double_eq_tol(w[0], exp(-0.646875) / (exp(-0.646875) + exp(-5.671875)), 1e-14);
    /* cosine, u = 1/2: cos^2(0.508/1.008 pi/2) / cos^2(0.008/1.008 pi/2) */
    double c1 = cos(0.508 / 1.008 * M_PI / 2), c0 = cos(0.008 / 1.008 * M_PI / 2);
    aq_time_weights(AQ_SCHED_COSINE, AQ_TW_ALPHABAR, 1, 1000, w, ab);
    ck_assert_double_eq_tol(ab[0], c1 * c1 / (c0 * c0), 1e-14);
    ck_assert_double_eq_tol(ab[0], 0.49384, 1e-5); /* hand: cos(0.791631)^2 / cos(0.012467)^2 */
    ck_assert_double_eq_tol(w[0], 1.0, 1e-15);
    /* a smaller horizon flattens the linear schedule: T_ref = 10 at u = 3/4 */
    aq_time_weights(AQ_SCHED_LINEAR, AQ_TW_ALPHABAR, 2, 10, w, ab);
    ck_assert_double_eq_tol(ab[1], exp(-0.05671875), 1e-14);
}
END_TEST

/* Weights of the first half of u at T and 2T agree: the midpoint rule of one density. */
START_TEST(independent_of_T) {
    int Ts[] = {16, 32, 64, 100};
    for (int sc = AQ_SCHED_LINEAR; sc <= AQ_SCHED_MASK; ++sc)
        for (size_t i = 0; i < sizeof Ts / sizeof Ts[0]; ++i) {
            int T = Ts[i];
            double *a = malloc((size_t)T * sizeof *a), *b = malloc(2 * (size_t)T * sizeof *b);
            aq_time_weights((aq_schedule)sc, AQ_TW_ALPHABAR, T, 1000, a, NULL);
            aq_time_weights((aq_schedule)sc, AQ_TW_ALPHABAR, 2 * T, 1000, b, NULL);
            ck_assert_double_eq_tol(sum(a, T / 2), sum(b, T), 1e-3);
            if (T >= 32) ck_assert_double_eq_tol(sum(a, T / 4), sum(b, T / 2), 1e-3);
            free(a);
            free(b);
        }
}
END_TEST

START_TEST(underflow_falls_back_to_uniform) {
    double w[4], ab[4];
    /* A horizon of 2e9 steps: alphabar(1/8) = exp(-3.6e5) underflows to 0 at every step. */
    aq_time_weights(AQ_SCHED_LINEAR, AQ_TW_ALPHABAR, 4, 2000000000, w, ab);
    for (int t = 0; t < 4; ++t)
        ck_assert(ab[t] == 0.0);
    for (int t = 0; t < 4; ++t) {
        ck_assert(isfinite(w[t]));
        ck_assert_double_eq_tol(w[t], 0.25, 1e-15);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("phases_timeweights");
    TCase *tc = tcase_create("timeweights");
    tcase_add_test(tc, sums_to_one);
    tcase_add_test(tc, monotone_alphabar);
    tcase_add_test(tc, uniform_is_uniform);
    tcase_add_test(tc, mask_exact);
    tcase_add_test(tc, reference_values);
    tcase_add_test(tc, independent_of_T);
    tcase_add_test(tc, underflow_falls_back_to_uniform);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
