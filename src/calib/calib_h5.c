/*
 * aq-mpi — the list of per-step datasets shared by the calibration reader and writer (the
 * HDF5 plumbing is include/aq/h5util.h).
 */
#include "calib_internal.h"

const char *const aq_calib_scalar_names[AQ_CALIB_N_SCALARS] = {"min", "max", "mean", "std",
                                                               "count"};

double *aq_calib_scalar(const aq_layer_stats *s, int i) {
    double *const v[AQ_CALIB_N_SCALARS] = {s->min, s->max, s->mean, s->std, s->count};
    return (i >= 0 && i < AQ_CALIB_N_SCALARS) ? v[i] : NULL;
}
