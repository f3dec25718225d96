/*
 * aq-mpi — agreeing on a status over a communicator (include/aq/mpi_util.h), shared by
 * aq-mpi's job, aq-calib and aq-eval.
 */
#include <string.h>

#include "aq/mpi_util.h"

aq_status aq_mpi_agree(MPI_Comm comm, aq_status local, aq_err *err) {
    int rank, size, key, first;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    key = local != AQ_OK ? rank : size;
    if (MPI_Allreduce(&key, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return aq_err_set(err, AQ_E_MPI, "rank %d: agreeing on the outcome failed", rank);
    if (first == size) return AQ_OK;
    aq_err tmp;
    if (rank == first) tmp = *err;
    if (MPI_Bcast(&tmp, (int)sizeof tmp, MPI_BYTE, first, comm) != MPI_SUCCESS)
        return aq_err_set(err, AQ_E_MPI, "rank %d: receiving rank %d's error failed", rank, first);
    if (first != 0 && strncmp(tmp.msg, "rank ", 5) != 0) {
        aq_err pre = tmp;
        aq_err_set(&tmp, pre.code, "rank %d: %s", first, pre.msg);
    }
    if (err) *err = tmp;
    return tmp.code;
}
