/*
 * aq-mpi — the Phase 3 loss and its analytic gradient in the group ranges (docs/DESIGN.md §4, Phase
 * 3): L = E/E0 + markov_weight * M - entropy_weight * mean_k H_k / log(2^a) E = sum_t w_t c(t;
 * lo_k(t), hi_k(t)), M = sum_k (log s_{k+1} - log s_k)^2 + (u_{k+1} - u_k)^2 with u = z/amax =
 * -lo/(hi - lo) (the real-valued zero, unclamped so that M is smooth); c(t) is aq_step_err(): the
 * layer's error model (Gaussian or channel mixture). H_k is the entropy (nats) of the codes of the
 * group's w-weighted mixture of the per-step Gaussians N(mean_t, std_t^2) (whatever the error
 * model: a regulariser only): code q collects [e_q, e_{q+1}) with e_q = lo + (q - 1/2) s for q
 * = 1..amax, e_0 = -inf and e_{amax+1} = +inf (clipped mass lands in codes 0 and amax).  With F_q
 * the mixture mass below e_q, P_q = (F_{q+1} - F_q)/W and dH/dF_q = (log P_q - log P_{q-1})/W (sum
 * P = 1, so the
 * "+1" of d(-P log P) cancels); dF_q/de_q = W * mixture density at e_q.
 * Cost: O(T) evaluations of c plus O(2^a T) of the normal cdf (entropy term only).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "phases_internal.h"

static double error_term(aq_phase3 *o, const double *lo, const double *hi, double *dlo,
                         double *dhi) {
    double e = 0.0;
    for (int t = 0; t < o->s->T; ++t) {
        int k = aq_group_of(o->b, o->K, t);
        double cl, ch;
        double c = aq_step_err(o->s, t, lo[k], hi[k], o->amax, dlo ? &cl : NULL, dlo ? &ch : NULL);
        e += o->w[t] * c;
        if (dlo) {
            dlo[k] += o->w[t] * cl / o->E0;
            dhi[k] += o->w[t] * ch / o->E0;
        }
    }
    return e / o->E0;
}

/* Markov term with coefficient mw; gradient added into dlo/dhi. */
static double markov_term(const aq_phase3 *o, const double *lo, const double *hi, double mw,
                          double *dlo, double *dhi) {
    double m = 0.0;
    for (int k = 0; k + 1 < o->K; ++k) {
        double w0 = hi[k] - lo[k], w1 = hi[k + 1] - lo[k + 1];
        double D = log(w1) - log(w0);
        double Z = -lo[k + 1] / w1 + lo[k] / w0;
        m += D * D + Z * Z;
        if (!dlo) continue;
        double gD = 2.0 * mw * D, gZ = 2.0 * mw * Z;
        /* d log w / dlo = -1/w, d log w / dhi = 1/w; du/dlo = -hi/w^2, du/dhi = lo/w^2. */
        dlo[k] += gD / w0 - gZ * (-hi[k] / (w0 * w0));
        dhi[k] += -gD / w0 - gZ * (lo[k] / (w0 * w0));
        dlo[k + 1] += -gD / w1 + gZ * (-hi[k + 1] / (w1 * w1));
        dhi[k + 1] += gD / w1 + gZ * (lo[k + 1] / (w1 * w1));
    }
    return mw * m;
}

/* F[q], pdf[q] for edges q = 1..amax of group k; returns W = sum of the group's weights. */
static double mixture_at_edges(aq_phase3 *o, int k, double lo, double sc) {
    double W = 0.0;
    for (int q = 0; q <= o->amax + 1; ++q)
        o->F[q] = o->pdf[q] = 0.0;
    for (int t = o->b[k]; t < o->b[k + 1]; ++t) {
        double wt = o->w[t], mu = o->s->mean[t], sd = o->s->std[t];
        int point = !(sd > 0.0) || !isfinite(sd);
        W += wt;
        for (int q = 1; q <= o->amax; ++q) {
            double e = lo + (q - 0.5) * sc;
            if (point) {
                o->F[q] += mu < e ? wt : 0.0;
                continue;
            }
            double z = (e - mu) / sd;
            o->F[q] += wt * aq_ncdf(z);
            o->pdf[q] += wt * aq_npdf(z) / sd;
        }
    }
    o->F[o->amax + 1] = W;
    return W;
}

static double safe_log(double p) {
    return log(p > DBL_MIN ? p : DBL_MIN);
}

/* H_k in nats; adds coef * dH/dlo, coef * dH/dhi when dlo is not NULL. */
static double group_entropy(aq_phase3 *o, int k, double lo, double hi, double coef, double *dlo,
                            double *dhi) {
    double sc = (hi - lo) / o->amax;
    double W = mixture_at_edges(o, k, lo, sc);
    if (!(W > 0.0)) return 0.0;
    double H = 0.0;
    for (int q = 0; q <= o->amax; ++q) {
        double P = (o->F[q + 1] - o->F[q]) / W;
        if (P > 0.0) H -= P * log(P);
    }
    if (!dlo) return H;
    for (int q = 1; q <= o->amax; ++q) {
        if (o->pdf[q] == 0.0) continue;
        double Pl = fmax((o->F[q] - o->F[q - 1]) / W, 0.0);
        double Pr = fmax((o->F[q + 1] - o->F[q]) / W, 0.0);
        double dHde = (safe_log(Pr) - safe_log(Pl)) / W * o->pdf[q];
        double f = (q - 0.5) / o->amax; /* e_q = (1 - f) lo + f hi */
        *dlo += coef * dHde * (1.0 - f);
        *dhi += coef * dHde * f;
    }
    return H;
}

double aq_phase3_loss(aq_phase3 *o, const double *lo, const double *hi, double *dlo, double *dhi) {
    if (dlo) {
        memset(dlo, 0, (size_t)o->K * sizeof *dlo);
        memset(dhi, 0, (size_t)o->K * sizeof *dhi);
    }
    double L = error_term(o, lo, hi, dlo, dhi);
    if (o->p.markov_weight != 0.0) L += markov_term(o, lo, hi, o->p.markov_weight, dlo, dhi);
    if (o->p.entropy_weight != 0.0) {
        double coef = -o->p.entropy_weight / (o->K * o->act_bits * log(2.0));
        double H = 0.0;
        for (int k = 0; k < o->K; ++k)
            H +=
                group_entropy(o, k, lo[k], hi[k], coef, dlo ? &dlo[k] : NULL, dhi ? &dhi[k] : NULL);
        L += coef * H;
    }
    return L;
}
