/* Mixed precision under a size budget (issue 8).
 *
 * Each rank quantizes its layers at 2, 4 and 8 bits (and 3 with the dq layout) and measures the
 * importance-weighted relative error (weighted_rel_err, DESIGN 3); MPI_Allgatherv gives every rank
 * the whole table in tensor order, and every rank runs the same greedy allocation, so the widths
 * are identical for any rank count.  Allocation: start every layer at 8 bits and repeatedly take
 * the step down (8 -> 4 -> 2, or 8 -> 4 -> 3 -> 2 with the dq layout) with the smallest error
 * increase per byte saved until the payload fits quant.budget_bits (codes + scale + min), then the
 * reverse steps that still fit (the last step down may overshoot) — the marginal-return rule for
 * bit allocation over a set of quantizers (Shoham & Gersho, IEEE Trans. ASSP 36(9), 1988).  The
 * distortion summed is the layers' relative error, so every layer's output noise counts alike; ties
 * go to the lowest tensor index.  With quant.budget_kl_path the distortion is instead each layer's
 * KL from aq-eval --layer-kl (only that layer quantized, at each width), summed as if additive. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/job.h"
#include "aq/qlayout.h"
#include "job_internal.h"

/* Candidate widths, narrowest first: 2/4/8, and 2/3/4/8 with the dq layout (the only one
 * with 3-bit codes). */
#define MAX_W 4
static const int WIDTHS[MAX_W] = {2, 4, 8, 0}, WIDTHS_DQ[MAX_W] = {2, 3, 4, 8};

static const int *widths(const aq_config *c, int *n) {
    *n = c->quant.scale_dtype == AQ_SCALE_DQ ? 4 : 3;
    return c->quant.scale_dtype == AQ_SCALE_DQ ? WIDTHS_DQ : WIDTHS;
}

typedef struct {
    int64_t tensor;
    double err[MAX_W];   /* weighted_rel_err at each width */
    double bytes[MAX_W]; /* codes + scale + min (+ sub) */
} record;

/* Sensitivity from aq-eval --layer-kl (quant.budget_kl_path): the layer's KL at each width,
 * sizes from the layout alone (nothing to quantize). */
static aq_status measure_kl(const aq_job *j, const aq_tensor *t, record *rec, aq_err *err) {
    int64_t rows, cols;
    aq_tensor_view(t, &rows, &cols);
    int nw = 0;
    const int *W = widths(j->cfg, &nw);
    for (int w = 0; w < nw; ++w) {
        aq_quant_params p = j->cfg->quant;
        p.bits = W[w];
        rec->bytes[w] = (double)aq_quant_tensor_bytes(&p, rows, cols);
        if (!aq_kl_table_find(&j->kl, t->name, W[w], &rec->err[w]))
            return aq_err_set(err, AQ_E_CONFIG,
                              "quant.budget_kl_path %s: no KL for tensor %s at %d bits (run "
                              "aq-eval --layer-kl on a result at every width: %s)",
                              j->cfg->budget_kl_path, t->name, W[w],
                              nw == 4 ? "2, 3, 4 and 8" : "2, 4 and 8");
    }
    return AQ_OK;
}

static aq_status measure(const aq_job *j, size_t index, record *rec, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, index);
    rec->tensor = (int64_t)index;
    if (j->cfg->budget_kl_path[0]) return measure_kl(j, t, rec, err);
    int64_t rows, cols;
    aq_tensor_view(t, &rows, &cols);
    float *h = NULL;
    aq_status st = aq_job_importance(j, t, cols, &h, err);
    int nw = 0;
    const int *W = widths(j->cfg, &nw);
    for (int w = 0; w < nw && st == AQ_OK; ++w) {
        aq_qresult r;
        memset(&r, 0, sizeof r);
        r.hdr.rows = rows;
        r.hdr.cols = cols;
        st = aq_quantize_at(j, t, W[w], h, &r, err);
        if (st != AQ_OK) break;
        rec->err[w] = r.hdr.metrics.weighted_rel_err;
        rec->bytes[w] = (double)aq_qresult_bytes(&r);
        aq_qresult_free(&r);
    }
    free(h);
    return st;
}

/* This rank's records, in plan order. */
static aq_status measure_mine(const aq_job *j, record **out, int *n, aq_err *err) {
    *out = calloc(j->plan->n_tensors + 1, sizeof **out);
    *n = 0;
    if (!*out) return aq_err_set(err, AQ_E_NOMEM, "budget: out of memory");
    for (size_t u = 0; u < j->plan->n_units; ++u) {
        const aq_unit *unit = &j->plan->units[u];
        if (unit->rank != j->rank) continue;
        for (size_t k = unit->first; k < unit->first + unit->count; ++k) {
            size_t index = j->plan->tensor_order[k];
            if (!aq_job_is_quantized(aq_checkpoint_tensor(j->model, index), j->cfg)) continue;
            aq_status st = measure(j, index, &(*out)[*n], err);
            if (st != AQ_OK) return st;
            ++*n;
        }
    }
    return AQ_OK;
}

