/* Rank 0's loop: writes its own items (quantized tensors, 2-D passthrough tensors filtered
 * here) and the other passthrough tensors in plan order, storing the workers' filtered
 * results in between; the first failure stops the workers. */
#include <stdio.h>

#include "job_internal.h"

static void abort_workers(aq_job *j) {
    if (j->abort_sent) return;
    j->abort_sent = 1;
    for (int r = 1; r < j->size; ++r)
        aq_send_abort(j->comm, r);
}

static aq_status write_whole(aq_job *j, const aq_qresult *r, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, (size_t)r->hdr.tensor);
    aq_quant_params p = j->cfg->quant;
    p.bits = r->hdr.bits;
    p.format = r->hdr.format;
    aq_h5_quantized q = {.ndim = t->ndim,
                         .shape = t->shape,
                         .orig_dtype = t->dtype,
                         .rows = r->hdr.rows,
                         .cols = r->hdr.cols,
                         .metrics = r->hdr.metrics,
                         .fallback_from_bits = r->hdr.from_bits,
                         .fallback_from_err = r->hdr.from_err,
                         .fallback_from_kl = r->hdr.from_kl,
                         .gptq = r->hdr.gptq != 0,
                         .gptq_damp = j->cfg->gptq_damp,
                         .gptq_block = j->cfg->gptq_block,
                         .gptq_act_order = j->cfg->gptq_act_order};
    q.n_arrays = aq_qformat_arrays(&p, q.cols, q.arrays); /* the format's, in its order */
    if (q.n_arrays != r->hdr.n_arrays)
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: %d arrays received, format has %d", t->name,
                          r->hdr.n_arrays, q.n_arrays);
    q.prefiltered = r->hdr.filtered;
    for (int i = 0; i < q.n_arrays; ++i) {
        q.data[i] = r->arr[i];
        q.data_bytes[i] = r->hdr.wire_bytes[i];
    }
    q.n_attrs = aq_qformat_attrs(&p, q.attrs);
    const aq_qformat *from = aq_qformat_get(r->hdr.from_format);
    if (from && q.n_attrs < AQ_QF_MAX_ATTRS) /* quant.format's row-length fallback */
        q.attrs[q.n_attrs++] = (aq_qattr){"fallback_from_format", from->name, 0};
    if (r->hdr.budget && q.n_attrs < AQ_QF_MAX_ATTRS) /* quant.budget_bits chose the format */
        q.attrs[q.n_attrs++] = (aq_qattr){"budget_chosen", NULL, 1};
    double t0 = MPI_Wtime();
    aq_status st = aq_h5_write_quantized(j->w, t->name, &q, err);
    if (st == AQ_OK) st = aq_h5_flush(j->w, err); /* a resumable partial if we die later */
    j->tally.t_write += MPI_Wtime() - t0;
    if (st == AQ_OK) aq_report_quantized(&j->tally, t, r, j->cfg);
    return st;
}

/* A passthrough tensor filtered by its owner rank: rank 0 stores its chunks. */
static aq_status write_passthrough_blob(aq_job *j, const aq_qresult *r, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, (size_t)r->hdr.tensor);
    if (!r->hdr.filtered || r->hdr.n_arrays != 1 || !aq_job_passthrough_filtered(t, j->cfg))
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: unexpected passthrough result", t->name);
    const aq_qformat *f = aq_qformat_get(j->cfg->quant.format);
    const aq_qattr note = {"fallback_from_format", f ? f->name : NULL, 0};
    const int n_note = f && aq_job_passthrough_by_format(t, j->cfg);
    double t0 = MPI_Wtime();
    aq_status st =
        aq_h5_write_passthrough_prefiltered(j->w, t->name, t->dtype, t->ndim, t->shape, r->arr[0],
                                            r->hdr.wire_bytes[0], &note, n_note, err);
    if (st == AQ_OK) st = aq_h5_flush(j->w, err);
    j->tally.t_write += MPI_Wtime() - t0;
    j->tally.t_write_pass += MPI_Wtime() - t0;
    if (st == AQ_OK) aq_report_passthrough(&j->tally, t, j->cfg, r->hdr.rank);
    return st;
}

/* A whole tensor is written; a row block waits for its siblings (assemble.c: r is moved
 * there and left empty), and the last one writes the joined tensor.  The caller frees r
 * either way. */
static aq_status write_result(aq_job *j, aq_qresult *r, aq_err *err) {
    if (r->hdr.n_blocks <= 1)
        return r->hdr.passthrough ? write_passthrough_blob(j, r, err) : write_whole(j, r, err);
    aq_qresult whole;
    int complete = 0;
    aq_status st = aq_assembly_add(&j->pieces, r, &whole, &complete, err);
    if (st != AQ_OK || !complete) return st;
    st = whole.hdr.passthrough ? write_passthrough_blob(j, &whole, err)
                               : write_whole(j, &whole, err);
    aq_qresult_free(&whole);
    return st;
}

