/*
 * aq-mpi — time-aware activation parameters and the three phases (docs/DESIGN.md §4 and §5).
 *
 * Pure computation: no MPI, no files.  The job (src/job) reconciles across ranks:
 * segment costs are summed with MPI_Allreduce on int64 fixed-point values (exact, so the
 * boundaries do not depend on the rank count), and Phase 3 is stepped one iteration at a
 * time so that all ranks can stop together.
 *
 * Notation: T time steps, K time groups with global boundaries b[0..K] (b[0] = 0,
 * b[K] = T, strictly increasing); a = act_bits, amax = 2^a - 1; for a group,
 * scale = (hi - lo)/amax and zero = clamp(round(-lo/scale), 0, amax) (round half to even).
 */
#ifndef AQ_PHASES_H
#define AQ_PHASES_H

#include <stddef.h>
#include <stdint.h>

#include "aq/calib.h"
#include "aq/config.h"
#include "aq/error.h"

/*-*********************************************
 *  Time weights (docs/DESIGN.md §4)
 ***********************************************/

/*! aq_time_weights() :
 *  alphabar[t] and w[t] for t = 0..T-1 at noise level u_t = (t + 1/2)/T, with reference
 *  horizon T_ref (default 1000) for the linear schedule (beta0 = 1e-4, beta1 = 0.02):
 *    linear : alphabar(u) = exp(-T_ref (beta0 u + (beta1 - beta0) u^2 / 2))
 *    cosine : alphabar(u) = f(u)/f(0), f(u) = cos^2(((u + s)/(1 + s)) pi/2), s = 0.008
 *             (Nichol & Dhariwal 2021, "Improved DDPM")
 *    mask   : alphabar(u) = 1 - u   (masked diffusion: Dream, LLaDA, MDLM)
 *  w proportional to alphabar (time_weight alphabar) or uniform, normalised to sum 1.
 *  When every alphabar underflows to 0 the weights fall back to uniform (documented).  */
void aq_time_weights(aq_schedule sched, aq_time_weight tw, int T, int T_ref, double *w,
                     double *alphabar);

/*-*********************************************
 *  Expected activation quantization error (Gaussian model)
 ***********************************************/

/*! aq_gauss_err() :
 *  c(lo, hi) for an input ~ N(mean, std^2) quantized with `amax` steps on [lo, hi]:
 *    rounding noise  scale^2/12 * P(lo <= x <= hi)
 *  + clipping error  E[(x - lo)^2; x < lo] + E[(x - hi)^2; x > hi]   (closed form with the
 *                    normal pdf/cdf; std = 0 handled as a point mass)
 *  and, when dlo/dhi are not NULL, its exact partial derivatives.  Requires hi > lo. */
double aq_gauss_err(double mean, double std, double lo, double hi, int amax, double *dlo,
                    double *dhi);

/*-*********************************************
 *  Error model built from the calibration statistics (docs/PHASES.md, "Expected error")
 ***********************************************/

/*! Components of the channel mixture: AQ_MIX_GAUSS log-RMS bins of channel bodies, then
 *  AQ_MIX_SPIKE log-|x| bins of point masses on each side (negative, then positive). */
#define AQ_MIX_GAUSS 12
#define AQ_MIX_SPIKE 8
#define AQ_MIX_M (AQ_MIX_GAUSS + 2 * AQ_MIX_SPIKE)

/*! aq_error_model_build() :
 *  `gaussian`: removes any mixture from `s` (M = 0: c is the Gaussian N(mean_t, std_t^2)).
 *  `mixture` : builds, from sq_mean[t][j], absmax[t][j], count, min/max and mean of every
 *  step, the per-step mixture over input channels (M = AQ_MIX_M, zero-weight components
 *  allowed).  Channel j (m2 = sq_mean, A = absmax, N = count_t/in values per channel) is a
 *  Gaussian body plus a point mass ("spike") of probability p at |x| = A:
 *    p = 1/N                       (absmax is attained by at least one of the N values),
 *    p = max(1/N, (m2 - b)/(A^2 - b)) when A > sqrt(2 ln N) sqrt(m2) (heavier-tailed than a
 *        Gaussian of that RMS can be in N draws: Gumbel extreme-value location), with
 *        b = min(m2, median_j m2) — the energy in excess of a typical channel sits at A;
 *    body energy e = (m2 - p A^2)/(1 - p) (total second moment conserved).
 *  The spike's sign: negative when A > max_t, positive when A > -min_t, else half each
 *  (clamped into [min_t, max_t]).  Bodies are binned on log e (weights (1-p)/in, component
 *  N(mean_t, mean e of the bin - mean_t^2)), spikes on log A per side (weights p/in, at the
 *  weight-RMS location of the bin).  Weights sum to 1 per step.  Sequential double
 *  arithmetic only: a pure function of the statistics (same bits on any rank/thread count).
 *  @return : AQ_OK; AQ_E_VALUE when the per-channel arrays are gone; AQ_E_NOMEM. */
