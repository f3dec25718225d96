/*
 * Unit tests: the channel-mixture error model (docs/PHASES.md, "Expected error") — c_mix
 * against Monte-Carlo quantization of samples of the mixture, the Phase 3 gradient with the
 * mixture against central finite differences, a one-component mixture equal to the Gaussian
 * model, clipping an outlier channel charged by the mixture (not by the Gaussian), and the
 * build being a pure function of the statistics.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/phases.h"
#include "aq/synth.h"

/* Scalar arrays of a T-step stats struct (no per-channel arrays). */
static void alloc_scalars(aq_layer_stats *s, int T, int64_t in) {
    memset(s, 0, sizeof *s);
    strcpy(s->name, "test.weight");
    s->T = T;
    s->in = in;
    s->min = calloc((size_t)T, sizeof(double));
    s->max = calloc((size_t)T, sizeof(double));
    s->mean = calloc((size_t)T, sizeof(double));
    s->std = calloc((size_t)T, sizeof(double));
    s->count = calloc((size_t)T, sizeof(double));
}

static void free_stats(aq_layer_stats *s) {
    aq_err e = {0};
    aq_error_model_build(s, AQ_ERRMODEL_GAUSSIAN, &e); /* frees the mixture */
    ck_assert_ptr_null(s->mix_w);
    free(s->min), free(s->max), free(s->mean), free(s->std), free(s->count);
    free(s->sq_mean), free(s->absmax);
}

/* Hand-made one-step mixture of n components. */
static void set_mixture(aq_layer_stats *s, int n, const double *w, const double *mu,
                        const double *sd) {
    s->M = n;
    s->mix_w = malloc((size_t)n * sizeof(double));
    s->mix_mu = malloc((size_t)n * sizeof(double));
    s->mix_sd = malloc((size_t)n * sizeof(double));
    memcpy(s->mix_w, w, (size_t)n * sizeof(double));
    memcpy(s->mix_mu, mu, (size_t)n * sizeof(double));
    memcpy(s->mix_sd, sd, (size_t)n * sizeof(double));
}

/* Mean squared error of asymmetric fake quantization of n samples of the mixture. */
static double mc_err(const aq_layer_stats *s, double lo, double hi, int amax, int n,
                     uint64_t seed) {
    aq_rng r;
    aq_rng_seed(&r, seed);
    double sc = (hi - lo) / amax, acc = 0.0;
    for (int i = 0; i < n; ++i) {
        double u = aq_rng_uniform(&r), cum = 0.0;
        int m = 0;
        while (m + 1 < s->M && u >= (cum += s->mix_w[m]))
            ++m;
        double x = s->mix_mu[m] + s->mix_sd[m] * aq_rng_normal(&r);
        double q = fmin(fmax(rint((x - lo) / sc), 0.0), (double)amax);
        double d = x - (lo + q * sc);
        acc += d * d;
    }
    return acc / n;
}

/* Gaussians of different widths and clipped point masses (a point mass inside the range is
 * not uniformly rounded, so the spikes sit outside it, where the model is exact). */
START_TEST(mixture_vs_monte_carlo) {
    const double w[] = {0.6, 0.3, 0.07, 0.02, 0.01};
    const double mu[] = {0.2, 0.2, 0.2, -12.0, 9.0};
    const double sd[] = {0.5, 1.5, 4.0, 0.0, 0.0};
    const double ranges[][2] = {{-3.0, 3.0}, {-6.0, 5.0}, {-10.0, 8.5}, {-2.0, 7.0}};
    aq_layer_stats s;
    alloc_scalars(&s, 1, 1);
    set_mixture(&s, 5, w, mu, sd);
    for (int i = 0; i < 4; ++i) {
        double lo = ranges[i][0], hi = ranges[i][1];
        double an = aq_step_err(&s, 0, lo, hi, 255, NULL, NULL);
        double mc = mc_err(&s, lo, hi, 255, 2000000, 11 + (uint64_t)i);
        ck_assert_msg(fabs(an - mc) <= 0.02 * mc, "[%g, %g]: model %g vs MC %g", lo, hi, an, mc);
    }
    free_stats(&s);
}
END_TEST