static aq_status write_passthrough(aq_job *j, const aq_tensor *t, aq_err *err) {
    aq_status st = aq_check_finite(t, err);
    if (st != AQ_OK) return st;
    double t0 = MPI_Wtime();
    /* quant.format's fallback to passthrough: no ggml block fits the rows (select.c) */
    const aq_qformat *f = aq_qformat_get(j->cfg->quant.format);
    const aq_qattr note = {"fallback_from_format", f ? f->name : NULL, 0};
    const int n_note = f && aq_job_passthrough_by_format(t, j->cfg);
    st = aq_h5_write_passthrough_ex(j->w, t->name, t->dtype, t->ndim, t->shape, t->data, &note,
                                    n_note, err);
    aq_tensor_release(t);
    if (st == AQ_OK) st = aq_h5_flush(j->w, err);
    j->tally.t_write += MPI_Wtime() - t0;
    j->tally.t_write_pass += MPI_Wtime() - t0;
    if (st == AQ_OK) aq_report_passthrough(&j->tally, t, j->cfg, 0);
    return st;
}

/* The message a user reads after SIGUSR1/SIGTERM, whichever rank saw it first. */
static aq_status interrupted(aq_job *j, const char *where, aq_err *err) {
    return aq_err_set(err, AQ_E_INTERRUPTED,
                      "interrupted by %s after %zu of %zu tensors; %s.partial kept: run the "
                      "same job again with --resume",
                      where, j->tally.n_done, j->tally.n_total, j->cfg->output_path);
}

static aq_status interrupted_here(aq_job *j, aq_err *err) {
    char where[64];
    snprintf(where, sizeof where, "signal %d", aq_job_stop_signal(j));
    return interrupted(j, where, err);
}

/* Handles one incoming message; records the first failure in *st / err. */
static void handle_message(aq_job *j, int *ends, aq_status *st, aq_err *err) {
    aq_qresult r;
    aq_err tmp = {0};
    aq_job_trace(j, "receive", -1, 0);
    aq_status rs = aq_recv_message(j->comm, &r, &tmp);
    aq_job_trace(j, "received", r.hdr.kind == MSG_RESULT ? r.hdr.tensor : -1, 0);
    if (rs == AQ_OK && r.hdr.kind == MSG_END) {
        ++*ends;
        rs = (aq_status)r.hdr.status;
        if (rs == AQ_E_INTERRUPTED)
            interrupted(j, r.hdr.msg, &tmp);
        else if (rs != AQ_OK)
            aq_err_set(&tmp, rs, "%s", r.hdr.msg);
    } else if (rs == AQ_OK && *st == AQ_OK) {
        const int64_t tensor = r.hdr.tensor; /* a row block is moved out by write_result */
        rs = write_result(j, &r, &tmp);
        aq_job_trace(j, "stored", tensor, 0);
    }
    aq_qresult_free(&r);
    if (rs != AQ_OK && *st == AQ_OK) {
        *st = rs;
        *err = tmp;
        abort_workers(j);
    }
}

static void drain(aq_job *j, int *ends, int blocking, aq_status *st, aq_err *err) {
    while (*ends < j->size - 1 && (blocking || aq_message_waiting(j->comm)))
        handle_message(j, ends, st, err);
}

static aq_status own_tensor(aq_job *j, size_t index, const aq_plan_item *it, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, index);
    const int pass = !aq_job_is_quantized(t, j->cfg);
    if (pass && !aq_job_passthrough_filtered(t, j->cfg)) return write_passthrough(j, t, err);
    if (it->rank != 0) return AQ_OK;
    aq_qresult r;
    aq_job_trace(j, "compute", (int64_t)index, 0);
    aq_status st = pass ? aq_qresult_passthrough(j, (int64_t)index, it, &r, err)
                        : aq_qresult_compute(j, (int64_t)index, it, &r, err);
    if (st == AQ_OK) st = aq_qresult_prefilter(j, &r, err);
    if (st != AQ_OK) return st;
    j->seconds_quant += r.hdr.seconds;
    aq_job_trace(j, "computed", (int64_t)index, 0);
    st = write_result(j, &r, err);
    aq_job_trace(j, "stored", (int64_t)index, 0);
    aq_qresult_free(&r);
    return st;
}

aq_status aq_job_writer_loop(aq_job *j, aq_err *err) {
    aq_status st = AQ_OK;
    int ends = 0;
    /* in the workers' pass order (aq_job_item_pass): rank 0 holds no block that waits */
    for (size_t q = 0; q < 3 * j->plan->n_items && st == AQ_OK; ++q) {
        const size_t u = q % j->plan->n_items;
        const aq_plan_item *it = &j->plan->items[u];
        if (aq_job_item_pass(j, u) != (int)(q / j->plan->n_items)) continue;
        for (size_t k = it->first; k < it->first + it->count && st == AQ_OK; ++k) {
            size_t index = j->plan->tensor_order[k];
            if (j->done[index]) continue;
            st = aq_job_stop_signal(j) ? interrupted_here(j, err) : own_tensor(j, index, it, err);
            if (st != AQ_OK) abort_workers(j);
            drain(j, &ends, 0, &st, err);
        }
    }
    drain(j, &ends, 1, &st, err);
    int64_t missing = -1;
    if (st == AQ_OK && aq_assembly_pending(j->pieces, &missing))
        st = aq_err_set(err, AQ_E_MPI, "tensor %s: row blocks missing after every rank ended",
                        aq_checkpoint_tensor(j->model, (size_t)missing)->name);
    return st;
}
