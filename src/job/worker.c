/* A worker's loop (ranks > 0): quantizes its plan items (units, tensors, row blocks) in plan order,
 * filters them and its 2-D passthrough tensors (aq_job_passthrough_filtered), and streams each
 * result to rank 0 while computing the next. */
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"

/* Results in flight: the worker computes its next items while rank 0 (busy with its own
 * items, which it interleaves with receiving) has not yet taken the earlier ones.  Bounded by
 * count and by bytes held, so memory stays bounded; two were too few on Dream 7B (rank 1 waited
 * 10-12 s in its sends while rank 0 worked through a long item: bench/results/dream7b_int2.md
 * run 6). */
#define AQ_IN_FLIGHT 16
#define AQ_IN_FLIGHT_BYTES ((uint64_t)1 << 30) /* 1 GiB of filtered results */

typedef struct {
    aq_pending slot[AQ_IN_FLIGHT];
    uint64_t bytes[AQ_IN_FLIGHT]; /* held payload of each slot */
    int oldest, count;
    uint64_t held; /* sum of bytes[] over the slots in use */
} in_flight;

static uint64_t payload_bytes(const aq_qresult *r) {
    uint64_t n = aq_qresult_sums_bytes(r);
    for (int i = 0; i < r->hdr.n_arrays; ++i)
        n += aq_qresult_held_bytes(r, i);
    return n;
}

/* Waits for the oldest result's payload and frees its slot. */
static void finish_oldest(aq_job *j, in_flight *f) {
    aq_pending *p = &f->slot[f->oldest];
    double t0 = MPI_Wtime();
    aq_send_result_finish(p);
    j->seconds_send += MPI_Wtime() - t0;
    p->used = 0;
    f->held -= f->bytes[f->oldest];
    f->oldest = (f->oldest + 1) % AQ_IN_FLIGHT;
    f->count--;
}

static aq_status worker_tensor(aq_job *j, size_t index, const aq_plan_item *it, in_flight *f,
                               aq_err *err) {
    while (f->count == AQ_IN_FLIGHT || (f->count > 0 && f->held > AQ_IN_FLIGHT_BYTES))
        finish_oldest(j, f);
    const int k = (f->oldest + f->count) % AQ_IN_FLIGHT;
    aq_pending *p = &f->slot[k];
    const aq_tensor *t = aq_checkpoint_tensor(j->model, index);
    aq_status st = aq_job_is_quantized(t, j->cfg)
                       ? aq_qresult_compute(j, (int64_t)index, it, &p->r, err)
                       : aq_qresult_passthrough(j, (int64_t)index, it, &p->r, err);
    if (st == AQ_OK) st = aq_qresult_prefilter(j, &p->r, err); /* chunks leave filtered */
    if (st != AQ_OK) return st;
    j->seconds_quant += p->r.hdr.seconds;
    p->used = 1;
    f->bytes[k] = payload_bytes(&p->r);
    f->held += f->bytes[k];
    f->count++;
    double t0 = MPI_Wtime();
    st = aq_send_result_start(j->comm, p, err);
    j->seconds_send += MPI_Wtime() - t0;
    return st;
}

aq_status aq_job_worker_loop(aq_job *j, aq_err *err) {
    aq_status st = AQ_OK;
    in_flight *f = calloc(1, sizeof *f); /* an empty queue */
    if (!f) st = aq_err_set(err, AQ_E_NOMEM, "rank %d: out of memory", j->rank);
    for (size_t u = 0; u < j->plan->n_items && st == AQ_OK && !j->abort_seen; ++u) {
        const aq_plan_item *it = &j->plan->items[u];
        if (it->rank != j->rank) continue;
        for (size_t k = it->first; k < it->first + it->count && st == AQ_OK; ++k) {
            size_t index = j->plan->tensor_order[k];
            const aq_tensor *t = aq_checkpoint_tensor(j->model, index);
            if (j->done[index] ||
                (!aq_job_is_quantized(t, j->cfg) && !aq_job_passthrough_filtered(t, j->cfg)))
                continue; /* the other passthrough tensors are rank 0's */
            if ((j->abort_seen = aq_abort_requested(j->comm))) break;
            if (aq_job_stop_signal(j)) {
                st = aq_err_set(err, AQ_E_INTERRUPTED, "signal %d on rank %d",
                                aq_job_stop_signal(j), j->rank);
                break;
            }
            st = worker_tensor(j, index, it, f, err);
        }
    }
    while (f && f->count > 0)
        finish_oldest(j, f); /* before END */
    free(f);
    if (st != AQ_OK && strncmp(err->msg, "rank ", 5) != 0) {
        aq_err pre = *err;
        aq_err_set(err, pre.code, "rank %d: %s", j->rank, pre.msg);
    }
    aq_send_end(j->comm, st, st != AQ_OK ? err->msg : NULL, j->rank);
    return st;
}
