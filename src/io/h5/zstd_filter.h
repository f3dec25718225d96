/*
 * aq-mpi — private: the Zstandard HDF5 filter (id 32015) callback.
 *
 * Chunk format, compatible with the widely used HDF5 zstd plugin: a compressed chunk is
 * one plain zstd frame (content size recorded in the frame header); cd_values[0] is the
 * compression level (default 3 when absent).
 *
 * This file and zstd_filter.c are compiled both into aq_h5 and into the dynamic plugin
 * libaq_h5z_zstd.so, which must not link libhdf5: only HDF5 *types* are used here, never
 * HDF5 functions (not even type macros such as H5T_NATIVE_INT, which call H5open()).
 */
#ifndef AQ_ZSTD_FILTER_H
#define AQ_ZSTD_FILTER_H

#include <stddef.h>

#include <hdf5.h> /* types only; H5Zpublic.h is not self-contained */

/*! aq_h5z_zstd_filter() :
 *  The H5Z_func_t for filter 32015.  Compresses (flags without H5Z_FLAG_REVERSE) or
 *  decompresses the `nbytes` valid bytes of *buf.  The result replaces *buf (malloc'd; the
 *  old buffer is freed with free(), as HDF5 plugins do) and *buf_size.
 *  @return : the number of valid bytes in the new *buf, or 0 on any error (*buf untouched),
 *            which makes HDF5 fail the read or, for an optional filter, store raw. */
size_t aq_h5z_zstd_filter(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[],
                          size_t nbytes, size_t *buf_size, void **buf);

/*! aq_h5z_zstd_class() : the filter class (static storage) for H5Zregister() and for
 *  H5PLget_plugin_info().  Never NULL. */
const H5Z_class2_t *aq_h5z_zstd_class(void);

#endif /* AQ_ZSTD_FILTER_H */
