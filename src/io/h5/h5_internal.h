/*
 * aq-mpi — private helpers shared by the HDF5 writer files (h5_*.c).  Not installed.
 */
#ifndef AQ_H5_INTERNAL_H
#define AQ_H5_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "aq/error.h"
#include "aq/h5out.h"
#include "aq/h5util.h"

/* Target chunk size: big enough for zstd to find redundancy, small enough that a reader
 * touching one row does not decompress megabytes. */
#define AQ_H5_CHUNK_BYTES ((size_t)1 << 20)
/* Leading-dim slices per chunk of a 2-D (or higher) dataset at most (a power of two). */
#define AQ_H5_CHUNK_MAX_ROWS ((hsize_t)256)

struct aq_h5_writer {
    hid_t file;    /* the open "<path>.partial" */
    hid_t tensors; /* /tensors */
    int level;     /* zstd level, cd_values[0] */
    char *path;    /* final name */
    char *partial; /* "<path>.partial" */
};

/*! aq_h5_writer_alloc() / aq_h5_writer_free() : the struct with its two path names
 *  ("<path>" and "<path>.partial"), ids set to -1; free does not close ids. */
aq_status aq_h5_writer_alloc(const char *path, int level, aq_h5_writer **out, aq_err *err);
void aq_h5_writer_free(aq_h5_writer *w);

/*! aq_h5_fapl_checksummed() : a file access property list pinning the HDF5 1.10 file
 *  format (checksummed metadata and chunk indexes), for creating AND reopening result
 *  files, so that objects added on --resume are checksummed too.  Caller closes.
 *  @return : the list or a negative id. */
hid_t aq_h5_fapl_checksummed(void);

/*! aq_h5_f16_type() : a new IEEE binary16 little-endian datatype (caller closes), which
 *  h5py maps to numpy float16.  @return : the type or a negative id. */
hid_t aq_h5_f16_type(void);

/*-*********************************************
 *  Attributes on `loc` (group or dataset); each returns 0 or -1 (HDF5 error stack set)
 ***********************************************/
int aq_h5_attr_str(hid_t loc, const char *name, const char *value);
int aq_h5_attr_i32(hid_t loc, const char *name, int32_t value);
int aq_h5_attr_f64(hid_t loc, const char *name, double value);
/* 1-D int64 array of n entries; n = 0 gives an empty array (shape of a 0-d tensor). */
int aq_h5_attr_i64_array(hid_t loc, const char *name, const int64_t *v, int n);

/*! aq_h5_attr_read_str() : string attribute `name` of `loc` (variable or fixed length) as a
 *  malloc'ed C string (caller frees), or NULL when absent, not a string or unreadable. */
char *aq_h5_attr_read_str(hid_t loc, const char *name);

/*-*********************************************
 *  Datasets
 ***********************************************/

/*! aq_h5_chunk_shape() : the chunk dims aq_h5_write_dataset() uses for `dims` of `elem`-byte
 *  elements (whole trailing dims, as many leading slices as fit AQ_H5_CHUNK_BYTES, a power of
 *  two when cut, at most AQ_H5_CHUNK_MAX_ROWS for ndim >= 2), and the max dims (zero-length dims
 * unlimited).  Pure function: aq_h5_prefilter_2d() cuts chunks with it on ranks that never open the
 * file. */
void aq_h5_chunk_shape(int ndim, const hsize_t *dims, size_t elem, hsize_t *chunk,
                       hsize_t *maxdims);

/*! aq_h5_create_dataset() : aq_h5_write_dataset() without the write (all chunks unallocated).
 *  @return : the open dataset (caller closes) or a negative id. */
hid_t aq_h5_create_dataset(hid_t loc, const char *name, hid_t type, int ndim, const hsize_t *dims,
                           int level);

/*! aq_h5_write_prefiltered() : creates the [dims[0], dims[1]] dataset as
 *  aq_h5_create_dataset() does and stores the chunks of `blob` (aq_h5_prefilter_2d(), of
 *  `blob_bytes`) with H5Dwrite_chunk, filter mask 0 (every filter applied).  The chunk count
 *  and sizes are checked against the dataset's chunk grid.
 *  @return : the open dataset (caller closes) or a negative id. */
hid_t aq_h5_write_prefiltered(hid_t loc, const char *name, hid_t type, const hsize_t dims[2],
                              const void *blob, uint64_t blob_bytes, int level);

/*! aq_h5_fletcher32() : HDF5's Fletcher32 checksum of `n` bytes (H5_checksum_fletcher32:
 *  16-bit words read big-endian, sums folded mod 65535 every 360 words, an odd last byte as
 *  the high byte of a word; result sum2 << 16 | sum1).  The filter appends it little-endian. */
uint32_t aq_h5_fletcher32(const void *data, size_t n);

/*! aq_h5_write_dataset() :
 *  Creates dataset `name` in `loc` with `ndim` >= 1 dims, chunked (whole rows, up to about
 *  AQ_H5_CHUNK_BYTES per chunk; zero-length dims get chunk 1 and an unlimited max dim),
 *  zstd filter 32015 at `level` (mandatory, no shuffle) then the Fletcher32 checksum
 *  filter (a damaged chunk fails to read), and writes `buf` (may be NULL when
 *  the dataset has no elements) as `type` in memory and in the file.
 *  @return : the open dataset (caller closes) or a negative id. */
hid_t aq_h5_write_dataset(hid_t loc, const char *name, hid_t type, int ndim, const hsize_t *dims,
                          const void *buf, int level);

/*! aq_h5_write_dataset_1d() : aq_h5_write_dataset() for a 1-D array, closing the dataset.
 *  @return : 0 or -1. */
int aq_h5_write_dataset_1d(hid_t loc, const char *name, hid_t type, size_t n, const void *buf,
                           int level);

/*! aq_h5_dtype_name() : "F32" / "F16" / "BF16" (safetensors spelling), NULL if unknown.
 *  Local so that aq_h5 depends on aq_common's error functions only. */
const char *aq_h5_dtype_name(aq_dtype dt);

#endif /* AQ_H5_INTERNAL_H */
