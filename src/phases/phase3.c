/*
 * aq-mpi — Phase 3 optimiser: Adam over theta_k = (lo_k / W0_k, log width_k) (docs/DESIGN.md §4).
 *
 * Why Adam (Kingma & Ba 2015, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): the loss mixes an
 * error ratio, squared log-scale jumps and entropies whose gradients differ by orders of
 * magnitude between layers; Adam's per-coordinate normalisation makes learning_rate mean
 * "about this much per step" (lo in units of the group's initial width W0, width in log
 * units), so one configuration works for every layer.  The gradient (in theta) is clipped to
 * norm grad_clip before it enters the moments.  Everything is sequential double arithmetic:
 * the same inputs give the same bits on any rank.
 * Stop: |L_prev - L| / max(|L_prev|, DBL_MIN) < convergence (converged), or max_iterations,
 * or a non-finite loss.  The best parameters seen are kept, so the final loss never exceeds
 * the initial one.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phases_internal.h"

#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8
#define LOGW_SPAN 30.0 /* log width kept within +-30 of its start (a guard, never active) */

static void unpack(aq_phase3 *o, const double *th) {
    for (int k = 0; k < o->K; ++k) {
        o->lo[k] = th[2 * k] * o->W0[k];
        o->hi[k] = o->lo[k] + exp(th[2 * k + 1]);
    }
}

/* L and dL/dtheta at theta (chain rule: hi = lo + e^l). */
static double eval(aq_phase3 *o, const double *th, double *grad) {
    unpack(o, th);
    double L = aq_phase3_loss(o, o->lo, o->hi, grad ? o->dlo : NULL, grad ? o->dhi : NULL);
    if (!grad) return L;
    for (int k = 0; k < o->K; ++k) {
        grad[2 * k] = o->W0[k] * (o->dlo[k] + o->dhi[k]);
        grad[2 * k + 1] = o->dhi[k] * (o->hi[k] - o->lo[k]);
    }
    return L;
}

static void free_state(aq_phase3 *o) {
    double *arrs[] = {o->W0, o->theta, o->grad, o->m,   o->v, o->best,
                      o->lo, o->hi,    o->dlo,  o->dhi, o->F, o->pdf};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; ++i)
        free(arrs[i]);
    free(o);
}

static int alloc_state(aq_phase3 *o) {
    size_t K = (size_t)o->K, nq = (size_t)o->amax + 2;
    o->W0 = calloc(K, sizeof(double));
    o->lo = calloc(K, sizeof(double));
    o->hi = calloc(K, sizeof(double));
    o->dlo = calloc(K, sizeof(double));
    o->dhi = calloc(K, sizeof(double));
    o->theta = calloc(2 * K, sizeof(double));
    o->grad = calloc(2 * K, sizeof(double));
    o->m = calloc(2 * K, sizeof(double));
    o->v = calloc(2 * K, sizeof(double));
    o->best = calloc(2 * K, sizeof(double));
    o->F = calloc(nq, sizeof(double));
    o->pdf = calloc(nq, sizeof(double));
    return o->W0 && o->lo && o->hi && o->dlo && o->dhi && o->theta && o->grad && o->m && o->v &&
           o->best && o->F && o->pdf;
}

/* E0 = sum_t w_t c_0(t) at the initial ranges (o->E0 = 1 while it is computed). */
static void init_theta(aq_phase3 *o, const aq_act_groups *g) {
    for (int k = 0; k < o->K; ++k) {
        double lo = g->lo[k], hi = g->hi[k];
        aq_fix_range(&lo, &hi);
        o->W0[k] = hi - lo;
        o->theta[2 * k] = lo / o->W0[k];
        o->theta[2 * k + 1] = log(hi - lo);
        o->lo[k] = lo;
        o->hi[k] = hi;
    }
    aq_phase3_params keep = o->p;
    o->p.markov_weight = o->p.entropy_weight = 0.0;
    o->E0 = 1.0;
    double e0 = aq_phase3_loss(o, o->lo, o->hi, NULL, NULL);
    o->p = keep;
    o->E0 = (e0 > 0.0 && isfinite(e0)) ? e0 : 1.0;
}

