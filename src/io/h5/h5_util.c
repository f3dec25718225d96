/*
 * aq-mpi — HDF5 helpers: quiet error handling, attributes, float16 type.
 */
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void aq_h5_quiet_begin(aq_h5_quiet *q) {
    q->func = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void aq_h5_quiet_end(const aq_h5_quiet *q) {
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

typedef struct {
    char desc[256];
} innermost_err;

/* The walk goes from the API call down to where the error arose; keep the last, most
 * specific description (e.g. "unable to open file" rather than "not a file"). */
/* Copies the text after `key` up to the next quote into out[n]; 0 when found. */
static int quoted_field(const char *s, const char *key, char *out, size_t n) {
    const char *p = strstr(s, key), *q = p ? strchr(p + strlen(key), '\'') : NULL;
    if (!q) return -1;
    p += strlen(key);
    snprintf(out, n, "%.*s", (int)(q - p), p);
    return 0;
}

static herr_t keep_innermost(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    innermost_err *out = data;
    if (!e || !e->desc || !e->desc[0]) return 0;
    /* The sec2 driver's write/read failures carry the OS message among a dump of fields
     * (time, descriptor, buffer address): keep "<filename>: <strerror>" only. */
    char file[160], msg[80];
    if (quoted_field(e->desc, "filename = '", file, sizeof file) == 0 &&
        quoted_field(e->desc, "error message = '", msg, sizeof msg) == 0)
        snprintf(out->desc, sizeof out->desc, "%s: %s", file, msg);
    else
        snprintf(out->desc, sizeof out->desc, "%s (in %s)", e->desc,
                 e->func_name ? e->func_name : "?");
    return 0;
}

aq_status aq_h5_fail(aq_err *err, const char *what) {
    innermost_err e = {{0}};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_innermost, &e);
    H5Eclear2(H5E_DEFAULT);
    return aq_err_set(err, AQ_E_HDF5, "%s: %s", what, e.desc[0] ? e.desc : "HDF5 error");
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

int aq_h5_close_id(hid_t id) {
    if (id < 0) return 0;
    /* Every HDF5 API call clears the error stack on entry; keep the error that made us
     * clean up so aq_h5_fail() can still report it. */
    hid_t saved = H5Eget_num(H5E_DEFAULT) > 0 ? H5Eget_current_stack() : -1;
    int rc = close_by_type(id) < 0 ? -1 : 0;
    if (saved >= 0) H5Eset_current_stack(saved);
    return rc;
}

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
