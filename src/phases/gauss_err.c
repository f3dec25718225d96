/*
 * aq-mpi — expected quantization error of a Gaussian input, c(lo, hi) (docs/DESIGN.md §4).
 *
 * x ~ N(mu, sd^2), a = (lo - mu)/sd, b = (hi - mu)/sd, Z standard normal:
 *   rounding  R = s^2/12 * (Phi(b) - Phi(a)),  s = (hi - lo)/amax
 *             (uniform rounding noise of step s, Widrow & Kollar, "Quantization Noise", 2008)
 *   clipping  E[(x - lo)^2; x < lo] = sd^2 [(1 + a^2) Phi(a) + a phi(a)]
 *             E[(x - hi)^2; x > hi] = sd^2 [(1 + b^2) Phi(-b) - b phi(b)]
 *             (truncated second moments: E[Z; Z < a] = -phi(a), E[Z^2; Z < a] =
 *              Phi(a) - a phi(a); Johnson, Kotz & Balakrishnan, "Continuous Univariate
 *              Distributions" vol. 1, ch. 13.10)
 * Derivatives (the integrand of a clipping term vanishes at its limit, so only the inside
 * differentiates — Leibniz rule):
 *   d/dlo E[(x - lo)^2; x < lo] = -2 E[x - lo; x < lo] =  2 sd [phi(a) + a Phi(a)]
 *   d/dhi E[(x - hi)^2; x > hi] = -2 E[x - hi; x > hi] = -2 sd [phi(b) - b Phi(-b)]
 *   dR/dlo = -s/(6 amax) P - s^2/12 phi(a)/sd,   dR/dhi = s/(6 amax) P + s^2/12 phi(b)/sd.
 * The bracketed tail terms are non-negative in exact arithmetic but cancel in floating point
 * far in the tails; they are clamped at 0 so that c >= 0 always.
 */
#include <math.h>

#include "phases_internal.h"

/* P(lo <= x <= hi) in standard units, taking the difference on the side where the two
 * probabilities are small (no cancellation of two values near 1). */
static double in_prob(double a, double b) {
    double p = (a > 0.0) ? aq_ncdf(-a) - aq_ncdf(-b) : aq_ncdf(b) - aq_ncdf(a);
    return p > 0.0 ? p : 0.0;
}

/* Point mass at mu (sd = 0 or not a number): c is (mu - lo)^2, (mu - hi)^2 or s^2/12; the
 * in-range probability is a step, so it contributes no derivative. */
static double point_mass(double mu, double lo, double hi, double s, double na, double *dlo,
                         double *dhi) {
    double c, gl = 0.0, gh = 0.0;
    if (mu < lo) {
        c = (mu - lo) * (mu - lo);
        gl = 2.0 * (lo - mu);
    } else if (mu > hi) {
        c = (mu - hi) * (mu - hi);
        gh = -2.0 * (mu - hi);
    } else {
        c = s * s / 12.0;
        gl = -s / (6.0 * na);
        gh = s / (6.0 * na);
    }
    if (dlo) *dlo = gl;
    if (dhi) *dhi = gh;
    return c;
}

double aq_gauss_err(double mean, double std, double lo, double hi, int amax, double *dlo,
                    double *dhi) {
    double na = amax > 0 ? (double)amax : 1.0;
    double s = (hi - lo) / na;
    if (!(std > 0.0) || !isfinite(std)) return point_mass(mean, lo, hi, s, na, dlo, dhi);
    double a = (lo - mean) / std, b = (hi - mean) / std;
    double pa = aq_npdf(a), pb = aq_npdf(b);
    double Fa = aq_ncdf(a), Qb = aq_ncdf(-b);
    double P = in_prob(a, b);
    double tl = fmax((1.0 + a * a) * Fa + a * pa, 0.0);
    double tu = fmax((1.0 + b * b) * Qb - b * pb, 0.0);
    double c = s * s / 12.0 * P + std * std * (tl + tu);
    if (dlo) {
        double gl = fmax(pa + a * Fa, 0.0);
        *dlo = 2.0 * std * gl - s / (6.0 * na) * P - s * s / 12.0 * pa / std;
    }
    if (dhi) {
        double gu = fmax(pb - b * Qb, 0.0);
        *dhi = -2.0 * std * gu + s / (6.0 * na) * P + s * s / 12.0 * pb / std;
    }
    return c;
}
