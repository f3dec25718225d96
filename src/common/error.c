#include "aq/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

aq_status aq_err_set(aq_err *err, aq_status code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* One line per error, so logs of many ranks stay greppable. */
    for (char *p = err->msg; *p; ++p)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return code;
}

void aq_err_clear(aq_err *err) {
    if (!err) return;
    err->code = AQ_OK;
    err->msg[0] = '\0';
}

const char *aq_status_name(aq_status s) {
    switch (s) {
    case AQ_OK:
        return "ok";
    case AQ_E_IO:
        return "io";
    case AQ_E_FORMAT:
        return "format";
    case AQ_E_CONFIG:
        return "config";
    case AQ_E_VALUE:
        return "value";
    case AQ_E_UNSUPPORTED:
        return "unsupported";
    case AQ_E_NOMEM:
        return "nomem";
    case AQ_E_MPI:
        return "mpi";
    case AQ_E_HDF5:
        return "hdf5";
    case AQ_E_INTERRUPTED:
        return "interrupted";
    }
    return "unknown";
}
