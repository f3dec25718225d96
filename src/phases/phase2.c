/*
 * aq-mpi — Phase 2: boundary smoothing into a per-step schedule (docs/DESIGN.md §4, Phase 2).
 *
 * Window of boundary b: the 2w steps t = b-w .. b+w-1, with
 *     v(t) = (t - (b - w) + 1) / (2w + 1)
 * so that v = 0 falls on step b-w-1 (the previous group's value) and v = 1 on step b+w (the
 * next group's value): the 2w+1 transitions between those two steps all lie on the curve,
 * the endpoints meet the group values and the largest per-step jump of log scale becomes
 * max over consecutive v of f(v') - f(v) times the hard jump (linear 1/(2w+1); cubic at w = 2:
 * 0.296, at w = 1: 0.48 — a reduction >= 50 % from w = 1 on; sigmoid needs w >= 3).
 * Windows stay inside the groups next to their boundary and never overlap: the window of
 * boundary k is clamped by its two neighbouring groups only — an interior group (one with a
 * boundary on each side) lends at most floor(n/2) steps to each side, the first and the last
 * group all but one (so each keeps a step at its own value: t = 0 weighs most) — and a short
 * group elsewhere does not switch smoothing off everywhere.
 * Interpolated: log scale and the real-valued zero clamp(-lo/scale, 0, amax) — the continuous
 * counterpart of the integer zero, so a step outside every window has exactly its group's
 * (scale, zero) and the quantizer's code range.
 */
#include <math.h>

#include "phases_internal.h"

static double sig(double x) {
    return 1.0 / (1.0 + exp(-x));
}

static double shape(aq_interp m, double v) {
    switch (m) {
    case AQ_INTERP_LINEAR:
        return v;
    case AQ_INTERP_CUBIC:
        return v * v * (3.0 - 2.0 * v);
    case AQ_INTERP_SIGMOID: {
        const double k = 10.0;
        double a = sig(-k / 2.0), b = sig(k / 2.0);
        return (sig(k * (v - 0.5)) - a) / (b - a);
    }
    }
    return v;
}

static double real_zero(const aq_act_groups *g, int k, int amax) {
    double z = -g->lo[k] / g->scale[k];
    if (!(z > 0.0)) return 0.0;
    return z > amax ? (double)amax : z;
}

/* Steps group j may lend to one of its boundaries (see the file comment). */
static int lendable(const int *b, int K, int j) {
    int n = b[j + 1] - b[j];
    return (j == 0 || j == K - 1) ? n - 1 : n / 2;
}

/* Window of boundary k (1 <= k < K). */
static int clamp_window(const int *b, int K, int k, int window) {
    int w = window > 0 ? window : 0, left = lendable(b, K, k - 1), right = lendable(b, K, k);
    if (left < w) w = left;
    return right < w ? right : w;
}

static double max_log_jump(const float *sc, int T) {
    double m = 0.0;
    for (int t = 0; t + 1 < T; ++t)
        m = fmax(m, fabs(log((double)sc[t + 1]) - log((double)sc[t])));
    return m;
}

/* Hard switch: every step carries its group's values. */
static void hard_schedule(const aq_act_groups *g, const int *b, int T, float *sc, float *zr) {
    int amax = aq_amax(g->act_bits);
    for (int t = 0; t < T; ++t) {
        int k = aq_group_of(b, g->K, t);
        sc[t] = (float)g->scale[k];
        zr[t] = (float)real_zero(g, k, amax);
    }
}

/* Overwrites the window of boundary k (between groups k-1 and k), from the group values. */
static void smooth_boundary(const aq_act_groups *g, const int *b, int k, int w, aq_interp m,
                            float *sc, float *zr) {
    int amax = aq_amax(g->act_bits);
    double l0 = log(g->scale[k - 1]), l1 = log(g->scale[k]);
    double z0 = real_zero(g, k - 1, amax), z1 = real_zero(g, k, amax);
    for (int t = b[k] - w; t < b[k] + w; ++t) {
        double v = (double)(t - (b[k] - w) + 1) / (double)(2 * w + 1);
        double f = shape(m, v);
        sc[t] = (float)exp((1.0 - f) * l0 + f * l1);
        zr[t] = (float)((1.0 - f) * z0 + f * z1);
    }
}

void aq_phase2(const aq_act_groups *g, const int *b, int T, aq_interp method, int window,
               const aq_layer_stats *s, const double *w, float *sched_scale, float *sched_zero,
               aq_phase2_result *r) {
    hard_schedule(g, b, T, sched_scale, sched_zero);
    r->max_jump_before = max_log_jump(sched_scale, T);
    r->expected_err_before =
        (s && w) ? aq_expected_error(s, w, g, b, sched_scale, sched_zero) : 0.0;
    r->window = window > 0 ? window : 0; /* the smallest window used, below */
    for (int k = 1; k < g->K; ++k) {
        int wk = clamp_window(b, g->K, k, window);
        if (wk < r->window) r->window = wk;
        if (wk > 0) smooth_boundary(g, b, k, wk, method, sched_scale, sched_zero);
    }
    r->clamped = r->window < window;
    r->max_jump_after = max_log_jump(sched_scale, T);
    r->expected_err_after = (s && w) ? aq_expected_error(s, w, g, b, sched_scale, sched_zero) : 0.0;
}
