/*
 * aq-mpi — HDF5 plumbing shared by the calibration reader and writer: quiet error
 * handling, error descriptions, closing ids, the list of per-step datasets.
 */
#include "calib_internal.h"

#include <stdio.h>

const char *const aq_calib_scalar_names[AQ_CALIB_N_SCALARS] = {"min", "max", "mean", "std",
                                                               "count"};

double *aq_calib_scalar(const aq_layer_stats *s, int i) {
    double *const v[AQ_CALIB_N_SCALARS] = {s->min, s->max, s->mean, s->std, s->count};
    return (i >= 0 && i < AQ_CALIB_N_SCALARS) ? v[i] : NULL;
}

void aq_calib_quiet_begin(aq_calib_quiet *q) {
    q->func = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void aq_calib_quiet_end(const aq_calib_quiet *q) {
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

typedef struct {
    char *buf;
    size_t n;
} desc_out;

/* The walk runs from the API call down to the origin; the last entry is the most specific
 * ("bad object header version" rather than "unable to open dataset"). */
static herr_t keep_innermost(unsigned i, const H5E_error2_t *e, void *data) {
    (void)i;
    desc_out *o = data;
    if (e && e->desc && e->desc[0]) snprintf(o->buf, o->n, "%s", e->desc);
    return 0;
}

const char *aq_calib_h5_desc(char *buf, size_t n) {
    if (!buf || n == 0) return "";
    buf[0] = '\0';
    desc_out o = {buf, n};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_innermost, &o);
    H5Eclear2(H5E_DEFAULT);
    if (!buf[0]) snprintf(buf, n, "HDF5 error");
    return buf;
}

static herr_t close_by_type(hid_t id) {
    switch (H5Iget_type(id)) {
    case H5I_FILE:
        return H5Fclose(id);
    case H5I_GROUP:
        return H5Gclose(id);
    case H5I_DATASET:
        return H5Dclose(id);
    case H5I_DATATYPE:
        return H5Tclose(id);
    case H5I_DATASPACE:
        return H5Sclose(id);
    case H5I_ATTR:
        return H5Aclose(id);
    case H5I_GENPROP_LST:
        return H5Pclose(id);
    default:
        return -1;
    }
}

int aq_calib_close_id(hid_t id) {
    if (id < 0) return 0;
    /* Every HDF5 call clears the stack on entry: keep the error that made us clean up. */
    hid_t saved = H5Eget_num(H5E_DEFAULT) > 0 ? H5Eget_current_stack() : -1;
    int rc = close_by_type(id) < 0 ? -1 : 0;
    if (saved >= 0) H5Eset_current_stack(saved);
    return rc;
}
