/* A GPTQ factorization shared by the owners of one tensor's row blocks (aq_plan_item.shared,
 * aq_plan_spread): block 0's owner factorizes and sends it (MPI_Isend of a record and U in
 * pieces, AQ_TAG_FACTOR_*), the other blocks' owners receive it before their blocks, which
 * they schedule last (aq_job_item_pass).  Rank 0 never receives one (the plan keeps those
 * blocks off it), so its writer never waits on a worker's factorization.  Every send is
 * matched before the job's last agreement: aq_job_gptq_share_settle() (collective) drains
 * what an aborted or interrupted receiver did not take. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aq/gptq.h"
#include "job_internal.h"

/* U travels in pieces of at most this many bytes (MPI counts are int; bounded memory for
 * the settle's scratch). */
#define PIECE_BYTES ((size_t)256 << 20)

/* The record's prefix: which tensor, how many U rows per piece. */
typedef struct {
    int64_t tensor;
    int64_t piece_rows;
} share_head;

struct aq_share_send_s {
    const aq_gptq_hinv *hv; /* kept alive until the sends complete */
    aq_gptq_hinv *owned;    /* its slot let it go: free it then */
    MPI_Request *req;
    int n_req;
    unsigned char *record;
};

/* Rows of U per piece.  Test hook: AQ_TEST_FACTOR_PIECE_BYTES=N (every rank alike) makes the
 * pieces small, so a small model's factorization travels in many of them as Dream 7B's does. */
static int64_t piece_rows(int64_t n) {
    const char *env = getenv("AQ_TEST_FACTOR_PIECE_BYTES");
    const long long test = env ? strtoll(env, NULL, 10) : 0;
    const size_t bytes = test > 0 && (size_t)test < PIECE_BYTES ? (size_t)test : PIECE_BYTES;
    const int64_t r = (int64_t)(bytes / ((size_t)n * sizeof(float)));
    return r > 0 ? r : 1;
}

int aq_job_item_pass(const aq_job *j, size_t item) {
    const aq_plan_item *it = &j->plan->items[item];
    if (!it->shared) return 1;
    return it->block == 0 ? 0 : 2;
}

int aq_job_item_factor_rank(const aq_job *j, size_t item) {
    const aq_plan_item *it = &j->plan->items[item];
    return it->shared ? j->plan->items[item - (size_t)it->block].rank : -1;
}

aq_status aq_gptq_share_init(aq_gptq_share *s, int size, aq_err *err) {
    memset(s, 0, sizeof *s);
    s->size = size;
    s->sent = calloc((size_t)size, sizeof *s->sent);
    s->recvd = calloc((size_t)size, sizeof *s->recvd);
    if (!s->sent || !s->recvd) return aq_err_set(err, AQ_E_NOMEM, "GPTQ: out of memory");
    return AQ_OK;
}

static void send_free(aq_share_send *e) {
    aq_gptq_hinv_free(e->owned);
    free(e->req);
    free(e->record);
    free(e);
}

/* Drops the finished sends (wait: all of them, blocking). */
static void reap(aq_gptq_share *s, int wait) {
    size_t k = 0;
    for (size_t i = 0; i < s->n_sends; ++i) {
        aq_share_send *e = s->sends[i];
        int done = 1;
        if (wait)
            MPI_Waitall(e->n_req, e->req, MPI_STATUSES_IGNORE);
        else
            MPI_Testall(e->n_req, e->req, &done, MPI_STATUSES_IGNORE);
        if (done)
            send_free(e);
        else
            s->sends[k++] = e;
    }
    s->n_sends = k;
}

void aq_gptq_share_free(aq_gptq_share *s) {
    for (size_t i = 0; i < s->n_sends; ++i) /* only after the settle: nothing in flight */
        send_free(s->sends[i]);
    free(s->sends);
    free(s->sent);
    free(s->recvd);
    memset(s, 0, sizeof *s);
}

int aq_gptq_share_release(aq_gptq_share *s, aq_gptq_hinv *hv) {
    reap(s, 0);
    for (size_t i = 0; i < s->n_sends; ++i)
        if (s->sends[i]->hv == hv) {
            s->sends[i]->owned = hv;
            return 1;
        }
    return 0;
}

/* Distinct owners of the other blocks of item's tensor, not this rank. */
static int receivers(const aq_job *j, size_t item, int *to) {
    const aq_plan_item *it = &j->plan->items[item];
    int n = 0;
    for (int b = 1; b < it->n_blocks; ++b) {
        const int r = j->plan->items[item + (size_t)b].rank;
        int seen = r == j->rank;
        for (int k = 0; k < n && !seen; ++k)
            seen = to[k] == r;
        if (!seen) to[n++] = r;
    }
    return n;
}

