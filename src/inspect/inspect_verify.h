/*
 * aq-mpi — aq-inspect --verify internals.  Not installed.
 */
#ifndef AQ_INSPECT_VERIFY_H
#define AQ_INSPECT_VERIFY_H

#include "inspect_internal.h"

/*! ins_verify : state of one verification; problems are printed as they are found. */
typedef struct {
    const char *path;
    FILE *out;
    size_t problems;
    haddr_t *seen; /* object addresses of tensor groups already checked (aliases) */
    size_t nseen, cap;
} ins_verify;

/*! ins_problem() : prints "<path>: <obj>: <what>" and counts it (inspect_problem.c). */
void ins_problem(ins_verify *v, const char *obj, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*! ins_check_tensors() : every group under /tensors (inspect_tensor.c). */
void ins_check_tensors(ins_verify *v, hid_t f);

#endif /* AQ_INSPECT_VERIFY_H */
