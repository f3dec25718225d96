/* The plan: built on every rank from the model, rank 0's partition broadcast so that every
 * rank works from the same unit -> rank assignment. */
#include <stdlib.h>

#include "aq/job.h"
#include "job_internal.h"

static int is_work(const aq_tensor *t, const void *cfg) {
    return aq_job_is_quantized(t, cfg);
}

aq_status aq_job_make_plan(aq_job *j, aq_err *err) {
    aq_status st = aq_plan_build(j->model, j->size, is_work, j->cfg, &j->plan, err);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return err->code;
    /* Rank 0's partition is the plan; the others check they see the same model. */
    long n = (long)j->plan->n_units;
    MPI_Bcast(&n, 1, MPI_LONG, 0, j->comm);
    int *owner = malloc((j->plan->n_units + 1) * sizeof *owner);
    st = owner ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    if (st == AQ_OK && n != (long)j->plan->n_units)
        st = aq_err_set(err, AQ_E_MPI, "model has %zu units here but %ld on rank 0",
                        j->plan->n_units, n);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return free(owner), err->code;
    for (size_t i = 0; i < j->plan->n_units; ++i)
        owner[i] = j->plan->units[i].rank;
    MPI_Bcast(owner, (int)n, MPI_INT, 0, j->comm);
    st = aq_plan_assign(j->plan, owner, err);
    free(owner);
    return aq_mpi_agree(j->comm, st, err);
}
