/*
 * Unit tests: the Gaussian error model c(lo, hi) (docs/DESIGN.md §4) against Monte Carlo — of the
 * model's own definition for every case, and of a real uniform quantizer where the step is
 * fine enough for the s^2/12 rounding model — and its analytic derivatives against central
 * finite differences; point masses and far tails.
 */
#include <check.h>

#include "aq_check.h"
#include <math.h>
#include <stdlib.h>

#include "aq/phases.h"
#include "aq/synth.h"

typedef struct {
    double mean, std, lo, hi;
    int amax;
    int fine; /* step <= std/4: the rounding model holds for a real quantizer */
} gcase;

static const gcase CASES[] = {
    {0.0, 1.0, -5.0, 5.0, 255, 1}, /* almost no clipping (the rare tail makes MC noisy at 4) */
    {0.5, 2.0, -3.0, 3.0, 255, 1}, /* moderate, asymmetric */
    {0.0, 1.0, -1.0, 1.0, 255, 1}, /* heavy: 32 % clipped */
    {1.0, 1.0, 2.0, 5.0, 15, 1},   /* mean below the range */
    {0.0, 1.0, -0.5, 0.3, 3, 0},   /* heavy, 2 bits */
    {-2.0, 0.5, -3.0, 0.0, 7, 0},  /* 3 bits */
    {0.0, 1.0, -1.7, 1.7, 3, 0},   /* near the 2-bit optimum */
    {3.0, 0.1, -1.0, 1.0, 255, 1}, /* everything clipped above */
};
#define NCASES (int)(sizeof CASES / sizeof CASES[0])
#define NSAMP 1000000

/* Monte Carlo of the model: s^2/12 inside, squared distance to the range outside. */
static double mc_model(const gcase *c, aq_rng *r) {
    double s = (c->hi - c->lo) / c->amax, acc = 0.0;
    for (int i = 0; i < NSAMP; ++i) {
        double x = c->mean + c->std * aq_rng_normal(r);
        if (x < c->lo)
            acc += (x - c->lo) * (x - c->lo);
        else if (x > c->hi)
            acc += (x - c->hi) * (x - c->hi);
        else
            acc += s * s / 12.0;
    }
    return acc / NSAMP;
}

/* Monte Carlo of an actual asymmetric quantizer on [lo, hi] with amax steps. */
static double mc_quantizer(const gcase *c, aq_rng *r) {
    double s = (c->hi - c->lo) / c->amax, acc = 0.0;
    for (int i = 0; i < NSAMP; ++i) {
        double x = c->mean + c->std * aq_rng_normal(r);
        double q = fmin(fmax(rint((x - c->lo) / s), 0.0), (double)c->amax);
        double d = x - (c->lo + q * s);
        acc += d * d;
    }
    return acc / NSAMP;
}

START_TEST(against_monte_carlo) {
    const gcase *c = &CASES[_i];
    aq_rng r;
    aq_rng_seed(&r, 1234 + (uint64_t)_i);
    double an = aq_gauss_err(c->mean, c->std, c->lo, c->hi, c->amax, NULL, NULL);
    double mm = mc_model(c, &r);
    ck_assert_msg(fabs(an - mm) <= 0.02 * mm, "case %d: analytic %g, MC(model) %g", _i, an, mm);
    if (c->fine) {
        double mq = mc_quantizer(c, &r);
        ck_assert_msg(fabs(an - mq) <= 0.02 * mq, "case %d: analytic %g, MC(quantizer) %g", _i, an,
                      mq);
    }
}
END_TEST

START_TEST(derivatives_vs_fd) {
    const gcase *c = &CASES[_i];
    double dlo, dhi;
    aq_gauss_err(c->mean, c->std, c->lo, c->hi, c->amax, &dlo, &dhi);
    double h = 1e-5 * (c->hi - c->lo);
    double fl = (aq_gauss_err(c->mean, c->std, c->lo + h, c->hi, c->amax, NULL, NULL) -
                 aq_gauss_err(c->mean, c->std, c->lo - h, c->hi, c->amax, NULL, NULL)) /
                (2 * h);
    double fh = (aq_gauss_err(c->mean, c->std, c->lo, c->hi + h, c->amax, NULL, NULL) -
                 aq_gauss_err(c->mean, c->std, c->lo, c->hi - h, c->amax, NULL, NULL)) /
                (2 * h);
    ck_assert_msg(fabs(dlo - fl) <= 1e-6 + 1e-5 * fabs(fl), "case %d: dlo %g fd %g", _i, dlo, fl);
    ck_assert_msg(fabs(dhi - fh) <= 1e-6 + 1e-5 * fabs(fh), "case %d: dhi %g fd %g", _i, dhi, fh);
}
END_TEST

START_TEST(point_mass) {
    double dlo, dhi, s = 2.0 / 255;
    ck_assert_double_eq_tol(aq_gauss_err(0.3, 0.0, -1, 1, 255, &dlo, &dhi), s * s / 12, 1e-18);
    ck_assert_double_eq_tol(dlo, -s / (6 * 255), 1e-15);
    ck_assert_double_eq_tol(dhi, s / (6 * 255), 1e-15);
    ck_assert_double_eq_tol(aq_gauss_err(-3.0, 0.0, -1, 1, 255, &dlo, &dhi), 4.0, 1e-15);
    ck_assert_double_eq_tol(dlo, 4.0, 1e-15);
    ck_assert(dhi == 0.0);
    ck_assert_double_eq_tol(aq_gauss_err(2.5, 0.0, -1, 1, 255, &dlo, &dhi), 2.25, 1e-15);
    ck_assert_double_eq_tol(dhi, -3.0, 1e-15);
    ck_assert(dlo == 0.0);
    /* a tiny std is continuous with the point mass */
    ck_assert_double_eq_tol(aq_gauss_err(-3.0, 1e-9, -1, 1, 255, &dlo, &dhi), 4.0, 1e-8);
    ck_assert_double_eq_tol(dlo, 4.0, 1e-8);
    ck_assert(!isnan(aq_gauss_err(0.0, NAN, -1, 1, 255, NULL, NULL)));
}
END_TEST

/* Far tails: no NaN, never negative, and the clipped limit (mu - hi)^2 + std^2. */
START_TEST(tails) {
    const double los[] = {-100, -40, -10, 5, 40, 1e6};
    for (size_t i = 0; i < sizeof los / sizeof los[0]; ++i) {
        double dlo, dhi;
        double c = aq_gauss_err(0.0, 1.0, los[i], los[i] + 0.5, 255, &dlo, &dhi);
        ck_assert(isfinite(c) && c >= 0.0 && isfinite(dlo) && isfinite(dhi));
        double d = fabs(los[i]) + (los[i] < 0 ? -0.5 : 0.0);
        ck_assert_double_eq_tol(c, d * d + 1.0, 1e-9 * (d * d + 1.0));
    }
    ck_assert(aq_gauss_err(0.0, 1.0, -60, 60, 255, NULL, NULL) > 0.0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("phases_gauss");
    TCase *tc = tcase_create("gauss");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, against_monte_carlo, 0, NCASES);
    tcase_add_loop_test(tc, derivatives_vs_fd, 0, NCASES);
    tcase_add_test(tc, point_mass);
    tcase_add_test(tc, tails);
    suite_add_tcase(s, tc);
    return aq_check_run(s);
}
