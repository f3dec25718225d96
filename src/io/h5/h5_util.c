/*
 * aq-mpi — HDF5 helpers of the result files: attributes, float16 type (the error plumbing is
 * include/aq/h5util.h).
 */
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hid_t aq_h5_f16_type(void) {
    /* Same recipe as h5py's float16: a float32 reshaped to 1+5+10 bits, bias 15. */
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 ||
        H5Tset_ebias(t, 15) < 0) {
        aq_h5_close_id(t);
        return -1;
    }
    return t;
}

/* Creates and writes one attribute; closes everything it opened. */
static int attr_write(hid_t loc, const char *name, hid_t type, hid_t space, const void *v) {
    if (type < 0 || space < 0) return -1;
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, type, v) < 0) ? -1 : 0;
    if (aq_h5_close_id(a) < 0) rc = -1;
    return rc;
}

static int attr_scalar(hid_t loc, const char *name, hid_t type, const void *v) {
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = attr_write(loc, name, type, s, v);
    aq_h5_close_id(s);
    return rc;
}

int aq_h5_attr_str(hid_t loc, const char *name, const char *value) {
    /* Variable-length UTF-8: h5py returns str (fixed-length would come back as bytes). */
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    int rc = (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) ? -1 : 0;
    const char *v = value ? value : "";
    if (rc == 0) rc = attr_scalar(loc, name, t, &v);
    aq_h5_close_id(t);
    return rc;
}

int aq_h5_attr_i32(hid_t loc, const char *name, int32_t value) {
    return attr_scalar(loc, name, H5T_STD_I32LE, &value);
}

int aq_h5_attr_f64(hid_t loc, const char *name, double value) {
    return attr_scalar(loc, name, H5T_IEEE_F64LE, &value);
}

int aq_h5_attr_i64_array(hid_t loc, const char *name, const int64_t *v, int n) {
    hsize_t dims[1] = {(hsize_t)(n > 0 ? n : 0)};
    hid_t s = H5Screate_simple(1, dims, NULL);
    int64_t none = 0; /* a valid pointer for the empty case */
    int rc = attr_write(loc, name, H5T_STD_I64LE, s, n > 0 ? (const void *)v : &none);
    aq_h5_close_id(s);
    return rc;
}

const char *aq_h5_dtype_name(aq_dtype dt) {
    switch (dt) {
    case AQ_DT_F32:
        return "F32";
    case AQ_DT_F16:
        return "F16";
    case AQ_DT_BF16:
        return "BF16";
    }
    return NULL;
}

char *aq_h5_attr_read_str(hid_t loc, const char *name) {
    if (H5Aexists(loc, name) <= 0) return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), ft = a >= 0 ? H5Aget_type(a) : -1;
    char *out = NULL;
    if (ft >= 0 && H5Tget_class(ft) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(ft) > 0) {
            char *v = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            if (H5Aread(a, mt, &v) >= 0 && v) out = strdup(v);
            if (v) H5free_memory(v);
        } else {
            size_t n = H5Tget_size(ft);
            out = calloc(n + 1, 1);
            H5Tset_size(mt, n);
            if (out && H5Aread(a, mt, out) < 0) free(out), out = NULL;
        }
        aq_h5_close_id(mt);
    }
    aq_h5_close_id(ft);
    aq_h5_close_id(a);
    return out;
}
