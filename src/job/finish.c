/* The end of a successful run: per-rank figures gathered, model digests, then on rank 0 the
 * aliases, /source, /run and the commit (rename of the partial file).  Collective. */
#include <stdlib.h>
#include <sys/resource.h>

#include "job_internal.h"

aq_status aq_job_finish(aq_job *j, aq_err *err) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mine[RUN_N] = {j->plan->rank_units[j->rank],
                          (double)j->plan->rank_bytes[j->rank],
                          j->seconds_quant,
                          j->seconds_send,
                          MPI_Wtime() - j->tally.t_start,
                          (double)ru.ru_maxrss * 1024.0};
    double *all = j->rank == 0 ? malloc((size_t)j->size * RUN_N * sizeof *all) : NULL;
    MPI_Gather(mine, RUN_N, MPI_DOUBLE, all, RUN_N, MPI_DOUBLE, 0, j->comm);
    size_t nf = 0;
    char **files = NULL, **hex = NULL;
    const double t0 = MPI_Wtime();
    aq_status st = aq_job_digest_files(j, &nf, &files, &hex, err);
    /* rank 0's own hashing (after its loop) plus its wait for the other ranks' shares */
    j->tally.t_digest = j->digest.seconds + (MPI_Wtime() - t0);
    if (st != AQ_OK) {
        if (j->rank == 0) aq_h5_abort(j->w, 0);
        j->w = NULL;
        free(all);
        aq_checkpoint_file_digests_free(nf, files, hex);
        return st;
    }
    if (j->rank == 0) {
        st = all ? aq_job_write_aliases(j, err)
                 : aq_err_set(err, AQ_E_NOMEM, "rank 0: out of memory");
        if (st == AQ_OK) st = aq_job_write_source(j, nf, files, hex, err);
        if (st == AQ_OK) st = aq_job_write_run(j, all, err);
        if (st == AQ_OK)
            st = aq_h5_commit(j->w, err);
        else
            aq_h5_abort(j->w, 0);
        j->w = NULL;
        free(all);
    }
    aq_checkpoint_file_digests_free(nf, files, hex);
    return aq_mpi_agree(j->comm, st, err);
}
