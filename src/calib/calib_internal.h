/*
 * aq-mpi — private helpers shared by the calibration files (src/calib).  Not installed.
 */
#ifndef AQ_CALIB_INTERNAL_H
#define AQ_CALIB_INTERNAL_H

#include <stddef.h>

#include <hdf5.h>

#include "aq/calib.h"
#include "aq/h5util.h"

/* Dataset names of one layer group, in the order they are written and read. */
#define AQ_CALIB_N_SCALARS 5
extern const char *const aq_calib_scalar_names[AQ_CALIB_N_SCALARS]; /* min..count */

/*! aq_calib_scalar() : the [T] array of `s` for aq_calib_scalar_names[i]. */
double *aq_calib_scalar(const aq_layer_stats *s, int i);

/* An open calibration file (aq_calib_open); layers are read on demand. */
struct aq_calib {
    char *path;
    hid_t file, stats; /* the file and its /stats group, open read-only */
    int T, synthetic;
    char *source, *timestep;
    size_t n;
    char **names; /* n layer names under /stats, sorted with strcmp */
};

/*-*********************************************
 *  Attributes (return 1 read, 0 absent, -1 wrong type/shape or HDF5 error)
 ***********************************************/
/*! aq_calib_attr_int() : a scalar (or 1-element) integer attribute of `loc` as int. */
int aq_calib_attr_int(hid_t loc, const char *name, int *v);
/*! aq_calib_attr_str() : a scalar string attribute (fixed or variable length), malloc'd. */
int aq_calib_attr_str(hid_t loc, const char *name, char **v);

#endif /* AQ_CALIB_INTERNAL_H */
