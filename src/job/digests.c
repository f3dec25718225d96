/* /source: the SHA-256 of every model file, computed over the ranks and written by rank 0. */
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"

/* The SHA-256 of the model files, shared out over the ranks (file i on rank i % size) and
 * merged on rank 0: the digest strings of the other ranks are empty, so a bitwise OR of the
 * 65-byte slots assembles them.  Collective. */
aq_status aq_job_digest_files(aq_job *j, size_t *n, char ***files, char ***hex, aq_err *err) {
    aq_status st = aq_checkpoint_file_digests(j->cfg->model_path, j->model, j->rank, j->size, n,
                                              files, hex, err);
    if ((st = aq_mpi_agree(j->comm, st, err)) != AQ_OK) return st;
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
