/*
 * aq-mpi — HDF5 dynamic plugin for filter 32015 (Zstandard).
 *
 * HDF5 (h5dump, h5ls, h5py, any build >= 1.8.11) dlopen()s libaq_h5z_zstd.so from
 * HDF5_PLUGIN_PATH and calls these two entry points.  Nothing here may reference a libhdf5
 * symbol, so one .so serves both Debian's serial HDF5 and the OpenMPI build.
 */
#include <H5PLextern.h>

#include "../io/h5/zstd_filter.h"

H5PL_type_t H5PLget_plugin_type(void) {
    return H5PL_TYPE_FILTER;
}

const void *H5PLget_plugin_info(void) {
    return aq_h5z_zstd_class();
}
