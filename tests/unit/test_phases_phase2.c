/*
 * Unit tests: Phase 2 boundary smoothing (docs/DESIGN.md §4) — computed from the original group
 * values (a middle group's value survives), endpoints and monotonicity of every window,
 * window clamping, and the >= 50 % reduction of the largest log-scale jump with the default
 * window (2, cubic).
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/phases.h"
#include "aq/synth.h"

typedef struct {
    aq_layer_stats s;
    double *w;
} fixture;

/* Step t ~ N(mean[t], std[t]^2) with min/max at +-4 std. */
static fixture make(int T, const double *mean, const double *std) {
    fixture f;
    memset(&f, 0, sizeof f);
    f.s.T = T;
    f.s.min = malloc((size_t)T * sizeof(double));
    f.s.max = malloc((size_t)T * sizeof(double));
    f.s.mean = malloc((size_t)T * sizeof(double));
    f.s.std = malloc((size_t)T * sizeof(double));
    f.w = malloc((size_t)T * sizeof(double));
    for (int t = 0; t < T; ++t) {
        f.s.mean[t] = mean[t];
        f.s.std[t] = std[t];
        f.s.min[t] = mean[t] - 4 * std[t];
        f.s.max[t] = mean[t] + 4 * std[t];
    }
    aq_time_weights(AQ_SCHED_MASK, AQ_TW_ALPHABAR, T, 1000, f.w, NULL);
    return f;
}

static void unmake(fixture *f) {
    free(f->s.min);
    free(f->s.max);
    free(f->s.mean);
    free(f->s.std);
    free(f->w);
}

static double rzero(const aq_act_groups *g, int k) {
    double z = -g->lo[k] / g->scale[k];
    return z < 0 ? 0 : (z > 255 ? 255 : z);
}

/* Groups of std 1, 4, 1 (means 1, -2, 1); T = 24, b = 0, 8, 16, 24. */
START_TEST(middle_survives) {
    enum { T = 24 };
    double mean[T], std[T];
    for (int t = 0; t < T; ++t) {
        int mid = t >= 8 && t < 16;
        mean[t] = mid ? -2.0 : 1.0;
        std[t] = mid ? 4.0 : 1.0;
    }
    fixture f = make(T, mean, std);
    int b[4] = {0, 8, 16, 24};
    aq_act_groups g;
    aq_err e = {0};
    ck_assert_int_eq(aq_act_groups_init(&f.s, b, 3, 8, &g, &e), AQ_OK);
    double lo0[3], hi0[3], sc0[3];
    int32_t z0[3];
    memcpy(lo0, g.lo, sizeof lo0);
    memcpy(hi0, g.hi, sizeof hi0);
    memcpy(sc0, g.scale, sizeof sc0);
    memcpy(z0, g.zero, sizeof z0);
    float ss[T], sz[T];
    aq_phase2_result r;
    aq_phase2(&g, b, T, AQ_INTERP_CUBIC, 2, &f.s, f.w, ss, sz, &r);
    ck_assert(r.window == 2 && !r.clamped);
    for (int t = 10; t < 14; ++t) { /* outside both windows: the middle group itself */
        ck_assert(ss[t] == (float)g.scale[1]);
        ck_assert(sz[t] == (float)rzero(&g, 1));
    }
    for (int t = 0; t < 6; ++t)
        ck_assert(ss[t] == (float)g.scale[0]);
    for (int t = 18; t < T; ++t)
        ck_assert(ss[t] == (float)g.scale[2]);
    /* the first window step: v = 1/5, cubic f = 0.104 */
    double want = exp(0.896 * log(g.scale[0]) + 0.104 * log(g.scale[1]));
    ck_assert_double_eq_tol(ss[6], want, 1e-6 * want);
    ck_assert(!memcmp(lo0, g.lo, sizeof lo0) && !memcmp(hi0, g.hi, sizeof hi0));
    ck_assert(!memcmp(sc0, g.scale, sizeof sc0) && !memcmp(z0, g.zero, sizeof z0));
    ck_assert(r.max_jump_after <= 0.5 * r.max_jump_before);
    ck_assert(isfinite(r.expected_err_before) && isfinite(r.expected_err_after));
    aq_act_groups_free(&g);
    unmake(&f);
}
END_TEST

