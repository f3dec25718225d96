/* /source: the SHA-256 of every model file, computed over the ranks and written by rank 0. */
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"

/* Ranks in the order they are expected to finish their loops: least planned work first, and
 * among equals the workers before rank 0 (which also stores every result). */
static void finish_order(const aq_job *j, int *order) {
    for (int r = 0; r < j->size; ++r)
        order[r] = j->size - 1 - r;
    for (int a = 1; a < j->size; ++a) /* insertion sort: stable, size is small */
        for (int b = a; b > 0 && j->plan->rank_bytes[order[b]] < j->plan->rank_bytes[order[b - 1]];
             --b) {
            const int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
}

/* This rank's share of the digests, right after its own loop: a rank that finished early
 * hashes while the others still compute (SHA-256 of one file is sequential; the largest
 * files go to the ranks expected to finish first).  Not collective: the status is agreed on
 * in aq_job_digest_files(). */
void aq_job_digest_mine(aq_job *j) {
    aq_job_digest *d = &j->digest;
    if (d->done) return;
    d->done = 1;
    const double t0 = MPI_Wtime();
    aq_job_trace(j, "digests", -1, 0);
    int *order = malloc((size_t)j->size * sizeof *order);
    if (!order) {
        d->st = aq_err_set(&d->err, AQ_E_NOMEM, "digests: out of memory");
        return;
    }
    finish_order(j, order);
    d->st = aq_checkpoint_file_digests(j->cfg->model_path, j->model, j->rank, order, j->size, &d->n,
                                       &d->files, &d->hex, &d->err);
    free(order);
    aq_job_trace(j, "digested", -1, 0);
    d->seconds = MPI_Wtime() - t0;
}

/* Merges the ranks' shares on rank 0: the digest strings of the other ranks are empty, so a
 * bitwise OR of the 65-byte slots assembles them.  Collective. */
aq_status aq_job_digest_files(aq_job *j, size_t *n, char ***files, char ***hex, aq_err *err) {
    aq_job_digest *d = &j->digest;
    aq_job_digest_mine(j); /* no-op when the loop already did it */
    if (d->st != AQ_OK) *err = d->err;
    *n = d->n, *files = d->files, *hex = d->hex; /* the caller frees them now */
    d->n = 0, d->files = d->hex = NULL;
    aq_status st = aq_mpi_agree(j->comm, d->st, err);
    if (st != AQ_OK) return st;
    unsigned char *buf = calloc(*n * 65 + 1, 1);
    st = aq_mpi_agree(j->comm, buf ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "digests: out of memory"),
                      err);
    if (st != AQ_OK) return free(buf), st;
    for (size_t i = 0; i < *n; ++i)
        memcpy(buf + 65 * i, (*hex)[i], 65);
    MPI_Reduce(j->rank == 0 ? MPI_IN_PLACE : buf, buf, (int)(*n * 65), MPI_BYTE, MPI_BOR, 0,
               j->comm);
    for (size_t i = 0; j->rank == 0 && i < *n; ++i)
        memcpy((*hex)[i], buf + 65 * i, 65);
    free(buf);
    return AQ_OK;
}

/* /source: SHA-256 of every model file, so users can tell which model a result came from. */
aq_status aq_job_write_source(aq_job *j, size_t n, char **files, char **hex, aq_err *err) {
    return aq_h5_write_source_digests(j->w, n, (const char *const *)files, (const char *const *)hex,
                                      err);
}
