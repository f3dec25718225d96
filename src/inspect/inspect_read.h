/*
 * aq-mpi — aq-inspect: block-wise dataset reading.  Not installed.
 */
#ifndef AQ_INSPECT_READ_H
#define AQ_INSPECT_READ_H

#include "inspect_internal.h"

/*! ins_block_fn : called for rows [row0, row0 + nrows) of a dataset, each `row_elems`
 *  elements of the memory type, at `buf`.  Returns 0 to go on, -1 to stop. */
typedef int (*ins_block_fn)(void *ctx, const void *buf, int64_t row0, int64_t nrows,
                            int64_t row_elems);

/*! ins_read_all() :
 *  Reads every element of dataset `d` (rank >= 0) as `memtype` (a negative id: the file
 *  type itself, no conversion) in blocks of whole leading-dimension slices of at most
 *  64 MiB, calling `fn` (may be NULL) for each.  Variable-length data is read at once and
 *  released, without callback.  @return : 0, or -1 when a read failed (e.g. a chunk fails
 *  its Fletcher32 check; the HDF5 error stack is set) or `fn` stopped. */
int ins_read_all(hid_t d, hid_t memtype, ins_block_fn fn, void *ctx);

#endif /* AQ_INSPECT_READ_H */