/* Steps b-w-1 and b+w carry the two group values; in between, monotone from one to the other. */
static void check_windows(const aq_act_groups *g, const int *b, int w, const float *ss,
                          const float *sz) {
    for (int k = 1; k < g->K; ++k) {
        int t0 = b[k] - w - 1, t1 = b[k] + w;
        if (t0 >= 0) ck_assert(ss[t0] == (float)g->scale[k - 1]);
        ck_assert(ss[t1] == (float)g->scale[k]);
        double ds = g->scale[k] - g->scale[k - 1], dz = rzero(g, k) - rzero(g, k - 1);
        for (int t = (t0 > 0 ? t0 : 0); t < t1; ++t) {
            ck_assert((ss[t + 1] - ss[t]) * ds >= 0.0);
            ck_assert((sz[t + 1] - sz[t]) * dz >= 0.0);
        }
    }
}

/* Random layers, T = 32, K = 4 uniform: every method and window 1..3. */
START_TEST(endpoints_monotone_reduction) {
    enum { T = 32, K = 4 };
    aq_rng rng;
    aq_rng_seed(&rng, 4242 + (uint64_t)_i);
    double mean[T], std[T];
    double gm[K], gs[K];
    for (int k = 0; k < K; ++k) {
        gm[k] = 2.0 * aq_rng_normal(&rng);
        gs[k] = exp(1.5 * aq_rng_normal(&rng));
    }
    int b[K + 1];
    aq_boundaries_uniform(T, K, b);
    for (int t = 0; t < T; ++t) {
        int k = t / (T / K);
        mean[t] = gm[k] + 0.1 * aq_rng_normal(&rng);
        std[t] = gs[k] * (1.0 + 0.1 * aq_rng_uniform(&rng));
    }
    fixture f = make(T, mean, std);
    aq_act_groups g;
    aq_err e = {0};
    ck_assert_int_eq(aq_act_groups_init(&f.s, b, K, 8, &g, &e), AQ_OK);
    float ss[T], sz[T];
    aq_phase2_result r;
    for (int m = AQ_INTERP_LINEAR; m <= AQ_INTERP_SIGMOID; ++m)
        for (int w = 1; w <= 3; ++w) {
            aq_phase2(&g, b, T, (aq_interp)m, w, &f.s, f.w, ss, sz, &r);
            ck_assert(r.window == w && !r.clamped);
            check_windows(&g, b, w, ss, sz);
            if (m == AQ_INTERP_CUBIC && w == 2) /* the default */
                ck_assert_msg(r.max_jump_after <= 0.5 * r.max_jump_before, "%g -> %g",
                              r.max_jump_before, r.max_jump_after);
        }
    aq_phase2(&g, b, T, AQ_INTERP_CUBIC, 0, &f.s, f.w, ss, sz, &r);
    ck_assert(r.max_jump_after == r.max_jump_before);
    ck_assert(r.expected_err_after == r.expected_err_before);
    aq_act_groups_free(&g);
    unmake(&f);
}
END_TEST

/* Groups of 8, 3, 8 steps: windows of 2 would overlap in the middle group -> 1, clamped. */
START_TEST(window_clamped) {
    enum { T = 19 };
    double mean[T], std[T];
    for (int t = 0; t < T; ++t) {
        mean[t] = 0.0;
        std[t] = (t >= 8 && t < 11) ? 3.0 : (t < 8 ? 1.0 : 0.5);
    }
    fixture f = make(T, mean, std);
    int b[4] = {0, 8, 11, 19};
    aq_act_groups g;
    aq_err e = {0};
    ck_assert_int_eq(aq_act_groups_init(&f.s, b, 3, 8, &g, &e), AQ_OK);
    float ss[T], sz[T];
    aq_phase2_result r;
    aq_phase2(&g, b, T, AQ_INTERP_CUBIC, 2, &f.s, f.w, ss, sz, &r);
    ck_assert(r.window == 1 && r.clamped == 1);
    check_windows(&g, b, 1, ss, sz);
    ck_assert(r.max_jump_after <= 0.5 * r.max_jump_before); /* still, at w = 1 (f = 0.48) */
    /* A one-step outer group keeps its value: no window at its boundary, while the other
     * boundary is still smoothed (the clamp is per boundary). */
    int b1[4] = {0, 1, 10, 19};
    aq_phase2(&g, b1, T, AQ_INTERP_LINEAR, 2, &f.s, f.w, ss, sz, &r);
    ck_assert(r.window == 0 && r.clamped == 1);
    ck_assert(ss[0] == (float)g.scale[0] && ss[1] == (float)g.scale[1]);
    ck_assert(ss[9] != (float)g.scale[1] && ss[10] != (float)g.scale[2]);
    ck_assert(ss[7] == (float)g.scale[1] && ss[12] == (float)g.scale[2]);
    aq_act_groups_free(&g);
    unmake(&f);
}
END_TEST

