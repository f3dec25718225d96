/*
 * aq-mpi — errors as values.
 *
 * Every fallible function returns an aq_status and, when it fails, fills the
 * caller's aq_err with a one-line message naming the file, tensor, line or rank
 * involved.  No function prints on its own; the command-line front ends decide
 * where messages go.  There is no global error state.
 */
#ifndef AQ_ERROR_H
#define AQ_ERROR_H

#include <stddef.h>

/*-*********************************************
 *  Status codes
 ***********************************************/
typedef enum {
    AQ_OK = 0,
    AQ_E_IO,          /* a file could not be opened, read, written or renamed */
    AQ_E_FORMAT,      /* an input file violates its format (safetensors, JSON, HDF5) */
    AQ_E_CONFIG,      /* bad configuration or command line */
    AQ_E_VALUE,       /* bad data: non-finite weight, out-of-range parameter */
    AQ_E_UNSUPPORTED, /* valid input this version does not handle (dtype, feature) */
    AQ_E_NOMEM,       /* allocation failed */
    AQ_E_MPI,         /* an MPI call failed or a peer rank reported an error */
    AQ_E_HDF5,        /* the HDF5 library reported an error */
    AQ_E_INTERRUPTED  /* stopped by a signal (SIGUSR1/SIGTERM); partial output kept */
} aq_status;

#define AQ_ERR_MSG_MAX 1024

/*! aq_err : a status and its message.  Zero-initialise (`aq_err e = {0};`). */
typedef struct {
    aq_status code;
    char msg[AQ_ERR_MSG_MAX];
} aq_err;

/*! aq_err_set() :
 *  Records `code` and a printf-style message in `err` (may be NULL).
 *  The message is truncated to AQ_ERR_MSG_MAX-1 bytes; newlines are replaced by spaces
 *  so that every error prints as one line.
 *  @return : `code`, so callers can write `return aq_err_set(err, AQ_E_IO, ...);` */
aq_status aq_err_set(aq_err *err, aq_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*! aq_err_clear() : resets `err` (may be NULL) to AQ_OK with an empty message. */
void aq_err_clear(aq_err *err);

/*! aq_status_name() : a short constant name for `s` ("io", "format", ...). Never NULL. */
const char *aq_status_name(aq_status s);

#endif /* AQ_ERROR_H */
