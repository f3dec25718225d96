/*
 * Unit tests: Phase 3 (docs/DESIGN.md §4) — the analytic gradient of the whole loss (error, Markov
 * and entropy terms) against central finite differences, the loss never ending above its
 * start, convergence to the brute-force optimum on a simple case, and determinism.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/phases.h"
#include "aq/synth.h"

enum { T = 12, K = 3 };

typedef struct {
    aq_layer_stats s;
    double w[T];
    int b[K + 1];
} fixture;

static void make(fixture *f, uint64_t seed) {
    memset(f, 0, sizeof *f);
    aq_rng r;
    aq_rng_seed(&r, seed);
    f->s.T = T;
    f->s.min = malloc(T * sizeof(double));
    f->s.max = malloc(T * sizeof(double));
    f->s.mean = malloc(T * sizeof(double));
    f->s.std = malloc(T * sizeof(double));
    for (int t = 0; t < T; ++t) {
        f->s.mean[t] = aq_rng_normal(&r);
        f->s.std[t] = (t == 5) ? 0.0 : exp(0.7 * aq_rng_normal(&r)); /* one point mass */
        f->s.min[t] = f->s.mean[t] - (3.0 + 3.0 * aq_rng_uniform(&r)) * f->s.std[t] - 0.1;
        f->s.max[t] = f->s.mean[t] + (3.0 + 3.0 * aq_rng_uniform(&r)) * f->s.std[t] + 0.1;
    }
    aq_time_weights(AQ_SCHED_MASK, AQ_TW_ALPHABAR, T, 1000, f->w, NULL);
    aq_boundaries_uniform(T, K, f->b);
}

static void unmake(fixture *f) {
    free(f->s.min);
    free(f->s.max);
    free(f->s.mean);
    free(f->s.std);
}

static const aq_phase3_params P = {.markov_weight = 0.1,
                                   .entropy_weight = 0.01,
                                   .learning_rate = 0.01,
                                   .convergence = 1e-4,
                                   .grad_clip = 1.0,
                                   .max_iterations = 100};

/* Random ranges (some clipping hard, some loose), act_bits 4 and 8, larger weights so that
 * every term matters. */
START_TEST(gradient_vs_fd) {
    fixture f;
    make(&f, 100 + (uint64_t)_i);
    aq_act_groups g;
    aq_err e = {0};
    int bits = (_i % 2) ? 8 : 4;
    ck_assert_int_eq(aq_act_groups_init(&f.s, f.b, K, bits, &g, &e), AQ_OK);
    aq_phase3_params p = P;
    p.markov_weight = 0.5;
    p.entropy_weight = 0.3;
    aq_phase3 *o = aq_phase3_create(&g, f.b, &f.s, f.w, &p);
    ck_assert_ptr_nonnull(o);
    aq_rng r;
    aq_rng_seed(&r, 7 + (uint64_t)_i);
    double lo[K], hi[K], dlo[K], dhi[K];
    for (int k = 0; k < K; ++k) {
        double c = 0.5 * (g.lo[k] + g.hi[k]), h = 0.5 * (g.hi[k] - g.lo[k]);
        lo[k] = c - h * (0.2 + aq_rng_uniform(&r)) + 0.3 * h * aq_rng_normal(&r);
        hi[k] = c + h * (0.2 + aq_rng_uniform(&r)) + 0.3 * h * aq_rng_normal(&r);
        if (hi[k] <= lo[k] + 0.1) hi[k] = lo[k] + 0.1;
    }
    aq_phase3_loss(o, lo, hi, dlo, dhi);
    for (int k = 0; k < K; ++k)
        for (int which = 0; which < 2; ++which) {
            double *x = which ? &hi[k] : &lo[k], x0 = *x, h = 1e-6 * (hi[k] - lo[k]);
            *x = x0 + h;
            double Lp = aq_phase3_loss(o, lo, hi, NULL, NULL);
            *x = x0 - h;
            double Lm = aq_phase3_loss(o, lo, hi, NULL, NULL);
            *x = x0;
            double fd = (Lp - Lm) / (2 * h), an = which ? dhi[k] : dlo[k];
            ck_assert_msg(fabs(an - fd) <= 1e-6 + 1e-4 * fabs(fd), "case %d k %d %s: %g vs fd %g",
                          _i, k, which ? "hi" : "lo", an, fd);
        }
    aq_phase3_finish(o, &g, NULL, NULL, NULL, NULL);
    aq_act_groups_free(&g);
    unmake(&f);
}
END_TEST

/* Runs to the stop; returns the final loss reported, checking it against a re-evaluation. */
static double run(fixture *f, const aq_phase3_params *p, int bits, aq_act_groups *out, double *L0,
                  int *iters, int *conv) {
    aq_err e = {0};
    aq_act_groups g0;
    ck_assert_int_eq(aq_act_groups_init(&f->s, f->b, K, bits, &g0, &e), AQ_OK);
    ck_assert_int_eq(aq_act_groups_init(&f->s, f->b, K, bits, out, &e), AQ_OK);
    aq_phase3 *o = aq_phase3_create(out, f->b, &f->s, f->w, p);
    int changed = 1, n = 0;
    while (n < 100000) {
        aq_phase3_step(o, &changed);
        if (!changed) break;
        ++n;
    }
    double Lf;
    aq_phase3_finish(o, out, iters, conv, L0, &Lf);
    ck_assert_int_le(*iters, p->max_iterations);
    /* the written ranges do have the reported loss (same initial groups, same E0) */
    aq_phase3 *chk = aq_phase3_create(&g0, f->b, &f->s, f->w, p);
    double again = aq_phase3_loss(chk, out->lo, out->hi, NULL, NULL);
    ck_assert_double_eq_tol(again, Lf, 1e-9 * fabs(Lf) + 1e-12);
    aq_phase3_finish(chk, &g0, NULL, NULL, NULL, NULL);
    aq_act_groups_free(&g0);
    return Lf;
}