START_TEST(single_group_and_point_mass) {
    enum { T = 6 };
    double mean[T] = {1, 1, 1, 1, 1, 1}, std[T] = {0, 0, 0, 0, 0, 0};
    fixture f = make(T, mean, std);
    int b[2] = {0, T};
    aq_act_groups g;
    aq_err e = {0};
    ck_assert_int_eq(aq_act_groups_init(&f.s, b, 1, 8, &g, &e), AQ_OK);
    ck_assert(g.scale[0] > 0.0 && g.hi[0] > g.lo[0]); /* degenerate range widened */
    float ss[T], sz[T];
    aq_phase2_result r;
    aq_phase2(&g, b, T, AQ_INTERP_SIGMOID, 2, &f.s, f.w, ss, sz, &r);
    ck_assert(r.max_jump_before == 0.0 && r.max_jump_after == 0.0 && !r.clamped);
    ck_assert(isfinite(r.expected_err_before) && r.expected_err_before >= 0.0);
    for (int t = 0; t < T; ++t)
        ck_assert(isfinite(ss[t]) && isfinite(sz[t]));
    aq_act_groups_free(&g);
    unmake(&f);
}
END_TEST

/* Group ranges are min/max over the steps; scale/zero by docs/DESIGN.md §4 (zero: half to even). */
START_TEST(groups_and_importance) {
    enum { N = 4 };
    double mean[N] = {0, 0, 0, 0}, std[N] = {1, 1, 1, 1};
    fixture f = make(N, mean, std);
    const double mn[N] = {-2.5, -2.0, 1.0, 2.0}, mx[N] = {0.0, 0.5, 4.0, 3.0};
    memcpy(f.s.min, mn, sizeof mn);
    memcpy(f.s.max, mx, sizeof mx);
    int b[3] = {0, 2, 4};
    aq_act_groups g;
    aq_err e = {0};
    ck_assert_int_eq(aq_act_groups_init(&f.s, b, 2, 2, &g, &e), AQ_OK);
    ck_assert(g.lo[0] == -2.5 && g.hi[0] == 0.5 && g.lo[1] == 1.0 && g.hi[1] == 4.0);
    ck_assert(g.scale[0] == 1.0 && g.zero[0] == 2); /* -lo/scale = 2.5 -> 2 */
    ck_assert(g.scale[1] == 1.0 && g.zero[1] == 0); /* -1 clamped to 0 */
    g.lo[1] = -6.0;
    g.hi[1] = -3.0;
    aq_act_groups_derive(&g);
    ck_assert(g.zero[1] == 3); /* 6 clamped to amax */
    /* importance: w = (3/4 + 1/4 ...) of the mask schedule at T = 4: (7, 5, 3, 1)/16 */
    f.s.in = 2;
    float sq[N * 2] = {1, 2, 1, 2, 1, 2, 1, 10}, h[2];
    f.s.sq_mean = sq;
    aq_importance(&f.s, f.w, h);
    ck_assert_float_eq_tol(h[0], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(h[1], (7 * 2 + 5 * 2 + 3 * 2 + 1 * 10) / 16.0f, 1e-6f);
    aq_act_groups_free(&g);
    unmake(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("phases_phase2");
    TCase *tc = tcase_create("phase2");
    tcase_add_test(tc, middle_survives);
    tcase_add_loop_test(tc, endpoints_monotone_reduction, 0, 20);
    tcase_add_test(tc, window_clamped);
    tcase_add_test(tc, single_group_and_point_mass);
    tcase_add_test(tc, groups_and_importance);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