aq_phase3 *aq_phase3_create(const aq_act_groups *g, const int *b, const aq_layer_stats *s,
                            const double *w, const aq_phase3_params *p) {
    aq_phase3 *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->s = s;
    o->w = w;
    o->b = b;
    o->K = g->K > 0 ? g->K : 0;
    o->act_bits = g->act_bits;
    o->amax = aq_amax(g->act_bits);
    o->p = *p;
    if (!alloc_state(o)) {
        free_state(o);
        return NULL;
    }
    init_theta(o, g);
    o->b1t = o->b2t = 1.0;
    o->L0 = o->L = o->L_best = eval(o, o->theta, o->grad);
    memcpy(o->best, o->theta, 2 * (size_t)o->K * sizeof(double));
    o->stopped = p->max_iterations <= 0 || o->K == 0 || !isfinite(o->L0);
    return o;
}

/* Gradient norm clipped to grad_clip (no clipping when grad_clip <= 0). */
static void clip_grad(double *g, int n, double clip) {
    double nn = 0.0;
    for (int i = 0; i < n; ++i)
        nn += g[i] * g[i];
    nn = sqrt(nn);
    if (clip > 0.0 && nn > clip)
        for (int i = 0; i < n; ++i)
            g[i] *= clip / nn;
}

/* One Adam update of theta from o->grad; returns whether any coordinate moved. */
static int adam_update(aq_phase3 *o) {
    int n = 2 * o->K, moved = 0;
    clip_grad(o->grad, n, o->p.grad_clip);
    o->b1t *= ADAM_B1;
    o->b2t *= ADAM_B2;
    for (int i = 0; i < n; ++i) {
        double g = o->grad[i];
        o->m[i] = ADAM_B1 * o->m[i] + (1.0 - ADAM_B1) * g;
        o->v[i] = ADAM_B2 * o->v[i] + (1.0 - ADAM_B2) * g * g;
        double mh = o->m[i] / (1.0 - o->b1t), vh = o->v[i] / (1.0 - o->b2t);
        double nt = o->theta[i] - o->p.learning_rate * mh / (sqrt(vh) + ADAM_EPS);
        if (i % 2 == 1) { /* guard the log width (keeps exp() finite) */
            double l0 = log(o->W0[i / 2]);
            nt = fmin(fmax(nt, l0 - LOGW_SPAN), l0 + LOGW_SPAN);
        }
        moved |= nt != o->theta[i];
        o->theta[i] = nt;
    }
    return moved;
}

double aq_phase3_step(aq_phase3 *o, int *changed) {
    if (changed) *changed = 0;
    if (o->stopped) return o->L;
    int moved = adam_update(o);
    double Lprev = o->L;
    o->L = eval(o, o->theta, o->grad);
    o->it++;
    if (changed) *changed = moved;
    if (!isfinite(o->L)) {
        o->stopped = 1;
        return o->L;
    }
    if (o->L < o->L_best) {
        o->L_best = o->L;
        memcpy(o->best, o->theta, 2 * (size_t)o->K * sizeof(double));
    }
    if (fabs(Lprev - o->L) / fmax(fabs(Lprev), DBL_MIN) < o->p.convergence) {
        o->converged = 1;
        o->stopped = 1;
    }
    if (o->it >= o->p.max_iterations) o->stopped = 1;
    return o->L;
}

void aq_phase3_finish(aq_phase3 *o, aq_act_groups *g, int *iterations, int *converged,
                      double *initial_loss, double *final_loss) {
    if (!o) return;
    unpack(o, o->best);
    int K = g->K < o->K ? g->K : o->K;
    for (int k = 0; k < K; ++k) {
        g->lo[k] = o->lo[k];
        g->hi[k] = o->hi[k];
    }
    aq_act_groups_derive(g);
    if (iterations) *iterations = o->it;
    if (converged) *converged = o->converged;
    if (initial_loss) *initial_loss = o->L0;
    if (final_loss) *final_loss = o->L_best;
    free_state(o);
}