START_TEST(one_component_is_gaussian) {
    enum { T = 6, K = 2 };
    aq_layer_stats g, m;
    alloc_scalars(&g, T, 1);
    alloc_scalars(&m, T, 1);
    m.M = 1;
    m.mix_w = malloc(T * sizeof(double));
    m.mix_mu = malloc(T * sizeof(double));
    m.mix_sd = malloc(T * sizeof(double));
    for (int t = 0; t < T; ++t) {
        g.mean[t] = m.mean[t] = m.mix_mu[t] = 0.1 * t - 0.2;
        g.std[t] = m.std[t] = m.mix_sd[t] = (t == 3) ? 0.0 : 0.5 + 0.3 * t;
        m.mix_w[t] = 1.0;
        g.min[t] = m.min[t] = g.mean[t] - 4.0 * g.std[t] - 0.1;
        g.max[t] = m.max[t] = g.mean[t] + 5.0 * g.std[t] + 0.1;
        double a, b, c, d;
        double cg = aq_step_err(&g, t, -1.0, 2.0, 15, &a, &b);
        double cm = aq_step_err(&m, t, -1.0, 2.0, 15, &c, &d);
        ck_assert(cg == cm && a == c && b == d);
        ck_assert(cg == aq_gauss_err(g.mean[t], g.std[t], -1.0, 2.0, 15, NULL, NULL));
    }
    double w[T];
    int b[K + 1];
    aq_time_weights(AQ_SCHED_MASK, AQ_TW_ALPHABAR, T, 1000, w, NULL);
    aq_boundaries_uniform(T, K, b);
    aq_err e = {0};
    aq_act_groups gg;
    ck_assert_int_eq(aq_act_groups_init(&g, b, K, 8, &gg, &e), AQ_OK);
    ck_assert(aq_expected_error(&g, w, &gg, b, NULL, NULL) ==
              aq_expected_error(&m, w, &gg, b, NULL, NULL));
    int64_t cg[(T + 1) * (T + 1)], cm[(T + 1) * (T + 1)];
    memset(cg, 0, sizeof cg);
    memset(cm, 0, sizeof cm);
    aq_segment_costs_add(&g, w, 8, cg);
    aq_segment_costs_add(&m, w, 8, cm);
    ck_assert(memcmp(cg, cm, sizeof cg) == 0);
    aq_act_groups_free(&gg);
    free_stats(&g);
    free_stats(&m);
}
END_TEST

enum { IN = 64 };
#define NTOK 1024.0

/* T steps of IN channels: unit-RMS Gaussian channels (absmax 3.5) and channel 5 spiky:
 * body RMS 1 plus spikes of -amp on 1/64 of the tokens (massive activations). */
static void outlier_stats(aq_layer_stats *s, int T, double amp, uint64_t seed) {
    alloc_scalars(s, T, IN);
    s->sq_mean = calloc((size_t)T * IN, sizeof(float));
    s->absmax = calloc((size_t)T * IN, sizeof(float));
    aq_rng r;
    aq_rng_seed(&r, seed);
    for (int t = 0; t < T; ++t) {
        double tot = 0.0, a = amp * (1.0 + 0.05 * t);
        for (int j = 0; j < IN; ++j) {
            double rms = exp(0.3 * aq_rng_normal(&r));
            float *sq = &s->sq_mean[t * IN + j], *am = &s->absmax[t * IN + j];
            *sq = (float)(rms * rms);
            *am = (float)(3.5 * rms);
            if (j == 5) {
                *sq = (float)(1.0 + a * a / 64.0);
                *am = (float)a;
            }
            tot += *sq;
        }
        s->mean[t] = 0.0;
        s->std[t] = sqrt(tot / IN);
        s->min[t] = -a;
        s->max[t] = 4.0;
        s->count[t] = NTOK * IN;
    }
}