static aq_status send_to(const aq_job *j, aq_share_send *e, int to, int64_t n, size_t rec_bytes) {
    const int64_t pr = piece_rows(n);
    const size_t head = e->n_req;
    MPI_Isend(e->record, (int)rec_bytes, MPI_BYTE, to, AQ_TAG_FACTOR_RECORD, j->comm,
              &e->req[head]);
    const float *u = aq_gptq_hinv_u(e->hv);
    int k = 1;
    for (int64_t r0 = 0; r0 < n; r0 += pr, ++k) {
        const int64_t rows = r0 + pr < n ? pr : n - r0;
        MPI_Isend(u + r0 * n, (int)(rows * n), MPI_FLOAT, to, AQ_TAG_FACTOR_U, j->comm,
                  &e->req[head + (size_t)k]);
    }
    e->n_req += k;
    j->gptq_share->sent[to]++;
    return AQ_OK;
}

aq_status aq_gptq_share_send(const aq_job *j, size_t item, const aq_gptq_hinv *hv, aq_err *err) {
    aq_gptq_share *s = j->gptq_share;
    /* tests interrupt a run while the other blocks' ranks wait for this send */
    aq_job_test_delay("AQ_TEST_FACTOR_DELAY_MS", 60000);
    int *to = malloc((size_t)j->plan->items[item].n_blocks * sizeof *to);
    if (!to) return aq_err_set(err, AQ_E_NOMEM, "GPTQ: out of memory");
    const int nt = receivers(j, item, to);
    const int64_t n = aq_gptq_hinv_cols(hv), pieces = (n + piece_rows(n) - 1) / piece_rows(n);
    const size_t rec_bytes = sizeof(share_head) + aq_gptq_hinv_meta_bytes(n);
    aq_share_send *e = calloc(1, sizeof *e);
    aq_share_send **grown = realloc(s->sends, (s->n_sends + 1) * sizeof *grown);
    if (grown) s->sends = grown;
    if (e) {
        e->hv = hv; /* the slot owns it until it releases it */
        e->record = malloc(rec_bytes);
        e->req = calloc((size_t)(nt * (pieces + 1)) + 1, sizeof *e->req);
    }
    if (!grown || !e || !e->record || !e->req) {
        free(to);
        if (e) free(e->record), free(e->req), free(e);
        return aq_err_set(err, AQ_E_NOMEM, "GPTQ: out of memory");
    }
    const share_head h = {(int64_t)j->plan->tensor_order[j->plan->items[item].first],
                          piece_rows(n)};
    memcpy(e->record, &h, sizeof h);
    aq_gptq_hinv_meta_pack(hv, e->record + sizeof h);
    for (int k = 0; k < nt; ++k)
        send_to(j, e, to[k], n, rec_bytes);
    aq_job_trace(j, "factor_sent", h.tensor, (uint64_t)nt * (uint64_t)(n * n) * sizeof(float));
    free(to);
    s->sends[s->n_sends++] = e;
    return AQ_OK;
}

static void nap(void) {
    const struct timespec ts = {0, 500000}; /* 0.5 ms between progress checks */
    nanosleep(&ts, NULL);
}

/* Waits for the record's receive, giving up on rank 0's abort or this rank's signal (the
 * receive is then cancelled; *matched = 1 when it had matched all the same: its pieces
 * must still be taken). */
static aq_status wait_record(const aq_job *j, MPI_Request *rq, const char *name, int from,
                             int *matched, aq_err *err) {
    *matched = 0;
    for (;;) {
        int done = 0;
        MPI_Test(rq, &done, MPI_STATUS_IGNORE);
        if ((*matched = done)) return AQ_OK;
        aq_status st = AQ_OK;
        if (aq_abort_requested(j->comm)) {
            j->gptq_share->abort_seen = 1;
            st = aq_err_set(err, AQ_E_MPI,
                            "rank %d: stopped waiting for the factorization of %s from rank %d: "
                            "the job is stopping",
                            j->rank, name, from);
        } else if (aq_job_stop_signal(j)) {
            st = aq_err_set(err, AQ_E_INTERRUPTED, "signal %d on rank %d", aq_job_stop_signal(j),
                            j->rank);
        }
        if (st == AQ_OK) {
            nap();
            continue;
        }
        MPI_Status status;
        int cancelled = 0;
        MPI_Cancel(rq);
        MPI_Wait(rq, &status);
        MPI_Test_cancelled(&status, &cancelled);
        *matched = !cancelled;
        return st;
    }
}

/* Receives the pieces of an n-column U of `per` rows each from `from` (blocking: the sender
 * posted them with the record): into u, or, u NULL, into one scratch piece and dropped. */
