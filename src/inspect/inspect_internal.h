/*
 * aq-mpi — helpers shared by the aq-inspect library files (src/inspect).  Not installed.
 */
#ifndef AQ_INSPECT_INTERNAL_H
#define AQ_INSPECT_INTERNAL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "aq/h5util.h"
#include "aq/inspect.h"

/*! ins_attr_str() : string attribute (fixed or variable length) into buf[size].
 *  @return : 0, or -1 when absent, not a string or unreadable. */
int ins_attr_str(hid_t loc, const char *name, char *buf, size_t size);
/*! ins_attr_num() : scalar numeric attribute converted to `memtype`.  @return : 0 or -1. */
int ins_attr_num(hid_t loc, const char *name, hid_t memtype, void *v);
/*! ins_attr_shape() : 1-D int64 attribute (at most `max` entries) into v; *n its length.
 *  @return : 0 or -1. */
int ins_attr_shape(hid_t loc, const char *name, int64_t *v, int max, int *n);

/*! ins_sha256_strings() : SHA-256 of v[0..n) each followed by a NUL, as 64 hex digits. */
void ins_sha256_strings(const char *const *v, size_t n, char hex[65]);

/*! ins_open() : opens a result file read-only after checking it is readable and HDF5;
 *  registers the zstd filter.  @return : the file id or -1 with `err` set. */
hid_t ins_open(const char *path, aq_err *err);

/*! ins_dims() : rank and dims (up to 8) of dataset `d`; -1 on error. */
int ins_dims(hid_t d, hsize_t *dims);

#endif /* AQ_INSPECT_INTERNAL_H */
