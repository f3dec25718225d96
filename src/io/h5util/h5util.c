/*
 * aq-mpi — HDF5 plumbing (include/aq/h5util.h): quiet error stack, innermost error message,
 * closing handles.
 */
#include "aq/h5util.h"

#include <stdio.h>
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

/* The innermost record with a description: a downward walk goes from the API call to where
 * the error arose, so the last record seen is the most specific.  Each walker below keeps
 * that record in its own form. */
typedef struct {
    char *buf;
    size_t n;
} desc_out;

static herr_t keep_desc(unsigned i, const H5E_error2_t *e, void *data) {
    (void)i;
    desc_out *o = data;
    if (e && e->desc && e->desc[0]) snprintf(o->buf, o->n, "%s", e->desc);
    return 0;
}

const char *aq_h5_error_desc(char *buf, size_t n) {
    if (!buf || n == 0) return "";
    buf[0] = '\0';
    desc_out o = {buf, n};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_desc, &o);
    H5Eclear2(H5E_DEFAULT);
    if (!buf[0]) snprintf(buf, n, "HDF5 error");
    return buf;
}

/* Copies the text after `key` up to the next quote into out[n]; 0 when found. */
static int quoted_field(const char *s, const char *key, char *out, size_t n) {
    const char *p = strstr(s, key), *q = p ? strchr(p + strlen(key), '\'') : NULL;
    if (!q) return -1;
    p += strlen(key);
    snprintf(out, n, "%.*s", (int)(q - p), p);
    return 0;
}

/* aq_h5_fail()'s form of the record. */
static herr_t keep_located(unsigned i, const H5E_error2_t *e, void *data) {
    (void)i;
    desc_out *o = data;
    if (!e || !e->desc || !e->desc[0]) return 0;
    /* The sec2 driver's write/read failures carry the OS message among a dump of fields
     * (time, descriptor, buffer address): keep "<filename>: <strerror>" only. */
    char file[160], msg[80];
    if (quoted_field(e->desc, "filename = '", file, sizeof file) == 0 &&
        quoted_field(e->desc, "error message = '", msg, sizeof msg) == 0)
        snprintf(o->buf, o->n, "%s: %s", file, msg);
    else
        snprintf(o->buf, o->n, "%s (in %s)", e->desc, e->func_name ? e->func_name : "?");
    return 0;
}

aq_status aq_h5_fail(aq_err *err, const char *what) {
    char desc[256] = "";
    desc_out o = {desc, sizeof desc};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_located, &o);
    H5Eclear2(H5E_DEFAULT);
    return aq_err_set(err, AQ_E_HDF5, "%s: %s", what, desc[0] ? desc : "HDF5 error");
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
    hid_t saved = H5Eget_num(H5E_DEFAULT) > 0 ? H5Eget_current_stack() : -1;
    int rc = close_by_type(id) < 0 ? -1 : 0;
    if (saved >= 0) H5Eset_current_stack(saved);
    return rc;
}