START_TEST(never_worse) {
    fixture f;
    make(&f, 300 + (uint64_t)_i);
    const double lrs[] = {0.001, 0.01, 0.1, 3.0};
    for (size_t i = 0; i < sizeof lrs / sizeof lrs[0]; ++i) {
        aq_phase3_params p = P;
        p.learning_rate = lrs[i];
        p.max_iterations = 60;
        aq_act_groups g;
        double L0;
        int it, conv;
        double Lf = run(&f, &p, (_i % 2) ? 8 : 2, &g, &L0, &it, &conv);
        ck_assert_msg(Lf <= L0, "lr %g: %g > %g", lrs[i], Lf, L0);
        for (int k = 0; k < K; ++k)
            ck_assert(g.hi[k] > g.lo[k] && g.scale[k] > 0.0);
        aq_act_groups_free(&g);
    }
    unmake(&f);
}
END_TEST

/* Three groups of N(0, 1) steps at 2 bits, error term only: Adam reaches the symmetric range
 * that a fine grid search of c finds (+-1.498 sd with codes at both ends of the range; ACIQ's
 * 1.71, Banner et al. 2019, counts 2^M steps instead of 2^M - 1). */
START_TEST(converges_simple) {
    fixture f;
    make(&f, 1);
    for (int t = 0; t < T; ++t) {
        f.s.mean[t] = 0.0;
        f.s.std[t] = 1.0;
        f.s.min[t] = -4.0;
        f.s.max[t] = 4.0;
    }
    double best = INFINITY, abest = 0.0;
    for (double a = 0.5; a < 4.0; a += 1e-4) {
        double c = aq_gauss_err(0.0, 1.0, -a, a, 3, NULL, NULL);
        if (c < best) {
            best = c;
            abest = a;
        }
    }
    ck_assert_double_eq_tol(abest, 1.498, 1e-3); /* this model's 2-bit optimum */
    aq_phase3_params p = {.markov_weight = 0.0,
                          .entropy_weight = 0.0,
                          .learning_rate = 0.02,
                          .convergence = 1e-7,
                          .grad_clip = 1.0,
                          .max_iterations = 3000};
    aq_act_groups g;
    double L0;
    int it, conv;
    double Lf = run(&f, &p, 2, &g, &L0, &it, &conv);
    ck_assert_msg(conv == 1, "not converged after %d iterations", it);
    double E0 = aq_gauss_err(0.0, 1.0, -4.0, 4.0, 3, NULL, NULL);
    ck_assert_double_eq_tol(Lf * E0, best, 1e-3 * best);
    for (int k = 0; k < K; ++k) {
        ck_assert_double_eq_tol(g.lo[k], -g.hi[k], 2e-2);
        ck_assert_double_eq_tol(g.hi[k], abest, 2e-2);
    }
    aq_act_groups_free(&g);
    unmake(&f);
}
END_TEST

START_TEST(deterministic_and_stops) {
    fixture f;
    make(&f, 9);
    aq_act_groups a, b;
    double L0a, L0b;
    int ita, itb, ca, cb;
    double La = run(&f, &P, 8, &a, &L0a, &ita, &ca);
    double Lb = run(&f, &P, 8, &b, &L0b, &itb, &cb);
    ck_assert(La == Lb && ita == itb && ca == cb);
    ck_assert(!memcmp(a.lo, b.lo, K * sizeof(double)) && !memcmp(a.hi, b.hi, K * sizeof(double)));
    ck_assert(!memcmp(a.zero, b.zero, K * sizeof(int32_t)));
    /* a stopped optimiser reports no change and keeps its loss */
    aq_phase3_params p = P;
    p.max_iterations = 2;
    aq_phase3 *o = aq_phase3_create(&a, f.b, &f.s, f.w, &p);
    int ch;
    aq_phase3_step(o, &ch);
    aq_phase3_step(o, &ch);
    double L = aq_phase3_step(o, &ch);
    ck_assert(ch == 0 && L == aq_phase3_step(o, &ch));
    int it;
    aq_phase3_finish(o, &a, &it, NULL, NULL, NULL);
    ck_assert_int_eq(it, 2);
    aq_act_groups_free(&a);
    aq_act_groups_free(&b);
    unmake(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("phases_phase3");
    TCase *tc = tcase_create("phase3");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, gradient_vs_fd, 0, 8);
    tcase_add_loop_test(tc, never_worse, 0, 6);
    tcase_add_test(tc, converges_simple);
    tcase_add_test(tc, deterministic_and_stops);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
