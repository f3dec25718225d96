/*
 * aq-mpi — accuracy of a quantized model against the full-precision one: per position, per
 * (sequence, time step), and the means aq-eval reports.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static void add_fp_only(const float *logits_fp, int64_t vocab, int32_t target, aq_eval_acc *acc) {
    int64_t af;
    double lf = log_norm(logits_fp, vocab, &af);
    double nll = lf - logits_fp[target];
    acc->nll_fp += nll;
    acc->nll_fp_sq += nll * nll;
    acc->acc_fp += af == target;
    acc->n_nll += 1;
}

void aq_eval_position(const float *logits_fp, const float *logits_q, int64_t vocab, int32_t target,
                      int in_kl, int in_nll, aq_eval_acc *acc) {
    int valid = target >= 0 && target < vocab;
    if (!logits_q) {
        if (in_nll && valid) add_fp_only(logits_fp, vocab, target, acc);
        return;
    }
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
    if (in_nll && valid) {
        double nll = lf - logits_fp[target];
        acc->nll_fp += nll;
        acc->nll_fp_sq += nll * nll;
        acc->nll_q += lq - logits_q[target];
        acc->acc_fp += af == target;
        acc->acc_q += aq == target;
        acc->n_nll += 1;
    }
}

void aq_eval_score(const aq_llm_config *c, const int32_t *orig, const uint8_t *masked, int L,
                   const float *lf, const float *lq, aq_eval_acc *acc) {
    int first = c->logits_shift ? 1 : 0;
    for (int i = first; i < L; i++) {
        int row = c->logits_shift ? i - 1 : i;
        int in_kl = c->causal ? 1 : masked[i];
        if (!in_kl && !masked[i]) continue;
        aq_eval_position(lf + (int64_t)row * c->vocab, lq ? lq + (int64_t)row * c->vocab : NULL,
                         c->vocab, orig[i], in_kl, masked[i], acc);
    }
}

aq_eval_metrics aq_eval_finish(const aq_eval_acc *a) {
    aq_eval_metrics m = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    if (a->n_kl > 0) m.kl = a->kl / a->n_kl, m.top1 = a->top1 / a->n_kl;
    if (a->n_nll > 0) {
        m.nll_fp = a->nll_fp / a->n_nll, m.nll_q = a->nll_q / a->n_nll;
        m.acc_fp = a->acc_fp / a->n_nll, m.acc_q = a->acc_q / a->n_nll;
    }
    if (a->n_nll > 1) {
        double var = (a->nll_fp_sq - a->n_nll * m.nll_fp * m.nll_fp) / (a->n_nll - 1);
        m.nll_fp_se = sqrt((var > 0 ? var : 0) / a->n_nll);
    }
    return m;
}

aq_eval_metrics aq_eval_overall(const aq_eval_acc *acc, int T) {
    enum { K = 6 };
    double sum[K] = {0}, n[K] = {0};
    for (int t = 0; t < T; t++) {
        aq_eval_metrics m = aq_eval_finish(&acc[t]);
        double v[K] = {m.kl, m.nll_fp, m.nll_q, m.top1, m.acc_fp, m.acc_q};
        for (int k = 0; k < K; k++)
            if (!isnan(v[k])) sum[k] += v[k], n[k] += 1;
    }
    aq_eval_metrics o = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    double *out[K] = {&o.kl, &o.nll_fp, &o.nll_q, &o.top1, &o.acc_fp, &o.acc_q};
    for (int k = 0; k < K; k++)
        if (n[k] > 0) *out[k] = sum[k] / n[k];
    return o;
}

aq_status aq_eval_acc_reduce(MPI_Comm comm, const aq_eval_acc *acc, aq_eval_acc *tot, size_t n,
                             aq_err *err) {
    /* The struct is all doubles: reduce it as a flat double array. */
    int count = (int)(n * sizeof *acc / sizeof(double));
    if (MPI_Reduce(acc, tot, count, MPI_DOUBLE, MPI_SUM, 0, comm) != MPI_SUCCESS)
        return aq_err_set(err, AQ_E_MPI, "MPI_Reduce of the accuracy sums failed");
    return AQ_OK;
}

aq_status aq_eval_bufs_alloc(const aq_run *r, int L, aq_eval_bufs *b, aq_err *err) {
    b->nl = r->pipe.last ? (size_t)L * (size_t)r->cfg.vocab : 1;
    b->lf = malloc(b->nl * sizeof *b->lf);
    b->lq = malloc(b->nl * sizeof *b->lq);
    b->tok = malloc((size_t)L * sizeof *b->tok);
    b->masked = malloc((size_t)L);
    aq_status st = b->lf && b->lq && b->tok && b->masked
                       ? AQ_OK
                       : aq_err_set(err, AQ_E_NOMEM, "out of memory");
    return aq_agree(r->pipe.comm, st, "allocation", err);
}

void aq_eval_bufs_free(aq_eval_bufs *b) {
    free(b->lf);
    free(b->lq);
    free(b->tok);
    free(b->masked);
    memset(b, 0, sizeof *b);
}
