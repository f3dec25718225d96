/*
 * aq-mpi — /source: the source model's files and their SHA-256 digests.
 *
 * Both datasets hold fixed-length strings so that they can be chunked and carry the
 * Fletcher32 checksum like every other dataset (variable-length strings cannot be filtered).
 */
#include "h5_internal.h"

#include <stdlib.h>
#include <string.h>

/* A fixed-length UTF-8 string type of `width` bytes, NUL-padded. */
static hid_t fixed_str(size_t width) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, width) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
                   H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        aq_h5_close_id(t);
        return -1;
    }
    return t;
}

/* Writes v[0..n) as one fixed-width string column (width = longest + 1). */
static int write_column(hid_t g, const char *name, size_t n, const char *const *v, int level) {
    size_t width = 1;
    for (size_t i = 0; i < n; ++i)
        if (strlen(v[i]) + 1 > width) width = strlen(v[i]) + 1;
    char *buf = calloc(n ? n : 1, width);
    hid_t t = buf ? fixed_str(width) : -1;
    if (t < 0) {
        free(buf);
        return -1;
    }
    for (size_t i = 0; i < n; ++i)
        memcpy(buf + i * width, v[i], strlen(v[i]));
    int rc = aq_h5_write_dataset_1d(g, name, t, n, buf, level);
    aq_h5_close_id(t);
    free(buf);
    return rc;
}

static int valid_digests(size_t n, const char *const *files, const char *const *hex) {
    if (n > 0 && (!files || !hex)) return 0;
    for (size_t i = 0; i < n; ++i) {
        if (!files[i] || !hex[i] || strlen(hex[i]) != 64) return 0;
        for (const char *p = hex[i]; *p; ++p)
            if (!strchr("0123456789abcdef", *p)) return 0;
    }
    return 1;
}

static aq_status source_impl(aq_h5_writer *w, size_t n, const char *const *files,
                             const char *const *hex, aq_err *err) {
    /* Idempotent: a resumed run rewrites the group it finds in the partial file. */
    if (H5Lexists(w->file, "source", H5P_DEFAULT) > 0 &&
        H5Ldelete(w->file, "source", H5P_DEFAULT) < 0)
        return aq_h5_fail(err, "replacing group /source");
    hid_t g = H5Gcreate2(w->file, "source", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return aq_h5_fail(err, "group /source");
    aq_status st = AQ_OK;
    if (write_column(g, "file", n, files, w->level) < 0)
        st = aq_h5_fail(err, "/source/file");
    else if (write_column(g, "sha256", n, hex, w->level) < 0)
        st = aq_h5_fail(err, "/source/sha256");
    else if (aq_h5_attr_str(g, "digest", "sha256") < 0)
        st = aq_h5_fail(err, "/source attributes");
    if (aq_h5_close_id(g) < 0 && st == AQ_OK) st = aq_h5_fail(err, "closing /source");
    return st;
}

aq_status aq_h5_write_source_digests(aq_h5_writer *w, size_t n, const char *const *files,
                                     const char *const *sha256hex, aq_err *err) {
    if (!w || !valid_digests(n, files, sha256hex))
        return aq_err_set(err, AQ_E_VALUE,
                          "/source: missing writer, file name or 64-digit hex digest");
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status st = source_impl(w, n, files, sha256hex, err);
    aq_h5_quiet_end(&q);
    return st;
}