static void recv_u(const aq_job *j, int64_t n, int64_t per, float *u, int from) {
    float *scratch = u ? NULL : malloc((size_t)per * (size_t)n * sizeof *scratch);
    if (!u && !scratch) MPI_Abort(j->comm, 1); /* cannot leave the sender's pieces unmatched */
    for (int64_t r0 = 0; r0 < n; r0 += per) {
        const int64_t rows = r0 + per < n ? per : n - r0;
        MPI_Recv(u ? u + r0 * n : scratch, (int)(rows * n), MPI_FLOAT, from, AQ_TAG_FACTOR_U,
                 j->comm, MPI_STATUS_IGNORE);
    }
    free(scratch);
}

aq_status aq_gptq_share_recv(const aq_job *j, size_t item, int64_t n, aq_gptq_hinv **out,
                             aq_err *err) {
    *out = NULL;
    const int from = aq_job_item_factor_rank(j, item);
    const int64_t tensor = (int64_t)j->plan->tensor_order[j->plan->items[item].first];
    const char *name = aq_checkpoint_tensor(j->model, (size_t)tensor)->name;
    const size_t rec_bytes = sizeof(share_head) + aq_gptq_hinv_meta_bytes(n);
    unsigned char *rec = malloc(rec_bytes);
    if (!rec) return aq_err_set(err, AQ_E_NOMEM, "GPTQ: out of memory");
    MPI_Request rq;
    MPI_Irecv(rec, (int)rec_bytes, MPI_BYTE, from, AQ_TAG_FACTOR_RECORD, j->comm, &rq);
    aq_err stop = {0};
    int matched = 0;
    aq_job_trace(j, "factor_wait", tensor, 0);
    const aq_status st = wait_record(j, &rq, name, from, &matched, &stop);
    if (!matched) {
        free(rec);
        *err = stop;
        return st;
    }
    j->gptq_share->recvd[from]++;
    share_head h;
    memcpy(&h, rec, sizeof h);
    aq_gptq_hinv *hv = NULL;
    char what[600];
    snprintf(what, sizeof what, "%s from rank %d", name, from);
    aq_status us = aq_gptq_hinv_meta_unpack(rec + sizeof h, rec_bytes - sizeof h, what, &hv, err);
    free(rec);
    if (us == AQ_OK && h.tensor != tensor) {
        aq_gptq_hinv_free(hv);
        hv = NULL;
        us = aq_err_set(err, AQ_E_MPI,
                        "rank %d: expected the factorization of %s from rank %d, "
                        "got tensor %lld's",
                        j->rank, name, from, (long long)h.tensor);
    }
    if (us != AQ_OK) { /* the pieces still come (same n: the record's size matched) */
        recv_u(j, n, piece_rows(n), NULL, from);
        return us;
    }
    recv_u(j, n, h.piece_rows, aq_gptq_hinv_u_mut(hv), from);
    if (st != AQ_OK) { /* matched while stopping: received, but the job stops */
        aq_gptq_hinv_free(hv);
        *err = stop;
        return stop.code;
    }
    aq_job_trace(j, "factor_received", tensor, (uint64_t)(n * n) * sizeof(float));
    *out = hv;
    return AQ_OK;
}

void aq_job_gptq_share_flush(aq_job *j) {
    aq_gptq_share *s = j->gptq_share;
    if (!s) return;
    for (reap(s, 0); s->n_sends > 0; reap(s, 0)) {
        if (j->rank != 0 && !j->abort_seen && aq_abort_requested(j->comm)) j->abort_seen = 1;
        if (j->abort_seen || aq_job_stop_signal(j)) return; /* the settle matches the rest */
        nap();
    }
}

/* Receives and drops one factorization from `from`: its record gives n. */
static void drain_one(const aq_job *j, int from) {
    MPI_Status st;
    int bytes = 0;
    MPI_Probe(from, AQ_TAG_FACTOR_RECORD, j->comm, &st);
    MPI_Get_count(&st, MPI_BYTE, &bytes);
    unsigned char *rec = malloc((size_t)bytes > sizeof(share_head) + 8 ? (size_t)bytes : 64);
    if (!rec) MPI_Abort(j->comm, 1);
    MPI_Recv(rec, bytes, MPI_BYTE, from, AQ_TAG_FACTOR_RECORD, j->comm, MPI_STATUS_IGNORE);
    int64_t n;
    memcpy(&n, rec + sizeof(share_head), sizeof n); /* the meta record leads with n */
    free(rec);
    recv_u(j, n, piece_rows(n), NULL, from);
}

void aq_job_gptq_share_settle(aq_job *j) {
    aq_gptq_share *s = j->gptq_share;
    int *owed = malloc((size_t)j->size * sizeof *owed);
    if (!owed) MPI_Abort(j->comm, 1); /* a collective step cannot fail alone */
    MPI_Alltoall(s->sent, 1, MPI_INT, owed, 1, MPI_INT, j->comm);
    for (int r = 0; r < j->size; ++r)
        for (; s->recvd[r] < owed[r]; s->recvd[r]++)
            drain_one(j, r);
    free(owed);
    reap(s, 1);
}
