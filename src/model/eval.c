/*
 * aq-mpi — accuracy of a quantized model against the full-precision one, per position.
 */
#include <math.h>

#include "aq/model.h"

/* log-sum-exp of logits (max subtracted, double accumulation) and the first argmax. */
static double log_norm(const float *z, int64_t n, int64_t *arg) {
    int64_t b = 0;
    for (int64_t j = 1; j < n; j++)
        if (z[j] > z[b]) b = j;
    double s = 0;
    for (int64_t j = 0; j < n; j++)
        s += exp((double)z[j] - z[b]);
    *arg = b;
    return z[b] + log(s);
}

void aq_eval_position(const float *logits_fp, const float *logits_q, int64_t vocab, int32_t target,
                      int in_kl, int in_nll, aq_eval_acc *acc) {
    int64_t af, aq;
    double lf = log_norm(logits_fp, vocab, &af), lq = log_norm(logits_q, vocab, &aq);
    if (in_kl) {
        double kl = 0;
        for (int64_t j = 0; j < vocab; j++) {
            double lpf = logits_fp[j] - lf, lpq = logits_q[j] - lq;
            kl += exp(lpf) * (lpf - lpq);
        }
        acc->kl += kl > 0 ? kl : 0; /* rounding can make a zero KL slightly negative */
        acc->top1 += af == aq;
        acc->n_kl += 1;
    }
    if (in_nll && target >= 0 && target < vocab) {
        acc->nll_fp += lf - logits_fp[target];
        acc->nll_q += lq - logits_q[target];
        acc->n_nll += 1;
    }
}