aq_status aq_error_model_build(aq_layer_stats *s, aq_error_model model, aq_err *err);

/*! aq_step_err() :
 *  c(t; lo, hi) of step t: sum_m mix_w[t,m] aq_gauss_err(mix_mu, mix_sd; lo, hi) when `s`
 *  has a mixture (exact gradient: the same linear combination), else aq_gauss_err(mean_t,
 *  std_t; lo, hi).  The single entry point for every per-step error of the phases. */
double aq_step_err(const aq_layer_stats *s, int t, double lo, double hi, int amax, double *dlo,
                   double *dhi);

/*-*********************************************
 *  Time groups
 ***********************************************/

/*! aq_boundaries_uniform() : b[k] = round(k T / K) (K <= T, so groups are non-empty). */
void aq_boundaries_uniform(int T, int K, int *b);

/*! Fixed-point unit of segment costs: cost * 2^AQ_COST_FRAC_BITS as int64. */
#define AQ_COST_FRAC_BITS 32

/*! aq_segment_costs_add() :
 *  Adds one layer's costs into cost[i * (T+1) + j] for 0 <= i < j <= T: the cost of serving
 *  steps [i, j) with ONE range [min over the steps of min_t, max of max_t]:
 *  sum_{t in [i,j)} w_t c(t; lo, hi), normalised by the same sum for the single segment
 *  [0, T) so that every layer weighs alike, in int64 fixed point (so sums over ranks are
 *  exact and order-independent).  Other entries are untouched. */
void aq_segment_costs_add(const aq_layer_stats *s, const double *w, int act_bits, int64_t *cost);

/*! aq_boundaries_dp() :
 *  The K-segment partition of [0, T) into groups of at least `min_steps` steps minimising
 *  the total summed cost (dynamic programme, O(K T^2)); ties go to the earliest boundary.
 *  min_steps > 1 leaves Phase 2 room for its windows (a one-step group lends no step).
 *  @return : AQ_OK, or AQ_E_CONFIG when K > T or K * min_steps > T (or a value < 1). */
aq_status aq_boundaries_dp(const int64_t *cost, int T, int K, int min_steps, int *b, aq_err *err);

/*-*********************************************
 *  Activation parameters of one layer
 ***********************************************/

/*! aq_act_groups : per-group range and derived scale/zero; arrays owned. */
typedef struct {
    int K, act_bits;
    double *lo, *hi, *scale; /* [K] */
    int32_t *zero;           /* [K] */
} aq_act_groups;

/*! aq_act_groups_init() :
 *  lo_k/hi_k = min/max of the stats over the steps of group k (b[k]..b[k+1]), then
 *  scale/zero (a degenerate range is widened to a tiny positive width).  Allocates.
 *  @return : AQ_OK or AQ_E_NOMEM. */
aq_status aq_act_groups_init(const aq_layer_stats *s, const int *b, int K, int act_bits,
                             aq_act_groups *g, aq_err *err);
/*! aq_act_groups_derive() : recomputes scale and zero from lo/hi. */
void aq_act_groups_derive(aq_act_groups *g);
void aq_act_groups_free(aq_act_groups *g);

/*! aq_expected_error() : sum_t w_t c(t; lo(t), hi(t)) where step t uses the range of its group
 *  (sched_scale == NULL) or, when schedules are given, lo(t) = -zero(t)*scale(t),
 *  hi(t) = lo(t) + amax*scale(t). */
double aq_expected_error(const aq_layer_stats *s, const double *w, const aq_act_groups *g,
                         const int *b, const float *sched_scale, const float *sched_zero);

/*-*********************************************
 *  Phase 1 — Markov validation (monitor only)
 ***********************************************/
typedef struct {
    double smoothness;     /* mean boundary score; 1 when K = 1 */
    int violations;        /* boundaries with scale_jump > threshold */
    int high, medium, low; /* severities: > 0.5, > 0.3, else */
    double max_scale_jump;
} aq_phase1_result;

