/*
 * Unit tests: Phase 1 Markov validation (docs/DESIGN.md §4) on hand-computed examples.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <string.h>

#include "aq/phases.h"

static aq_act_groups groups(int K, double *scale, int32_t *zero) {
    aq_act_groups g = {.K = K, .act_bits = 8, .lo = NULL, .hi = NULL, .scale = scale, .zero = zero};
    return g;
}

START_TEST(four_groups) {
    double sc[4] = {1.0, 1.25, 0.5, 0.45};
    int32_t z[4] = {128, 128, 100, 151};
    double sc0[4];
    int32_t z0[4];
    memcpy(sc0, sc, sizeof sc);
    memcpy(z0, z, sizeof z);
    aq_act_groups g = groups(4, sc, z);
    aq_phase1_result r;
    aq_phase1(&g, 0.3, &r);
    /* scores: 1 - (0.2 + 0)/2 = 0.9; 1 - (0.6 + 28/255)/2; 1 - (0.1 + 51/255)/2 = 0.85 */
    double want = (0.9 + (1.0 - (0.6 + 28.0 / 255.0) / 2.0) + 0.85) / 3.0;
    ck_assert_double_eq_tol(r.smoothness, want, 1e-12);
    ck_assert_double_eq_tol(r.smoothness, 0.798366013, 1e-8);
    ck_assert_double_eq_tol(r.max_scale_jump, 0.6, 1e-12);
    ck_assert_int_eq(r.violations, 1);
    ck_assert(r.high == 1 && r.medium == 0 && r.low == 0);
    aq_phase1(&g, 0.15, &r);
    ck_assert_int_eq(r.violations, 2);
    ck_assert(r.high == 1 && r.medium == 0 && r.low == 1);
    aq_phase1(&g, 0.05, &r);
    ck_assert_int_eq(r.violations, 3);
    ck_assert(r.high == 1 && r.medium == 0 && r.low == 2);
    ck_assert_mem_eq(sc, sc0, sizeof sc); /* monitor only */
    ck_assert_mem_eq(z, z0, sizeof z);
}
END_TEST

START_TEST(three_groups_medium) {
    double sc[3] = {1.0, 0.6, 0.6};
    int32_t z[3] = {0, 255, 255};
    aq_act_groups g = groups(3, sc, z);
    aq_phase1_result r;
    aq_phase1(&g, 0.3, &r);
    /* jump 0.4 (medium), zero jump 1: score 1 - 1.4/2 = 0.3; second boundary 1 */
    ck_assert_double_eq_tol(r.smoothness, (0.3 + 1.0) / 2.0, 1e-12);
    ck_assert(r.violations == 1 && r.medium == 1 && r.high == 0 && r.low == 0);
}
END_TEST

START_TEST(single_group) {
    double sc[1] = {0.1};
    int32_t z[1] = {7};
    aq_act_groups g = groups(1, sc, z);
    aq_phase1_result r;
    aq_phase1(&g, 0.3, &r);
    ck_assert(r.smoothness == 1.0 && r.violations == 0 && r.max_scale_jump == 0.0);
    ck_assert(r.high == 0 && r.medium == 0 && r.low == 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("phases_markov");
    TCase *tc = tcase_create("markov");
    tcase_add_test(tc, four_groups);
    tcase_add_test(tc, three_groups_medium);
    tcase_add_test(tc, single_group);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
