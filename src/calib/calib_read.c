/*
 * aq-mpi — opening a calibration file: root attributes and the list of layers.  The data
 * of a layer is read only when a rank asks for it (calib_load.c).
 */
#include "calib_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* H5Literate callback: appends each link name under /stats. */
static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g;
    (void)info;
    aq_calib *c = data;
    char **grown = realloc(c->names, (c->n + 1) * sizeof *grown);
    if (!grown) return -1;
    c->names = grown;
    if (!(c->names[c->n] = strdup(name))) return -1;
    c->n++;
    return 0;
}

static aq_status read_names(aq_calib *c, aq_err *err) {
    htri_t e = H5Lexists(c->file, "stats", H5P_DEFAULT);
    c->stats = e > 0 ? H5Gopen2(c->file, "stats", H5P_DEFAULT) : -1;
    if (c->stats < 0) {
        char d[256];
        aq_h5_error_desc(d, sizeof d);
        return aq_err_set(err, AQ_E_FORMAT, "%s: not a calibration file (no group /stats%s%s)",
                          c->path, e > 0 ? ": " : "", e > 0 ? d : "");
    }
    hsize_t idx = 0;
    if (H5Literate(c->stats, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, c) < 0) {
        char d[256];
        return aq_err_set(err, AQ_E_FORMAT, "%s: cannot list /stats: %s", c->path,
                          aq_h5_error_desc(d, sizeof d));
    }
    if (c->n > 1) qsort(c->names, c->n, sizeof *c->names, cmp_names);
    return AQ_OK;
}

/* T is mandatory (it defines the file); source, timestep and synthetic default to "", ""
 * and 0 when absent, but a present attribute of the wrong type is an error. */
static aq_status read_root(aq_calib *c, aq_err *err) {
    int rc = aq_calib_attr_int(c->file, "T", &c->T);
    if (rc <= 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: not a calibration file (root attribute T %s)",
                          c->path, rc == 0 ? "missing" : "is not an integer scalar");
    if (c->T < 1)
        return aq_err_set(err, AQ_E_FORMAT, "%s: root attribute T = %d, must be >= 1", c->path,
                          c->T);
    const char *bad = NULL;
    if (aq_calib_attr_str(c->file, "source", &c->source) < 0)
        bad = "source";
    else if (aq_calib_attr_str(c->file, "timestep", &c->timestep) < 0)
        bad = "timestep";
    else if (aq_calib_attr_int(c->file, "synthetic", &c->synthetic) < 0)
        bad = "synthetic";
    if (bad) {
        H5Eclear2(H5E_DEFAULT);
        return aq_err_set(err, AQ_E_FORMAT, "%s: root attribute %s has the wrong type", c->path,
                          bad);
    }
    if (!c->source) c->source = strdup("");
    if (!c->timestep) c->timestep = strdup("");
    if (!c->source || !c->timestep)
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", c->path);
    c->synthetic = c->synthetic != 0;
    return AQ_OK;
}

/* HDF5's messages for a missing file or a text file are a stack of "unable to open";
 * check with the OS and H5Fis_hdf5 first so the user reads a plain reason. */
static aq_status open_file(aq_calib *c, aq_err *err) {
    if (access(c->path, R_OK) != 0)
        return aq_err_set(err, AQ_E_IO, "cannot read calibration file %s: %s", c->path,
                          strerror(errno));
    if (H5Fis_hdf5(c->path) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return aq_err_set(err, AQ_E_FORMAT, "%s: not an HDF5 file", c->path);
    }
    c->file = H5Fopen(c->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (c->file < 0) {
        char d[256];
        return aq_err_set(err, AQ_E_FORMAT, "%s: cannot open as HDF5: %s", c->path,
                          aq_h5_error_desc(d, sizeof d));
    }
    return AQ_OK;
}

aq_status aq_calib_open(const char *path, aq_calib **out, aq_err *err) {
    if (!path || !path[0] || !out)
        return aq_err_set(err, AQ_E_VALUE, "aq_calib_open: missing path or out");
    *out = NULL;
    aq_calib *c = calloc(1, sizeof *c);
    if (c) {
        c->file = c->stats = -1;
        c->path = strdup(path);
    }
    if (!c || !c->path) {
        aq_calib_close(c);
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status st = open_file(c, err);
    if (st == AQ_OK) st = read_root(c, err);
    if (st == AQ_OK) st = read_names(c, err);
    aq_h5_quiet_end(&q);
    if (st != AQ_OK) {
        aq_calib_close(c);
        return st;
    }
    *out = c;
    return AQ_OK;
}

int aq_calib_T(const aq_calib *c) {
    return c ? c->T : 0;
}

const char *aq_calib_source(const aq_calib *c) {
    return c && c->source ? c->source : "";
}

int aq_calib_is_synthetic(const aq_calib *c) {
    return c ? c->synthetic : 0;
}

int aq_calib_has(const aq_calib *c, const char *name) {
    if (!c || !name || c->n == 0) return 0;
    return bsearch(&name, c->names, c->n, sizeof *c->names, cmp_names) != NULL;
}

void aq_calib_close(aq_calib *c) {
    if (!c) return;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_h5_close_id(c->stats);
    aq_h5_close_id(c->file);
    H5Eclear2(H5E_DEFAULT);
    aq_h5_quiet_end(&q);
    for (size_t i = 0; i < c->n; ++i)
        free(c->names[i]);
    free(c->names);
    free(c->source);
    free(c->timestep);
    free(c->path);
    free(c);
}
