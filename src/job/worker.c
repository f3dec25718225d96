/* A worker's loop (ranks > 0): quantizes its plan items (units, tensors, row blocks) in plan order,
 * filters them and its 2-D passthrough tensors (aq_job_passthrough_filtered), and streams each
 * result to rank 0 while computing the next. */
#include <string.h>

#include "job_internal.h"

/* Results in flight: rank 0 receives only between its own tensors, so a worker that finishes
 * several small tensors meanwhile must not stall on them.  Bounded by count and by bytes (a
 * filtered passthrough embedding alone is ~0.9 GB on Dream-7B). */
#define AQ_IN_FLIGHT 8
#define AQ_IN_FLIGHT_BYTES ((uint64_t)1 << 30)

static void finish_slot(aq_job *j, aq_pending *p) {
    if (!p->used) return;
    double t0 = MPI_Wtime();
    aq_job_trace(j, "send_wait", p->r.hdr.tensor, 0);
    aq_send_result_finish(p);
    aq_job_trace(j, "sent", -1, 0);
    j->seconds_send += MPI_Wtime() - t0;
    p->used = 0;
}

static uint64_t held_bytes(const aq_qresult *r) {
    uint64_t n = aq_qresult_sums_bytes(r);
    for (int i = 0; i < r->hdr.n_arrays; ++i)
        n += aq_qresult_held_bytes(r, i);
    return n;
}

/* Frees the slots rank 0 has received (memory back early), returns the bytes still held. */
static uint64_t reap_slots(aq_pending *slots) {
    uint64_t held = 0;
    for (int k = 0; k < AQ_IN_FLIGHT; ++k) {
        aq_pending *p = &slots[k];
        if (p->used && aq_send_result_test(p)) p->used = 0;
        if (p->used) held += held_bytes(&p->r);
    }
    return held;
}

/* Makes slots[next] free: waits for the oldest results (ring order) while the ring is full
 * or more than AQ_IN_FLIGHT_BYTES are held. */
static void make_room(aq_job *j, aq_pending *slots, int next) {
    uint64_t held = reap_slots(slots);
    for (int k = 0; k < AQ_IN_FLIGHT && (slots[next].used || held > AQ_IN_FLIGHT_BYTES); ++k) {
        aq_pending *oldest = &slots[(next + k) % AQ_IN_FLIGHT];
        if (!oldest->used) continue;
        held -= held_bytes(&oldest->r);
        finish_slot(j, oldest);
    }
}

static aq_status worker_tensor(aq_job *j, size_t index, const aq_plan_item *it, aq_pending *slots,
                               int *next, aq_err *err) {
    make_room(j, slots, *next);
    aq_pending *p = &slots[*next];
    const aq_tensor *t = aq_checkpoint_tensor(j->model, index);
    aq_job_trace(j, "compute", (int64_t)index, 0);
    aq_status st = aq_job_is_quantized(t, j->cfg)
                       ? aq_qresult_compute(j, (int64_t)index, it, &p->r, err)
                       : aq_qresult_passthrough(j, (int64_t)index, it, &p->r, err);
    if (st == AQ_OK) st = aq_qresult_prefilter(j, &p->r, err); /* chunks leave filtered */
    if (st != AQ_OK) return st;
    j->seconds_quant += p->r.hdr.seconds;
    p->used = 1;
    aq_job_trace(j, "computed", (int64_t)index, held_bytes(&p->r));
    double t0 = MPI_Wtime();
    st = aq_send_result_start(j->comm, p, err);
    j->seconds_send += MPI_Wtime() - t0;
    *next = (*next + 1) % AQ_IN_FLIGHT;
    return st;
}

aq_status aq_job_worker_loop(aq_job *j, aq_err *err) {
    aq_status st = AQ_OK;
    aq_pending slots[AQ_IN_FLIGHT];
    int next = 0;
    memset(slots, 0, sizeof slots);
    /* pass 0: blocks whose factorization others wait for; 2: blocks that wait for one */
    for (size_t q = 0; q < 3 * j->plan->n_items && st == AQ_OK && !j->abort_seen; ++q) {
        const size_t u = q % j->plan->n_items;
        const aq_plan_item *it = &j->plan->items[u];
        if (it->rank != j->rank || aq_job_item_pass(j, u) != (int)(q / j->plan->n_items)) continue;
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
            st = worker_tensor(j, index, it, slots, &next, err);
            if (j->gptq_share && j->gptq_share->abort_seen) j->abort_seen = 1;
        }
    }
    for (int k = 0; k < AQ_IN_FLIGHT; ++k)
        finish_slot(j, &slots[k]); /* before END */
    if (st != AQ_OK && strncmp(err->msg, "rank ", 5) != 0) {
        aq_err pre = *err;
        aq_err_set(err, pre.code, "rank %d: %s", j->rank, pre.msg);
    }
    aq_send_end(j->comm, st, st != AQ_OK ? err->msg : NULL, j->rank);
    return st;
}
