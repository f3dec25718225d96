/*
 * aq-mpi — helpers shared by the files of src/phases (not part of the public API).
 */
#ifndef AQ_PHASES_INTERNAL_H
#define AQ_PHASES_INTERNAL_H

#include <math.h>

#include "aq/phases.h"

/* Standard normal pdf and cdf.  The cdf goes through erfc so that both tails keep their
 * relative accuracy (1 - Phi(x) = Phi(-x) is never formed by subtraction). */
static inline double aq_npdf(double x) {
    return 0.3989422804014327 * exp(-0.5 * x * x);
}
static inline double aq_ncdf(double x) {
    return 0.5 * erfc(-x * 0.7071067811865476);
}

/* amax = 2^a - 1 (a = act_bits, 2..16 by the configuration; guarded to 1..30). */
static inline int aq_amax(int act_bits) {
    if (act_bits < 1) act_bits = 1;
    if (act_bits > 30) act_bits = 30;
    return (1 << act_bits) - 1;
}

/* Smallest width a range may have: a degenerate range (constant activations, or lo >= hi
 * after rounding) is widened to this so that scale > 0 and log scale stays finite. */
static inline double aq_min_width(double lo, double hi) {
    double m = fmax(1.0, fmax(fabs(lo), fabs(hi)));
    return 1e-6 * m;
}

/* Widens [*lo, *hi] in place when hi - lo is below aq_min_width (or not a number). */
static inline void aq_fix_range(double *lo, double *hi) {
    double mw = aq_min_width(*lo, *hi);
    if (!(*hi - *lo >= mw)) *hi = *lo + mw;
}

/* Group of time step t for boundaries b[0..K] (b[0] = 0 <= t < b[K]). */
static inline int aq_group_of(const int *b, int K, int t) {
    int k = 0;
    while (k + 1 < K && t >= b[k + 1])
        ++k;
    return k;
}

/* Phase 3 optimiser state (phase3.c) and the loss it minimises (phase3_loss.c). */
struct aq_phase3 {
    const aq_layer_stats *s; /* borrowed */
    const double *w;         /* borrowed [T] */
    const int *b;            /* borrowed [K+1] */
    int K, act_bits, amax;
    aq_phase3_params p;
    double E0;                   /* normaliser sum_t w_t c_0(t), 1 when that is 0 */
    double *W0;                  /* [K] initial widths: lo is optimised as lo/W0 */
    double *theta, *grad;        /* [2K]: (lo_k/W0_k, log width_k) and dL/dtheta */
    double *m, *v, *best;        /* [2K] Adam moments, best parameters seen */
    double *lo, *hi, *dlo, *dhi; /* [K] scratch */
    double *F, *pdf;             /* [amax+2] scratch of the entropy term */
    double b1t, b2t;             /* beta1^t, beta2^t of Adam's bias correction */
    double L0, L, L_best;
    int it, stopped, converged;
};

#endif /* AQ_PHASES_INTERNAL_H */
