/*
 * aq-mpi — time-group boundaries: uniform, segment costs (int64 fixed point) and the
 * K-segment dynamic programme (docs/DESIGN.md §5, "Boundary optimisation").
 *
 * Costs are converted to fixed point per layer, so their sum over layers (and over ranks,
 * by MPI_Allreduce) is exact and independent of the summation order: the DP then sees the
 * same integers whatever the rank count.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "phases_internal.h"

/* A layer's normalised costs are O(1); capping them at 2^20 keeps one value below 2^52 and a
 * sum over 2^11 layers below 2^63. */
#define COST_CAP 1048576.0

void aq_boundaries_uniform(int T, int K, int *b) {
    if (K < 1) return;
    /* round(k T / K), halves up, in exact integer arithmetic. */
    for (int k = 0; k <= K; ++k)
        b[k] = (int)((2 * (int64_t)k * T + K) / (2 * (int64_t)K));
}

/* sum_{t in [i, j)} w_t c(t; lo, hi) for the range lo/hi of those steps. */
static double segment_err(const aq_layer_stats *s, const double *w, int amax, int i, int j,
                          double lo, double hi) {
    aq_fix_range(&lo, &hi);
    double e = 0.0;
    for (int t = i; t < j; ++t)
        e += w[t] * aq_step_err(s, t, lo, hi, amax, NULL, NULL);
    return e;
}

static int64_t to_fixed(double v) {
    if (!(v > 0.0)) return 0; /* c >= 0; NaN maps to 0 rather than poisoning the sum */
    if (v > COST_CAP) v = COST_CAP;
    return (int64_t)llround(ldexp(v, AQ_COST_FRAC_BITS));
}

/* O(T^3) evaluations of c: for every start i the range grows with j, and each segment's
 * steps are re-evaluated under it. */
void aq_segment_costs_add(const aq_layer_stats *s, const double *w, int act_bits, int64_t *cost) {
    int T = s->T, amax = aq_amax(act_bits);
    if (T < 1) return;
    double glo = s->min[0], ghi = s->max[0];
    for (int t = 1; t < T; ++t) {
        glo = fmin(glo, s->min[t]);
        ghi = fmax(ghi, s->max[t]);
    }
    double norm = segment_err(s, w, amax, 0, T, glo, ghi);
    if (!(norm > 0.0) || !isfinite(norm)) norm = 1.0;
    for (int i = 0; i < T; ++i) {
        double lo = s->min[i], hi = s->max[i];
        for (int j = i + 1; j <= T; ++j) {
            lo = fmin(lo, s->min[j - 1]);
            hi = fmax(hi, s->max[j - 1]);
            double e = segment_err(s, w, amax, i, j, lo, hi) / norm;
            cost[(size_t)i * (size_t)(T + 1) + (size_t)j] += to_fixed(e);
        }
    }
}

static int64_t sat_add(int64_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
    return a + b;
}

/* D[k][j] = min cost of splitting [0, j) into k segments of at least m steps; arg[k][j] =
 * start of the last one.  Scanning i upwards with a strict '<' keeps the earliest start among
 * equal costs. */
static void dp_fill(const int64_t *cost, int T, int K, int m, int64_t *D, int *arg) {
    size_t n = (size_t)T + 1;
    for (size_t x = 0; x < (size_t)(K + 1) * n; ++x)
        D[x] = INT64_MAX;
    D[0] = 0;
    for (int k = 1; k <= K; ++k) {
        for (int j = k * m; j <= T; ++j) {
            int64_t best = INT64_MAX;
            int bi = (k - 1) * m;
            for (int i = (k - 1) * m; i <= j - m; ++i) {
                int64_t prev = D[(size_t)(k - 1) * n + (size_t)i];
                if (prev == INT64_MAX) continue;
                int64_t v = sat_add(prev, cost[(size_t)i * n + (size_t)j]);
                if (v < best) {
                    best = v;
                    bi = i;
                }
            }
            D[(size_t)k * n + (size_t)j] = best;
            arg[(size_t)k * n + (size_t)j] = bi;
        }
    }
}

/* Ties: backtracking takes the earliest start of the last segment, then the earliest start
 * of the one before given that, and so on (smallest b[K-1], then b[K-2], ...). */
aq_status aq_boundaries_dp(const int64_t *cost, int T, int K, int min_steps, int *b, aq_err *err) {
    if (T < 1 || K < 1 || min_steps < 1)
        return aq_err_set(err, AQ_E_CONFIG,
                          "time groups: T = %d, K = %d, min_steps = %d: all must be >= 1", T, K,
                          min_steps);
    if (K > T)
        return aq_err_set(err, AQ_E_CONFIG,
                          "timegroups.count = %d exceeds the %d time steps of the calibration "
                          "statistics",
                          K, T);
    if ((int64_t)K * min_steps > T)
        return aq_err_set(err, AQ_E_CONFIG,
                          "timegroups.count = %d groups of timegroups.min_steps = %d steps "
                          "exceed the %d time steps of the calibration statistics",
                          K, min_steps, T);
    size_t n = (size_t)T + 1;
    int64_t *D = malloc((size_t)(K + 1) * n * sizeof *D);
    int *arg = calloc((size_t)(K + 1) * n, sizeof *arg);
    if (!D || !arg) {
        free(D);
        free(arg);
        return aq_err_set(err, AQ_E_NOMEM, "time groups: out of memory for the DP (T = %d, K = %d)",
                          T, K);
    }
    dp_fill(cost, T, K, min_steps, D, arg);
    b[K] = T;
    for (int k = K; k >= 1; --k)
        b[k - 1] = arg[(size_t)k * n + (size_t)b[k]];
    b[0] = 0;
    free(D);
    free(arg);
    return AQ_OK;
}
