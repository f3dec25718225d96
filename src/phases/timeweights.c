/*
 * aq-mpi — time weights w_t from the noise schedule (docs/DESIGN.md §4).
 *
 * Step t stands for the noise level u_t = (t + 1/2)/T, the centre of its bin, so the weights
 * are a midpoint-rule discretisation of a continuous density in u and do not depend on how
 * finely calibration binned time (weights at T and 2T integrate alike).
 */
#include <math.h>

#include "phases_internal.h"

#define LIN_BETA0 1e-4
#define LIN_BETA1 0.02
#define COS_S 0.008

/* Nichol & Dhariwal 2021 ("Improved DDPM", eq. 17): f(u) = cos^2(((u + s)/(1 + s)) pi/2). */
static double cosine_f(double u) {
    double c = cos((u + COS_S) / (1.0 + COS_S) * (M_PI / 2.0));
    return c * c;
}

/* Continuous-time DDPM linear schedule: log alphabar = -integral of beta over [0, u] with
 * beta(u) = T_ref (beta0 + (beta1 - beta0) u) (Ho et al. 2020 betas, horizon T_ref). */
static double alphabar_of(aq_schedule sched, int T_ref, double u) {
    switch (sched) {
    case AQ_SCHED_LINEAR:
        return exp(-(double)T_ref * (LIN_BETA0 * u + (LIN_BETA1 - LIN_BETA0) * u * u / 2.0));
    case AQ_SCHED_COSINE:
        return cosine_f(u) / cosine_f(0.0);
    case AQ_SCHED_MASK:
        return 1.0 - u; /* fraction of tokens still unmasked */
    }
    return 1.0;
}

/* A T_ref < 1 falls back to the documented default 1000. */
void aq_time_weights(aq_schedule sched, aq_time_weight tw, int T, int T_ref, double *w,
                     double *alphabar) {
    if (T < 1) return;
    if (T_ref < 1) T_ref = 1000;
    double sum = 0.0;
    for (int t = 0; t < T; ++t) {
        double u = ((double)t + 0.5) / (double)T;
        double a = alphabar_of(sched, T_ref, u);
        if (!(a > 0.0)) a = 0.0;
        if (alphabar) alphabar[t] = a;
        if (w) w[t] = (tw == AQ_TW_UNIFORM) ? 1.0 : a;
        sum += (tw == AQ_TW_UNIFORM) ? 1.0 : a;
    }
    if (!w) return;
    /* Every alphabar underflowed (e.g. a huge T_ref): uniform weights rather than 0/0. */
    int uniform = !(sum > 0.0) || !isfinite(sum);
    for (int t = 0; t < T; ++t)
        w[t] = uniform ? 1.0 / (double)T : w[t] / sum;
}
