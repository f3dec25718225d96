/*
 * aq-mpi — aq-inspect: HDF5 helpers (attributes, digests, opening).
 */
#include "inspect_internal.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aq/h5out.h"

static int read_str(hid_t a, hid_t ft, char *buf, size_t size) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    int rc = -1;
    if (H5Tis_variable_str(ft) > 0) {
        char *s = NULL;
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        if (H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(buf, size, "%s", s);
            H5free_memory(s);
            rc = 0;
        }
    } else {
        size_t n = H5Tget_size(ft);
        char *s = calloc(n + 1, 1);
        H5Tset_size(mt, n);
        if (s && H5Aread(a, mt, s) >= 0) {
            snprintf(buf, size, "%s", s);
            rc = 0;
        }
        free(s);
    }
    aq_h5_close_id(mt);
    return rc;
}

int ins_attr_str(hid_t loc, const char *name, char *buf, size_t size) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), ft = a >= 0 ? H5Aget_type(a) : -1;
    int rc = ft >= 0 && H5Tget_class(ft) == H5T_STRING ? read_str(a, ft, buf, size) : -1;
    aq_h5_close_id(ft);
    aq_h5_close_id(a);
    return rc;
}

int ins_attr_num(hid_t loc, const char *name, hid_t memtype, void *v) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), s = a >= 0 ? H5Aget_space(a) : -1;
    int ok = s >= 0 && H5Sget_simple_extent_npoints(s) == 1;
    int rc = ok && H5Aread(a, memtype, v) >= 0 ? 0 : -1;
    aq_h5_close_id(s);
    aq_h5_close_id(a);
    return rc;
}

int ins_attr_shape(hid_t loc, const char *name, int64_t *v, int max, int *n) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), s = a >= 0 ? H5Aget_space(a) : -1;
    int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    hssize_t np = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    int rc = -1;
    if (nd == 1 && np >= 0 && np <= max) {
        int64_t buf[8] = {0};
        if (np == 0 || H5Aread(a, H5T_NATIVE_INT64, buf) >= 0) {
            memcpy(v, buf, (size_t)np * sizeof *v);
            *n = (int)np;
            rc = 0;
        }
    }
    aq_h5_close_id(s);
    aq_h5_close_id(a);
    return rc;
}

void ins_sha256_strings(const char *const *v, size_t n, char hex[65]) {
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    for (size_t i = 0; i < n; ++i) {
        const char *s = v[i] ? v[i] : "";
        sha256_update(&ctx, strlen(s) + 1, (const uint8_t *)s);
    }
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof d, d);
    for (size_t i = 0; i < sizeof d; ++i)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

hid_t ins_open(const char *path, aq_err *err) {
    if (access(path, R_OK) != 0) {
        aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (aq_h5z_zstd_register(err) != AQ_OK) return -1;
    if (H5Fis_hdf5(path) <= 0) {
        aq_err_set(err, AQ_E_FORMAT, "%s: not an HDF5 file (or its superblock is damaged)", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char fmt[64];
    if (f < 0) {
        aq_err_set(err, AQ_E_FORMAT, "%s: cannot open as HDF5 (damaged metadata?)", path);
    } else if (ins_attr_str(f, "format", fmt, sizeof fmt) != 0 || strcmp(fmt, AQ_FORMAT_NAME)) {
        aq_err_set(err, AQ_E_FORMAT, "%s: not an %s result file (format attribute)", path,
                   AQ_FORMAT_NAME);
        aq_h5_close_id(f);
        f = -1;
    }
    return f;
}

int ins_dims(hid_t d, hsize_t *dims) {
    hid_t s = H5Dget_space(d);
    int nd = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (nd > 8) nd = -1;
    if (nd >= 0) H5Sget_simple_extent_dims(s, dims, NULL);
    aq_h5_close_id(s);
    return nd;
}