/*! aq_phase1() : scale_jump_k = |s_{k+1}-s_k|/max(s_k,s_{k+1}), zero_jump_k =
 *  |z_{k+1}-z_k|/amax, score 1 - (scale_jump+zero_jump)/2, smoothness = mean score.
 *  Never changes `g`. */
void aq_phase1(const aq_act_groups *g, double threshold, aq_phase1_result *r);

/*-*********************************************
 *  Phase 2 — boundary smoothing
 ***********************************************/
typedef struct {
    double max_jump_before, max_jump_after;         /* largest |log s(t+1) - log s(t)| */
    double expected_err_before, expected_err_after; /* aq_expected_error hard vs smoothed */
    int window;                                     /* smallest window used (after clamping) */
    int clamped;                                    /* 1 when some boundary's window shrank */
} aq_phase2_result;

/*! aq_phase2() :
 *  Per-step schedule sched_scale[T], sched_zero[T] (real-valued zero) from the ORIGINAL group
 *  values (never in place): around each boundary b_k, over `window` steps each side, log scale
 *  and zero are interpolated with v in [0, 1] across the window (linear v, cubic 3v^2-2v^3,
 *  sigmoid normalised with k = 10); elsewhere the group's value.  Windows of neighbouring
 *  boundaries never overlap: each boundary's window is clamped by its two neighbouring groups
 *  (interior groups lend floor(n/2) steps to each side, outer groups n-1; r->clamped = 1).
 *  Fills r. */
void aq_phase2(const aq_act_groups *g, const int *b, int T, aq_interp method, int window,
               const aq_layer_stats *s, const double *w, float *sched_scale, float *sched_zero,
               aq_phase2_result *r);

/*-*********************************************
 *  Phase 3 — transition optimisation (stepped)
 ***********************************************/
typedef struct {
    double markov_weight, entropy_weight, learning_rate, convergence, grad_clip;
    int max_iterations;
} aq_phase3_params;

typedef struct aq_phase3 aq_phase3;

/*! aq_phase3_create() :
 *  Optimiser for one layer's group ranges: minimises
 *    L = sum_t w_t c(t; lo_k(t), hi_k(t)) / sum_t w_t c_0(t)
 *      + markov_weight * sum_k [(log s_{k+1} - log s_k)^2 + ((z_{k+1} - z_k)/amax)^2]
 *      - entropy_weight * mean_k H_k / log(2^a)
 *  over (lo_k, log width_k) by gradient descent with analytic gradients (real-valued zero
 *  z = -lo/scale in the Markov term; H_k the entropy in nats of the code histogram of the
 *  group's w-weighted Gaussian mixture), gradient norm clipped to grad_clip.  Borrows s, w, b
 *  (they must outlive it); copies g.  @return : NULL when out of memory. */
aq_phase3 *aq_phase3_create(const aq_act_groups *g, const int *b, const aq_layer_stats *s,
                            const double *w, const aq_phase3_params *p);

/*! aq_phase3_step() :
 *  One iteration unless the layer already stopped.  Sets *changed to 1 when the parameters
 *  moved.  A layer stops (for good) when the relative loss change is below `convergence`
 *  or after max_iterations.  @return : the current loss L. */
double aq_phase3_step(aq_phase3 *o, int *changed);

/*! aq_phase3_loss() :
 *  The loss L that `o` minimises, evaluated at group ranges lo[K], hi[K] (hi > lo), and when
 *  dlo/dhi are not NULL its analytic gradient with respect to them (what the optimiser uses;
 *  for tests and diagnostics).  Uses `o`'s scratch space, hence not const; does not change
 *  the optimiser's state. */
double aq_phase3_loss(aq_phase3 *o, const double *lo, const double *hi, double *dlo, double *dhi);

/*! aq_phase3_finish() :
 *  Writes the best parameters seen (never a higher loss than the start) into `g` (same K),
 *  with iterations, convergence flag, initial and final loss; frees `o`. */
void aq_phase3_finish(aq_phase3 *o, aq_act_groups *g, int *iterations, int *converged,
                      double *initial_loss, double *final_loss);

/*! aq_importance() : h[j] = sum_t w_t sq_mean[t][j] (docs/DESIGN.md §3), j < s->in. */
void aq_importance(const aq_layer_stats *s, const double *w, float *h);

#endif /* AQ_PHASES_H */
