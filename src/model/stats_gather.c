/*
 * aq-mpi — collecting every rank's activation statistics on rank 0 (point to point, rank by
 * rank, so rank 0 holds one message at a time beyond the result).
 */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "aq/mpi_tags.h"

/* Local names of this protocol's tags (values in aq/mpi_tags.h, with every other tag). */
enum { TAG_N = AQ_TAG_STATS_COUNT, TAG_HDR = AQ_TAG_STATS_LAYER, TAG_DATA = AQ_TAG_STATS_DATA };

typedef struct {
    char name[256];
    int64_t in;
} layer_hdr;

static void send_layer(const aq_layer_stats *l, MPI_Comm comm) {
    layer_hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.name, l->name, sizeof h.name);
    h.in = l->in;
    MPI_Send(&h, (int)sizeof h, MPI_BYTE, 0, TAG_HDR, comm);
    double *d[] = {l->min, l->max, l->mean, l->std, l->count};
    for (int k = 0; k < 5; k++)
        MPI_Send(d[k], l->T, MPI_DOUBLE, 0, TAG_DATA, comm);
    int n = (int)((int64_t)l->T * l->in);
    MPI_Send(l->sq_mean, n, MPI_FLOAT, 0, TAG_DATA, comm);
    MPI_Send(l->absmax, n, MPI_FLOAT, 0, TAG_DATA, comm);
}

/* Receives one layer into `l` (allocated here); on allocation failure the data is drained. */
static aq_status recv_layer(int src, int T, MPI_Comm comm, aq_layer_stats *l, aq_err *err) {
    layer_hdr h;
    MPI_Recv(&h, (int)sizeof h, MPI_BYTE, src, TAG_HDR, comm, MPI_STATUS_IGNORE);
    h.name[sizeof h.name - 1] = '\0';
    aq_status st = aq_layer_stats_alloc(l, h.name, T, h.in, 0, err);
    if (st != AQ_OK) return st; /* fatal for the run: caller aborts */
    double *d[] = {l->min, l->max, l->mean, l->std, l->count};
    for (int k = 0; k < 5; k++)
        MPI_Recv(d[k], T, MPI_DOUBLE, src, TAG_DATA, comm, MPI_STATUS_IGNORE);
    int n = (int)((int64_t)T * h.in);
    MPI_Recv(l->sq_mean, n, MPI_FLOAT, src, TAG_DATA, comm, MPI_STATUS_IGNORE);
    MPI_Recv(l->absmax, n, MPI_FLOAT, src, TAG_DATA, comm, MPI_STATUS_IGNORE);
    return AQ_OK;
}

static aq_status send_all(const aq_act_stats *s, MPI_Comm comm, aq_err *err) {
    uint64_t n = aq_act_stats_count(s);
    MPI_Send(&n, 1, MPI_UINT64_T, 0, TAG_N, comm);
    for (size_t i = 0; i < n; i++) {
        aq_layer_stats l;
        memset(&l, 0, sizeof l);
        aq_status st = aq_act_stats_export(s, i, &l, err);
        if (st != AQ_OK) return st;
        send_layer(&l, comm);
        aq_layer_stats_free(&l);
    }
    return AQ_OK;
}

static aq_status recv_all(const aq_act_stats *s, MPI_Comm comm, int size, int T,
                          aq_layer_stats **out, size_t *n, aq_err *err) {
    uint64_t *cnt = calloc((size_t)size, sizeof *cnt);
    if (!cnt) return aq_err_set(err, AQ_E_NOMEM, "statistics gather: out of memory");
    cnt[0] = aq_act_stats_count(s);
    uint64_t total = cnt[0];
    for (int r = 1; r < size; r++) {
        MPI_Recv(&cnt[r], 1, MPI_UINT64_T, r, TAG_N, comm, MPI_STATUS_IGNORE);
        total += cnt[r];
    }
    aq_layer_stats *all = calloc((size_t)total + 1, sizeof *all);
    aq_status st = all ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "statistics gather: out of memory");
    size_t k = 0;
    for (size_t i = 0; st == AQ_OK && i < cnt[0]; i++)
        st = aq_act_stats_export(s, i, &all[k++], err);
    for (int r = 1; st == AQ_OK && r < size; r++)
        for (uint64_t i = 0; st == AQ_OK && i < cnt[r]; i++)
            st = recv_layer(r, T, comm, &all[k++], err);
    free(cnt);
    *out = all;
    *n = k;
    return st;
}

aq_status aq_act_stats_gather(const aq_act_stats *s, int T, MPI_Comm comm, aq_layer_stats **out,
                              size_t *n, aq_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    *out = NULL;
    *n = 0;
    if (rank != 0) return send_all(s, comm, err);
    return recv_all(s, comm, size, T, out, n, err);
}
