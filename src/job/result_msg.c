/* Point-to-point protocol between the workers and rank 0 (the writer), tags and message order
 * in aq/mpi_tags.h: per quantized tensor a header then its arrays, finally one MSG_END header
 * with the worker's status.  Payloads go in pieces of at most 1 GiB, as MPI counts are int. */
#include <string.h>

#include "aq/job.h"
#include "job_internal.h"

#define PIECE ((uint64_t)1 << 30)

static int send_bytes(MPI_Comm comm, const void *buf, uint64_t n, int tag) {
    const char *p = buf;
    do {
        int k = (int)(n < PIECE ? n : PIECE);
        if (MPI_Send(p, k, MPI_BYTE, 0, tag, comm) != MPI_SUCCESS) return -1;
        p += k;
        n -= (uint64_t)k;
    } while (n > 0);
    return 0;
}

static int recv_bytes(MPI_Comm comm, void *buf, uint64_t n, int src, int tag) {
    char *p = buf;
    do {
        int k = (int)(n < PIECE ? n : PIECE);
        if (MPI_Recv(p, k, MPI_BYTE, src, tag, comm, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
        p += k;
        n -= (uint64_t)k;
    } while (n > 0);
    return 0;
}

/* Non-blocking twin of send_bytes: appends its requests to p->req. */
static int isend_bytes(MPI_Comm comm, const void *buf, uint64_t n, int tag, aq_pending *p) {
    const char *b = buf;
    do {
        int k = (int)(n < PIECE ? n : PIECE);
        if (p->n == AQ_PENDING_REQS) return -1;
        if (MPI_Isend(b, k, MPI_BYTE, 0, tag, comm, &p->req[p->n++]) != MPI_SUCCESS) return -1;
        b += k;
        n -= (uint64_t)k;
    } while (n > 0);
    return 0;
}

aq_status aq_send_result_start(MPI_Comm comm, aq_pending *p, aq_err *err) {
    const aq_qresult *r = &p->r;
    p->n = 0;
    /* Header too is non-blocking: Open MPI's shared-memory transport (vader) makes even a
     * 1.2 KB MPI_Send wait for rank 0's receive once an earlier message is unmatched, and rank 0
     * receives only between its own tensors (measured: seconds per result on Dream-7B). */
    int bad = isend_bytes(comm, &r->hdr, sizeof r->hdr, AQ_TAG_RESULT, p);
    for (int i = 0; !bad && i < r->hdr.n_arrays; ++i)
        bad =
            isend_bytes(comm, r->arr[i], aq_qresult_held_bytes(r, i), AQ_TAG_RESULT_ARRAY0 + i, p);
    if (!bad && aq_qresult_sums_bytes(r))
        bad = isend_bytes(comm, r->sums, aq_qresult_sums_bytes(r), AQ_TAG_RESULT_SUMS, p);
    if (bad)
        return aq_err_set(err, AQ_E_MPI, "rank %d: sending tensor %lld to rank 0 failed",
                          r->hdr.rank, (long long)r->hdr.tensor);
    return AQ_OK;
}

void aq_send_result_finish(aq_pending *p) {
    if (p->n) MPI_Waitall(p->n, p->req, MPI_STATUSES_IGNORE);
    p->n = 0;
    aq_qresult_free(&p->r);
}

int aq_send_result_test(aq_pending *p) {
    int done = 1;
    if (p->n) MPI_Testall(p->n, p->req, &done, MPI_STATUSES_IGNORE);
    if (done) aq_send_result_finish(p);
    return done;
}

aq_status aq_send_end(MPI_Comm comm, aq_status st, const char *msg, int rank) {
    aq_msg_hdr h;
    memset(&h, 0, sizeof h);
    h.kind = MSG_END;
    h.status = st;
    h.rank = rank;
    h.tensor = -1;
    if (msg) strncpy(h.msg, msg, sizeof h.msg - 1);
    return send_bytes(comm, &h, sizeof h, AQ_TAG_RESULT) ? AQ_E_MPI : AQ_OK;
}

aq_status aq_recv_message(MPI_Comm comm, aq_qresult *r, aq_err *err) {
    MPI_Status s;
    memset(r, 0, sizeof *r);
    if (MPI_Recv(&r->hdr, (int)sizeof r->hdr, MPI_BYTE, MPI_ANY_SOURCE, AQ_TAG_RESULT, comm, &s) !=
        MPI_SUCCESS)
        return aq_err_set(err, AQ_E_MPI, "rank 0: receiving a result header failed");
    if (r->hdr.kind != MSG_RESULT) return AQ_OK;
    int src = s.MPI_SOURCE;
    aq_status st = aq_qresult_alloc(r, "(received)", err);
    if (st != AQ_OK) return st;
    int bad = 0;
    for (int i = 0; !bad && i < r->hdr.n_arrays; ++i)
        bad =
            recv_bytes(comm, r->arr[i], aq_qresult_held_bytes(r, i), src, AQ_TAG_RESULT_ARRAY0 + i);
    if (!bad && r->sums)
        bad = recv_bytes(comm, r->sums, aq_qresult_sums_bytes(r), src, AQ_TAG_RESULT_SUMS);
    if (bad) {
        aq_qresult_free(r);
        return aq_err_set(err, AQ_E_MPI, "rank 0: receiving tensor %lld from rank %d failed",
                          (long long)r->hdr.tensor, src);
    }
    return AQ_OK;
}

/* One MPI_Iprobe runs one progress pass, and a message that arrived while this rank computed is
 * often matched only by a later pass: one probe missed waiting results, and rank 0 went back
 * to computing for another tensor while the worker stalled (Open MPI 4.1, vader).  A few
 * passes cost microseconds. */
#define AQ_PROBE_PASSES 4

int aq_message_waiting(MPI_Comm comm) {
    int flag = 0;
    for (int i = 0; i < AQ_PROBE_PASSES && !flag; ++i)
        MPI_Iprobe(MPI_ANY_SOURCE, AQ_TAG_RESULT, comm, &flag, MPI_STATUS_IGNORE);
    return flag;
}

int aq_abort_requested(MPI_Comm comm) {
    int flag = 0;
    for (int i = 0; i < AQ_PROBE_PASSES && !flag; ++i)
        MPI_Iprobe(0, AQ_TAG_ABORT, comm, &flag, MPI_STATUS_IGNORE);
    if (flag) aq_recv_abort(comm);
    return flag;
}

void aq_send_abort(MPI_Comm comm, int to) {
    int one = 1;
    MPI_Send(&one, 1, MPI_INT, to, AQ_TAG_ABORT, comm);
}

void aq_recv_abort(MPI_Comm comm) {
    int v;
    MPI_Recv(&v, 1, MPI_INT, 0, AQ_TAG_ABORT, comm, MPI_STATUS_IGNORE);
}
