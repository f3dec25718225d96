/*
 * aq-mpi — reading attributes of calibration files written by any tool: integers of any
 * width, fixed- or variable-length strings; anything else is reported, never trusted.
 */
#include "calib_internal.h"

#include <stdlib.h>
#include <string.h>

/* Opens attribute `name` when it exists with the wanted type class and one element. */
static int open_attr(hid_t loc, const char *name, H5T_class_t want, hid_t *a, hid_t *ft) {
    *a = *ft = -1;
    htri_t e = H5Aexists(loc, name);
    if (e <= 0) return e < 0 ? -1 : 0;
    *a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t sp = *a < 0 ? -1 : H5Aget_space(*a);
    *ft = *a < 0 ? -1 : H5Aget_type(*a);
    int ok =
        sp >= 0 && *ft >= 0 && H5Sget_simple_extent_npoints(sp) == 1 && H5Tget_class(*ft) == want;
    aq_h5_close_id(sp);
    if (!ok) {
        aq_h5_close_id(*ft);
        aq_h5_close_id(*a);
        *a = *ft = -1;
        return -1;
    }
    return 1;
}

int aq_calib_attr_int(hid_t loc, const char *name, int *v) {
    hid_t a, ft;
    int rc = open_attr(loc, name, H5T_INTEGER, &a, &ft);
    if (rc <= 0) return rc;
    /* Wider integers are clipped by HDF5's conversion, which the range checks catch. */
    if (H5Aread(a, H5T_NATIVE_INT, v) < 0) rc = -1;
    aq_h5_close_id(ft);
    aq_h5_close_id(a);
    return rc;
}

static int read_vlen(hid_t a, hid_t ft, char **v) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    char *s = NULL;
    int rc = (mt >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 &&
              H5Tset_cset(mt, H5Tget_cset(ft)) >= 0 && H5Aread(a, mt, &s) >= 0)
                 ? 1
                 : -1;
    if (rc == 1) {
        *v = strdup(s ? s : "");
        if (!*v) rc = -1;
    }
    if (s) H5free_memory(s);
    aq_h5_close_id(mt);
    return rc;
}

static int read_fixed(hid_t a, hid_t ft, char **v) {
    size_t n = H5Tget_size(ft);
    if (n == 0) return -1;
    char *buf = calloc(n + 1, 1);
    hid_t mt = buf ? H5Tcopy(H5T_C_S1) : -1;
    /* One byte more than the file type, null-terminated: no character is lost whatever
     * padding the writer used. */
    int rc = (mt >= 0 && H5Tset_size(mt, n + 1) >= 0 && H5Tset_strpad(mt, H5T_STR_NULLTERM) >= 0 &&
              H5Tset_cset(mt, H5Tget_cset(ft)) >= 0 && H5Aread(a, mt, buf) >= 0)
                 ? 1
                 : -1;
    aq_h5_close_id(mt);
    if (rc == 1) {
        buf[n] = '\0';
        *v = buf;
    } else {
        free(buf);
    }
    return rc;
}

int aq_calib_attr_str(hid_t loc, const char *name, char **v) {
    hid_t a, ft;
    *v = NULL;
    int rc = open_attr(loc, name, H5T_STRING, &a, &ft);
    if (rc <= 0) return rc;
    htri_t var = H5Tis_variable_str(ft);
    rc = var < 0 ? -1 : var ? read_vlen(a, ft, v) : read_fixed(a, ft, v);
    aq_h5_close_id(ft);
    aq_h5_close_id(a);
    return rc;
}