static aq_status gather_all(const aq_job *j, const record *mine, int n, record **all, int *total,
                            aq_err *err) {
    int *counts = calloc((size_t)j->size, sizeof *counts),
        *displs = calloc((size_t)j->size, sizeof *displs);
    int bytes = n * (int)sizeof(record);
    MPI_Allgather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, j->comm);
    *total = 0;
    for (int r = 0; r < j->size; ++r)
        displs[r] = *total, *total += counts[r];
    *all = malloc((size_t)*total + 1);
    MPI_Allgatherv(mine, bytes, MPI_BYTE, *all, counts, displs, MPI_BYTE, j->comm);
    *total /= (int)sizeof(record);
    free(counts), free(displs);
    return *all ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "budget: out of memory");
}

/* The last narrowing step may leave room: step layers back up, largest error decrease per
 * byte first, while the budget still holds.  @return : achieved bytes. */
static double fill(const record *rec, int n, int nw, double budget_bytes, double bytes,
                   int *level) {
    for (;;) {
        int best = -1;
        double best_gain = 0.0;
        for (int i = 0; i < n; ++i) {
            int l = level[i];
            if (l == nw - 1) continue;
            double extra = rec[i].bytes[l + 1] - rec[i].bytes[l];
            if (!(extra > 0) || bytes + extra > budget_bytes) continue;
            double gain = (rec[i].err[l] - rec[i].err[l + 1]) / extra;
            if (gain > best_gain) best_gain = gain, best = i;
        }
        if (best < 0) return bytes;
        bytes += rec[best].bytes[level[best] + 1] - rec[best].bytes[level[best]];
        level[best]++;
    }
}

/* The greedy allocation over nw widths; level[i] indexes them.  @return : achieved bytes. */
static double allocate(const record *rec, int n, int nw, double budget_bytes, int *level) {
    double bytes = 0.0;
    for (int i = 0; i < n; ++i)
        level[i] = nw - 1, bytes += rec[i].bytes[nw - 1];
    while (bytes > budget_bytes) {
        int best = -1;
        double best_cost = INFINITY;
        for (int i = 0; i < n; ++i) {
            if (level[i] == 0) continue;
            int l = level[i];
            double saved = rec[i].bytes[l] - rec[i].bytes[l - 1];
            double cost = saved > 0 ? (rec[i].err[l - 1] - rec[i].err[l]) / saved : INFINITY;
            if (cost < best_cost) best_cost = cost, best = i;
        }
        if (best < 0) break; /* every layer at 2 bits: the budget is below the minimum */
        bytes -= rec[best].bytes[level[best]] - rec[best].bytes[level[best] - 1];
        level[best]--;
    }
    return bytes <= budget_bytes ? fill(rec, n, nw, budget_bytes, bytes, level) : bytes;
}

static int by_tensor(const void *a, const void *b) {
    int64_t x = ((const record *)a)->tensor, y = ((const record *)b)->tensor;
    return (x > y) - (x < y);
}

aq_status aq_budget_assign(aq_job *j, aq_err *err) {
    if (j->cfg->budget_bits <= 0) return AQ_OK;
    record *mine = NULL, *all = NULL;
    int n = 0, total = 0;
    aq_status st = measure_mine(j, &mine, &n, err);
    if ((st = aq_mpi_agree(j->comm, st, err)) == AQ_OK)
        st = gather_all(j, mine, n, &all, &total, err);
    int *level = st == AQ_OK ? malloc(((size_t)total + 1) * sizeof *level) : NULL;
    j->bits = calloc(aq_checkpoint_count(j->model) + 1, 1);
    if (st == AQ_OK && (!level || !j->bits))
        st = aq_err_set(err, AQ_E_NOMEM, "budget: out of memory");
    if (st == AQ_OK) {
        qsort(all, (size_t)total, sizeof *all, by_tensor); /* rank order -> tensor order */
        double weights = 0.0;
        for (int i = 0; i < total; ++i)
            weights += (double)aq_checkpoint_tensor(j->model, (size_t)all[i].tensor)->numel;
        int nw = 0;
        const int *W = widths(j->cfg, &nw);
        double got = allocate(all, total, nw, j->cfg->budget_bits * weights / 8.0, level);
        j->budget_achieved = weights > 0 ? 8.0 * got / weights : 0.0;
        for (int i = 0; i < total; ++i)
            j->bits[all[i].tensor] = (uint8_t)W[level[i]];
        if (j->budget_achieved > j->cfg->budget_bits * (1 + 1e-9))
            st = aq_err_set(err, AQ_E_CONFIG,
                            "quant.budget_bits = %g is below the smallest size "
                            "(%.3f bits/weight with every layer at 2 bits)",
                            j->cfg->budget_bits, j->budget_achieved);
    }
    free(mine), free(all), free(level);
    return aq_mpi_agree(j->comm, st, err);
}
