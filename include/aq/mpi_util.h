/*
 * aq-mpi — what the MPI programs of the project (aq-mpi, aq-calib, aq-eval) share beyond the
 * tags of include/aq/mpi_tags.h: agreeing on one status over a communicator.
 */
#ifndef AQ_MPI_UTIL_H
#define AQ_MPI_UTIL_H

#include <mpi.h>

#include "aq/error.h"

/*! aq_mpi_agree() :
 *  Collective over `comm`: every rank passes its local status (and message in `err`, which
 *  may be NULL on a rank whose status is AQ_OK).  The lowest rank with a non-OK status
 *  broadcasts its aq_err to all; its message is prefixed "rank N: " for N > 0 unless it
 *  already starts with "rank ".  Two collectives (MPI_Allreduce, then MPI_Bcast only when a
 *  rank failed), so every rank of `comm` must call it at the same point.
 *  @return : that status on every rank (and its message in `err`), or AQ_OK. */
aq_status aq_mpi_agree(MPI_Comm comm, aq_status local, aq_err *err);

#endif /* AQ_MPI_UTIL_H */
