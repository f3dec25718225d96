/*
 * aq-mpi — HDF5 plumbing shared by the result writer/reader (src/io/h5), the calibration
 * files (src/calib) and aq-inspect (src/inspect): a quiet error stack, the innermost error
 * message, closing any handle.
 *
 * The project reports HDF5 failures as aq_err values, not through HDF5's automatic printer:
 * every public entry point that calls HDF5 brackets its work with aq_h5_quiet_begin/end and
 * turns a failure into one line with aq_h5_fail() or aq_h5_error_desc().
 */
#ifndef AQ_H5UTIL_H
#define AQ_H5UTIL_H

#include <stddef.h>

#include <hdf5.h>

#include "aq/error.h"

/*! aq_h5_quiet : the caller's automatic error-stack printer, saved by aq_h5_quiet_begin. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} aq_h5_quiet;

/*! aq_h5_quiet_begin() / aq_h5_quiet_end() : silence HDF5's automatic error printing (of the
 *  default error stack) for the duration of one call, and restore whatever the caller had.
 *  The error stack itself is left as it is. */
void aq_h5_quiet_begin(aq_h5_quiet *q);
void aq_h5_quiet_end(const aq_h5_quiet *q);

/*! aq_h5_error_desc() :
 *  The description of the innermost (most specific) record of the default error stack, e.g.
 *  "bad object header version" rather than the API-level "unable to open dataset", copied
 *  into buf[n] (truncated), or "HDF5 error" when the stack has no description.  Clears the
 *  stack.  @return : buf ("" when buf is NULL or n is 0). */
const char *aq_h5_error_desc(char *buf, size_t n);

/*! aq_h5_fail() :
 *  aq_err_set(err, AQ_E_HDF5, "<what>: <innermost error>") and clears the stack.  The
 *  innermost error is "<description> (in <HDF5 function>)", or "<file>: <OS message>" for a
 *  failed read/write of the sec2 file driver (whose description is a dump of fields).  `what`
 *  names the object (e.g. "tensor x: dataset codes").  @return : AQ_E_HDF5. */
aq_status aq_h5_fail(aq_err *err, const char *what);

/*! aq_h5_close_id() :
 *  Closes any HDF5 id (file, group, dataset, datatype, dataspace, attribute, property list);
 *  negative ids are ignored.  The error stack of a failure being reported is kept across the
 *  close (every HDF5 call clears it on entry).  @return : 0, or -1 when the close failed or
 *  the id is of another kind. */
int aq_h5_close_id(hid_t id);

#endif /* AQ_H5UTIL_H */
