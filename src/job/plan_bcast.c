/* The plan: built on every rank from the model, rank 0's partition broadcast so that every
 * rank works from the same unit -> rank assignment; then the weight items (row-sharding,
 * issue 16) and their owners the same way. */
#include <stdlib.h>

#include "aq/h5out.h"
#include "aq/job.h"
#include "job_internal.h"

/* Work: tensors to quantize, and the 2-D passthrough tensors their owner filters (a byte
 * to compress counted like a byte to quantize). */
static int is_work(const aq_tensor *t, const void *cfg) {
    return aq_job_is_quantized(t, cfg) || aq_job_passthrough_filtered(t, cfg);
}

/* Rows at which a tensor may be cut: a 2-D passthrough tensor at its dataset's chunk rows; a
 * quantized one at the largest chunk rows of its arrays at any width of its format, or any
 * ggml format the budget may choose (all powers of two, aq_h5_chunk_rows), so every block
 * holds whole chunks of every array whatever the budget gives it; 0 when one chunk spans it. */
static int64_t granule(const aq_tensor *t, const void *ctx) {
    const aq_config *cfg = ctx;
    int64_t rows, cols, g = 1;
    aq_tensor_view(t, &rows, &cols);
    if (aq_job_passthrough_filtered(t, cfg)) { /* its one dataset's chunk rows */
        g = aq_h5_chunk_rows(rows, cols, aq_dtype_size(t->dtype));
        return g < rows ? g : 0;
    }
    if (!aq_job_is_quantized(t, cfg)) return 0;
    const aq_qformat *f = aq_qformat_of(&cfg->quant);
    int fmt[AQ_QF_MAX_CANDIDATES] = {0}, n = f ? f->n_widths : 0;
    if (cfg->quant.format && cfg->budget_bits > 0) /* any format the budget may choose */
        n = aq_qformat_budget_candidates(cfg->quant.format, cols, fmt);
    else if (cfg->quant.format) /* quant.format, or its row-length fallback */
        n = 1, fmt[0] = aq_qformat_fallback(cfg->quant.format, cols);
    for (int w = 0; f && w < n; ++w) {
        aq_quant_params p = cfg->quant;
        p.bits = fmt[w] ? aq_qformat_get(fmt[w])->widths[0] : f->widths[w];
        if (fmt[w]) p.format = fmt[w];
        aq_qarray a[AQ_QF_MAX_ARRAYS];
        const int na = aq_qformat_arrays(&p, cols, a);
        for (int i = 0; i < na; ++i) {
            const int64_t c = aq_h5_chunk_rows(rows, a[i].row_elems, aq_elem_size(a[i].elem));
            if (c > g) g = c;
        }
    }
    return g < rows ? g : 0;
}

/* With quant.fallback (it decides per tensor on the whole tensor's metrics) quantized tensors
 * stay whole: large units are still split into one item per tensor and 2-D passthrough
 * tensors still cut at their chunk rows. */
static int64_t granule_whole(const aq_tensor *t, const void *ctx) {
    return aq_job_is_quantized(t, ctx) ? 0 : granule(t, ctx);
}

/* GPTQ: every row block's owner factorizes the layer's Hessian (~cols^3 / 1.5 flops) before
 * its share of the updates (~2 rows cols^2 over the tensor), so cutting pays only where the
 * factorization is small beside the updates: a tensor with more columns than rows (Dream 7B's
 * down_proj: 18944 > 3584, factorization 1.8x its updates) stays whole; q/k/v/o, gate/up and
 * lm_head (factorization <= 1/3 of the updates) are cut as in every job (docs/SCALING.md §5b). */
static int64_t granule_gptq(const aq_tensor *t, const void *ctx) {
    int64_t rows, cols;
    aq_tensor_view(t, &rows, &cols);
    return aq_job_is_quantized(t, ctx) && cols > rows ? 0 : granule(t, ctx);
}

/* Broadcasts rank 0's n owners; every rank checks it has n of them. */
static aq_status bcast_owners(aq_job *j, size_t n_here, const char *what, int **owner,
                              aq_err *err) {
    long n = (long)n_here;
    MPI_Bcast(&n, 1, MPI_LONG, 0, j->comm);
    *owner = malloc((n_here + 1) * sizeof **owner);
    aq_status st = *owner ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    if (st == AQ_OK && n != (long)n_here)
        st = aq_err_set(err, AQ_E_MPI, "model has %zu %s here but %ld on rank 0", n_here, what, n);
    return aq_mpi_agree(j->comm, st, err);
}

aq_status aq_job_make_plan(aq_job *j, aq_err *err) {
    /* --dry-run --ranks N: the plan for N ranks, computed alike on every rank */
    const int ranks = j->opts->dry_run && j->opts->plan_ranks > 0 ? j->opts->plan_ranks : j->size;
    aq_status st = aq_plan_build(j->model, ranks, is_work, j->cfg, &j->plan, err);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return err->code;
    /* Rank 0's partition is the plan; the others check they see the same model. */
    int *owner = NULL;
    if (bcast_owners(j, j->plan->n_units, "units", &owner, err) != AQ_OK)
        return free(owner), err->code;
    for (size_t i = 0; i < j->plan->n_units; ++i)
        owner[i] = j->plan->units[i].rank;
    MPI_Bcast(owner, (int)j->plan->n_units, MPI_INT, 0, j->comm);
    st = aq_plan_assign(j->plan, owner, err);
    free(owner);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return err->code;
    /* Row blocks of a quantized tensor are merged into its metric only at the end; with
     * quant.fallback (decided on that metric) its items are whole tensors instead. */
    st = aq_plan_shard(j->plan, j->model, is_work,
                       j->cfg->fallback ? granule_whole
                       : j->cfg->gptq   ? granule_gptq
                                        : granule,
                       j->cfg, err);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return err->code;
    if (bcast_owners(j, j->plan->n_items, "plan items", &owner, err) != AQ_OK)
        return free(owner), err->code;
    for (size_t i = 0; i < j->plan->n_items; ++i)
        owner[i] = j->plan->items[i].rank;
    MPI_Bcast(owner, (int)j->plan->n_items, MPI_INT, 0, j->comm);
    st = aq_plan_assign_items(j->plan, owner, err);
    free(owner);
    return aq_mpi_agree(j->comm, st, err);
}
