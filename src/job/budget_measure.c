/* Mixed precision under a size budget (issue 8): the measurement, collective.
 *
 * Each rank quantizes its layers at every candidate width (the format's widths, aq/qformat.h) and
 * measures the importance-weighted relative error (weighted_rel_err, docs/DESIGN.md §3), or takes
 * each layer's KL at each width from aq-eval --layer-kl (quant.budget_kl_path); MPI_Allgatherv
 * gives every rank the whole table in tensor order, and every rank runs the same allocation
 * (aq_budget_allocate, src/plan/budget.c), so the widths are identical for any rank count.
 * With quant.format the candidates are ggml formats instead of widths: each tensor's chain from
 * quant.format (aq_qformat_budget_candidates: Q2_K..Q6_K, Q8_0, or Q4_0..Q5_1, Q8_0 for rows
 * that fall back to 32-weight blocks), bytes the exact stored bytes of each format, sensitivity
 * the weighted_rel_err of each times the tensor's weights (quant.budget_kl_path is refused with
 * quant.format, config.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/budget.h"
#include "aq/job.h"
#include "aq/qformat.h"
#include "job_internal.h"

/* Candidate widths, narrowest first: the format's (aq/qformat.h): 2/4/8, and 2/3/4/8 with
 * the dq layout (the only one with 3-bit codes). */
#define MAX_W AQ_BUDGET_MAX_WIDTHS

static const int *widths(const aq_config *c, int *n) {
    const aq_qformat *f = aq_qformat_of(&c->quant);
    *n = f ? (f->n_widths < MAX_W ? f->n_widths : MAX_W) : 0;
    return f ? f->widths : NULL;
}

/* One layer's row of the table: weighted_rel_err (or KL) and stored bytes at each width. */
typedef aq_budget_layer record;

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
        rec->bytes[w] = (double)aq_qformat_tensor_bytes(&p, rows, cols);
        char all[32];
        if (!aq_kl_table_find(&j->kl, t->name, W[w], &rec->err[w]))
            return aq_err_set(
                err, AQ_E_CONFIG,
                "quant.budget_kl_path %s: no KL for tensor %s at %d bits (run "
                "aq-eval --layer-kl on a result at every width: %s)",
                j->cfg->budget_kl_path, t->name, W[w],
                aq_qformat_widths_text(aq_qformat_of(&j->cfg->quant), NULL, all, sizeof all));
    }
    return AQ_OK;
}

/* The same across ggml's formats: the tensor's KL in each format of its chain (looked up by
 * name and format name), bytes the stored blocks of each format. */
static aq_status measure_kl_formats(const aq_job *j, const aq_tensor *t, record *rec, aq_err *err) {
    int64_t rows, cols;
    aq_tensor_view(t, &rows, &cols);
    int fmt[AQ_QF_MAX_CANDIDATES] = {0};
    const int nw = aq_qformat_budget_candidates(j->cfg->quant.format, cols, fmt);
    rec->n_levels = nw;
    for (int w = 0; w < nw; ++w) {
        aq_quant_params p = j->cfg->quant;
        p.format = fmt[w];
        p.bits = aq_qformat_get(fmt[w])->widths[0];
        rec->format[w] = fmt[w];
        rec->bytes[w] = (double)aq_qformat_tensor_bytes(&p, rows, cols);
        const char *name = aq_qformat_get(fmt[w])->name;
        if (!aq_kl_table_find_format(&j->kl, t->name, name, &rec->err[w]))
            return aq_err_set(err, AQ_E_CONFIG,
                              "quant.budget_kl_path %s: no KL for tensor %s in format %s (run "
                              "aq-eval --layer-kl on a result in every format of its chain "
                              "from %s up, with quant.embeddings = true)",
                              j->cfg->budget_kl_path, t->name, name,
                              aq_qformat_get(j->cfg->quant.format)->name);
    }
    return AQ_OK;
}

static aq_status measure(const aq_job *j, size_t index, record *rec, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, index);
    rec->tensor = (int64_t)index;
    if (j->cfg->budget_kl_path[0] && j->cfg->quant.format)
        return measure_kl_formats(j, t, rec, err);
    if (j->cfg->budget_kl_path[0]) return measure_kl(j, t, rec, err);
    int64_t rows, cols;
    aq_tensor_view(t, &rows, &cols);
    float *h = NULL;
    aq_status st = aq_job_importance(j, t, cols, &h, err);
    int nw = 0, fmt[AQ_QF_MAX_CANDIDATES] = {0};
    const int *W = widths(j->cfg, &nw);
    if (j->cfg->quant.format) { /* ggml formats: this tensor's chain (aq/qformat.h) */
        nw = aq_qformat_budget_candidates(j->cfg->quant.format, cols, fmt);
        rec->n_levels = nw;
    }
    for (int w = 0; w < nw && st == AQ_OK; ++w) {
        aq_qresult r;
        memset(&r, 0, sizeof r);
        r.hdr.rows = rows;
        r.hdr.cols = cols;
        r.hdr.format = fmt[w];
        rec->format[w] = fmt[w];
        st = aq_quantize_at(j, t, fmt[w] ? aq_qformat_get(fmt[w])->widths[0] : W[w], h, &r, err);
        if (st != AQ_OK) break;
        /* ggml formats: the relative error times the tensor's weights, so that the sum over
         * tensors is the model's total (importance-weighted) squared error for equal-energy
         * weights; without it a large tensor (embedding, output) counts as much as a small
         * one and is the first to lose bits (docs/BITS.md §3b) */
        rec->err[w] = r.hdr.metrics.weighted_rel_err * (fmt[w] ? (double)t->numel : 1.0);
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
    j->formats = calloc(aq_checkpoint_count(j->model) + 1, 1);
    if (st == AQ_OK && (!level || !j->bits || !j->formats))
        st = aq_err_set(err, AQ_E_NOMEM, "budget: out of memory");
    if (st == AQ_OK) {
        qsort(all, (size_t)total, sizeof *all, by_tensor); /* rank order -> tensor order */
        double weights = 0.0;
        for (int i = 0; i < total; ++i)
            weights += (double)aq_checkpoint_tensor(j->model, (size_t)all[i].tensor)->numel;
        int nw = 0;
        const int *W = widths(j->cfg, &nw);
        if (j->cfg->quant.format) nw = AQ_BUDGET_MAX_WIDTHS; /* each record has n_levels */
        double got =
            aq_budget_allocate(all, (size_t)total, nw, j->cfg->budget_bits * weights / 8.0, level);
        j->budget_achieved = weights > 0 ? 8.0 * got / weights : 0.0;
        for (int i = 0; i < total; ++i) {
            const int id = all[i].format[level[i]];
            j->formats[all[i].tensor] = (uint8_t)id;
            j->bits[all[i].tensor] = (uint8_t)(id ? aq_qformat_get(id)->widths[0] : W[level[i]]);
        }
        if (j->budget_achieved > j->cfg->budget_bits * (1 + 1e-9))
            st = aq_err_set(err, AQ_E_CONFIG,
                            "quant.budget_bits = %g is below the smallest size "
                            "(%.3f bits/weight with every layer at its narrowest %s)",
                            j->cfg->budget_bits, j->budget_achieved,
                            j->cfg->quant.format ? "format" : "width");
    }
    free(mine), free(all), free(level);
    return aq_mpi_agree(j->comm, st, err);
}
