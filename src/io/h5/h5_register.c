/*
 * aq-mpi — in-process registration of filter 32015 (the writer does not rely on
 * HDF5_PLUGIN_PATH).  Kept apart from zstd_filter.c, which must not call libhdf5.
 */
#include "h5_internal.h"
#include "zstd_filter.h"

aq_status aq_h5z_zstd_register(aq_err *err) {
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status st = AQ_OK;
    htri_t avail = H5Zfilter_avail(AQ_H5Z_FILTER_ZSTD);
    /* Registering again would replace a class loaded from a plugin; keep what is there. */
    if (avail < 0 || (avail == 0 && H5Zregister(aq_h5z_zstd_class()) < 0))
        st = aq_h5_fail(err, "cannot register zstd filter 32015");
    aq_h5_quiet_end(&q);
    return st;
}