START_TEST(outlier_clipping_charged) {
    aq_layer_stats s;
    aq_err e = {0};
    outlier_stats(&s, 1, 40.0, 5);
    double g_full = aq_step_err(&s, 0, -40.0, 4.0, 255, NULL, NULL);
    double g_clip = aq_step_err(&s, 0, -10.0, 4.0, 255, NULL, NULL);
    ck_assert_int_eq(aq_error_model_build(&s, AQ_ERRMODEL_MIXTURE, &e), AQ_OK);
    ck_assert_int_eq(s.M, AQ_MIX_M);
    double wsum = 0.0;
    for (int m = 0; m < s.M; ++m)
        wsum += s.mix_w[m];
    ck_assert_double_eq_tol(wsum, 1.0, 1e-12);
    double m_full = aq_step_err(&s, 0, -40.0, 4.0, 255, NULL, NULL);
    double m_clip = aq_step_err(&s, 0, -10.0, 4.0, 255, NULL, NULL);
    /* Gaussian: clipping the outlier channel looks like a gain; mixture: a large loss. */
    ck_assert_msg(g_clip < g_full, "gaussian %g -> %g", g_full, g_clip);
    ck_assert_msg(m_clip > 10.0 * m_full, "mixture %g -> %g", m_full, m_clip);
    /* Both agree where nothing is clipped: same rounding noise within 25 %. */
    ck_assert_msg(fabs(m_full - g_full) < 0.25 * g_full, "%g vs %g", m_full, g_full);
    free_stats(&s);
}
END_TEST

START_TEST(build_is_pure) {
    aq_layer_stats a, b;
    aq_err e = {0};
    outlier_stats(&a, 5, 30.0, 9);
    outlier_stats(&b, 5, 30.0, 9);
    ck_assert_int_eq(aq_error_model_build(&a, AQ_ERRMODEL_MIXTURE, &e), AQ_OK);
    ck_assert_int_eq(aq_error_model_build(&b, AQ_ERRMODEL_MIXTURE, &e), AQ_OK);
    ck_assert_int_eq(aq_error_model_build(&b, AQ_ERRMODEL_MIXTURE, &e), AQ_OK); /* rebuild */
    size_t n = (size_t)a.T * (size_t)a.M * sizeof(double);
    ck_assert(memcmp(a.mix_w, b.mix_w, n) == 0 && memcmp(a.mix_mu, b.mix_mu, n) == 0 &&
              memcmp(a.mix_sd, b.mix_sd, n) == 0);
    free(b.sq_mean);
    b.sq_mean = NULL;
    ck_assert_int_eq(aq_error_model_build(&b, AQ_ERRMODEL_MIXTURE, &e), AQ_E_VALUE);
    ck_assert_int_eq(b.M, 0);
    free_stats(&a);
    free_stats(&b);
}
END_TEST

/* Phase 3 loss with the mixture (error + Markov + entropy) vs central differences. */
START_TEST(phase3_gradient_mixture) {
    enum { T = 10, K = 3 };
    aq_layer_stats s;
    aq_err e = {0};
    outlier_stats(&s, T, 25.0, 40 + (uint64_t)_i);
    ck_assert_int_eq(aq_error_model_build(&s, AQ_ERRMODEL_MIXTURE, &e), AQ_OK);
    double w[T];
    int b[K + 1];
    aq_time_weights(AQ_SCHED_MASK, AQ_TW_ALPHABAR, T, 1000, w, NULL);
    aq_boundaries_uniform(T, K, b);
    aq_act_groups g;
    int bits = (_i % 2) ? 8 : 4;
    ck_assert_int_eq(aq_act_groups_init(&s, b, K, bits, &g, &e), AQ_OK);
    aq_phase3_params p = {0.5, 0.3, 0.01, 1e-4, 1.0, 100};
    aq_phase3 *o = aq_phase3_create(&g, b, &s, w, &p);
    ck_assert_ptr_nonnull(o);
    aq_rng r;
    aq_rng_seed(&r, 70 + (uint64_t)_i);
    double lo[K], hi[K], dlo[K], dhi[K];
    for (int k = 0; k < K; ++k) { /* clipping the spikes or not, asymmetric ranges */
        lo[k] = -(2.0 + 30.0 * aq_rng_uniform(&r));
        hi[k] = 1.0 + 4.0 * aq_rng_uniform(&r);
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
    free_stats(&s);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("phases_mixture");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, mixture_vs_monte_carlo);
    tcase_add_test(tc, one_component_is_gaussian);
    tcase_add_test(tc, outlier_clipping_charged);
    tcase_add_test(tc, build_is_pure);
    tcase_add_loop_test(tc, phase3_gradient_mixture, 0, 6);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return aq_check_run(suite());
}
