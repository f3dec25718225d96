/* The plan: built on every rank from the model, rank 0's partition broadcast so that every
 * rank works from the same unit -> rank assignment; then the weight items (row-sharding,
 * issue 16) and their owners the same way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* GPTQ: every tensor may be cut.  A row block's owner needs the layer's factorized Hessian
 * (~cols^3 / 3 flops); for q/k/v/o, gate/up and lm_head that is small beside the tensor's
 * update pass and each owner makes its own; a tensor with more columns than rows (Dream 7B's
 * down_proj: factorization 26 s beside a 21 s pass) is cut only by aq_plan_spread() with its
 * factorization as the piece's head: block 0's owner makes it and sends it to the other
 * blocks' owners (gptq_share.c), see cost_gptq. */
static int64_t granule_gptq(const aq_tensor *t, const void *ctx) {
    return granule(t, ctx);
}

/* GPTQ's balance weight: estimated nanoseconds, because its cost is far from proportional to
 * bytes (Dream 7B: down_proj holds 29 % of a block's weights and ~72 % of its GPTQ time).
 * Fitted to bench/results/gptq_dream7b_synthetic.txt (this AVX2 host, 2 threads; each shape
 * within ~10 %): the group search 9.5 ns per weight; the update pass rows x cols^2 flops at
 * 32.9 GFLOP/s for 3584 columns and 61.4 for 18944 (longer panels), interpolated as a power
 * of cols; the factorization cols^3 / 3 flops at 87 GFLOP/s for 18944 columns, 50 for
 * 3584, counted on the tensors with more columns than rows as the head (paid once, shared by
 * their blocks' owners), on the others for every block (each owner makes its own).  A
 * tensor without a Hessian: the search; a 2-D passthrough tensor: filtered at 0.36 GB/s (2.8
 * ns per byte, docs/SCALING.md 5b).  Only the ratios matter: every rank runs the same code. */
static uint64_t cost_gptq(const aq_tensor *t, const void *ctx, uint64_t *head, uint64_t *each) {
    int64_t rows, cols;
    aq_tensor_view(t, &rows, &cols);
    const double w = (double)rows * (double)cols, n = (double)cols;
    char layer[256];
    if (!aq_job_is_quantized(t, ctx)) return (uint64_t)(2.8 * (double)t->nbytes);
    if (!aq_job_gptq_layer(t->name, layer, sizeof layer)) return (uint64_t)(9.5 * w);
    const double gflops = 32.9 * pow(n / 3584.0, 0.375); /* 61.4 at 18944 */
    double ns = 9.5 * w + w * n / gflops;
    const double factor = n * n * n / 3.0 / (cols > rows ? 87.0 : 50.0);
    if (cols > rows && strcmp(t->name, "lm_head.weight") != 0) { /* made once, shared */
        *head = (uint64_t)factor;
        ns += (double)*head;
    } else { /* every block's owner makes its own (q/k/v and gate/up share one per rank) */
        *each = (uint64_t)factor;
        ns += (double)*each;
    }
    return (uint64_t)ns;
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
                       j->cfg->gptq ? cost_gptq : NULL, j->cfg, err);
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
