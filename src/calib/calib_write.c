/*
 * aq-mpi — writing a calibration file (docs/DESIGN.md §6.3) through "<path>.partial" + rename.
 * Datasets are plain contiguous (no filter), so any HDF5 reader opens the file without
 * plugins; the statistics are small next to the weights.
 */
#include "calib_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every layer consistent and with the same T; the same checks load applies, as AQ_E_VALUE,
 * so we never write a file we would refuse to read. */
static aq_status check_layers(const char *path, const aq_layer_stats *L, size_t n, aq_err *err) {
    if (n == 0 || !L) return aq_err_set(err, AQ_E_VALUE, "%s: no layers to write", path);
    for (size_t i = 0; i < n; ++i) {
        const char *nm = L[i].name;
        if (!nm[0] || strchr(nm, '/') || !strcmp(nm, ".") || !strcmp(nm, ".."))
            return aq_err_set(err, AQ_E_VALUE,
                              "%s: layer name \"%s\" not usable as an HDF5 "
                              "link",
                              path, nm);
        if (L[i].T != L[0].T)
            return aq_err_set(err, AQ_E_VALUE, "%s: layer %s has T=%d, layer %s has T=%d", path, nm,
                              L[i].T, L[0].name, L[0].T);
        if (aq_layer_stats_check(&L[i], path, err) != AQ_OK) {
            if (err) err->code = AQ_E_VALUE; /* keep the message: it names layer and step */
            return AQ_E_VALUE;
        }
        for (size_t k = 0; k < i; ++k)
            if (!strcmp(L[k].name, nm))
                return aq_err_set(err, AQ_E_VALUE, "%s: layer %s given twice", path, nm);
    }
    return AQ_OK;
}

static int put(hid_t g, const char *name, hid_t ftype, hid_t mtype, int rank, const hsize_t *dims,
               const void *buf, hid_t *keep) {
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = s < 0 ? -1 : H5Dcreate2(g, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (d < 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) ? -1 : 0;
    aq_h5_close_id(s);
    if (keep && rc == 0)
        *keep = d;
    else if (aq_h5_close_id(d) < 0)
        rc = -1;
    return rc;
}

static int put_i32_attr(hid_t loc, const char *name, int v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = s < 0 ? -1 : H5Acreate2(loc, name, H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, H5T_NATIVE_INT, &v) < 0) ? -1 : 0;
    if (aq_h5_close_id(a) < 0) rc = -1;
    aq_h5_close_id(s);
    return rc;
}

/* Fixed-length, null-terminated UTF-8: the text lives in the (checksummed) object header.
 * Variable-length strings would sit in HDF5's global heap, which has no checksum and which
 * HDF5 1.10 parses unsafely when damaged.  h5py returns these as bytes. */
static int put_str_attr(hid_t loc, const char *name, const char *v) {
    const char *val = v ? v : "";
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    int rc = (t < 0 || s < 0 || H5Tset_size(t, strlen(val) + 1) < 0 ||
              H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)
                 ? -1
                 : 0;
    hid_t a = rc < 0 ? -1 : H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, t, val) < 0) rc = -1;
    if (aq_h5_close_id(a) < 0) rc = -1;
    aq_h5_close_id(s);
    aq_h5_close_id(t);
    return rc;
}

static int put_layer(hid_t stats, const aq_layer_stats *s) {
    hid_t g = H5Gcreate2(stats, s->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    hsize_t d1[1] = {(hsize_t)s->T}, d2[2] = {(hsize_t)s->T, (hsize_t)s->in};
    int rc = 0;
    for (int i = 0; rc == 0 && i < AQ_CALIB_N_SCALARS; ++i)
        rc = put(g, aq_calib_scalar_names[i], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d1,
                 aq_calib_scalar(s, i), NULL);
    if (rc == 0) rc = put(g, "sq_mean", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, s->sq_mean, NULL);
    if (rc == 0) rc = put(g, "absmax", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, s->absmax, NULL);
    if (rc == 0 && s->B > 0) {
        hsize_t dh[2] = {(hsize_t)s->T, (hsize_t)s->B};
        hid_t h = -1;
        rc = put(g, "hist", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dh, s->hist, &h);
        if (rc == 0) rc = put_i32_attr(h, "B", s->B);
        if (aq_h5_close_id(h) < 0) rc = -1;
    }
    if (aq_h5_close_id(g) < 0) rc = -1;
    return rc;
}

typedef struct {
    const char *source, *timestep;
    const aq_layer_stats *L;
    size_t n;
} write_job;

/* Synthetic if any layer is: a file is labelled synthetic as soon as one number is. */
static int any_synthetic(const write_job *j) {
    for (size_t i = 0; i < j->n; ++i)
        if (j->L[i].synthetic) return 1;
    return 0;
}

/* The 1.8 file format (readable by every HDF5 >= 1.8, h5py included) checksums the
 * superblock and object headers, so a damaged file is refused with an error by the
 * library instead of being parsed into garbage. */
static hid_t create_file(const char *partial) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    hid_t f = H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0
                  ? -1
                  : H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    aq_h5_close_id(fapl);
    return f;
}

static aq_status write_file(const char *partial, const write_job *j, aq_err *err) {
    hid_t f = create_file(partial);
    int rc = f < 0 ? -1 : put_i32_attr(f, "T", j->L[0].T);
    if (rc == 0) rc = put_str_attr(f, "source", j->source);
    if (rc == 0) rc = put_str_attr(f, "timestep", j->timestep);
    if (rc == 0) rc = put_i32_attr(f, "synthetic", any_synthetic(j));
    hid_t stats = rc < 0 ? -1 : H5Gcreate2(f, "stats", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char *failed = rc < 0 ? "root attributes" : stats < 0 ? "group /stats" : NULL;
    const char *kind = "";
    for (size_t i = 0; !failed && i < j->n; ++i)
        if (put_layer(stats, &j->L[i]) < 0) {
            failed = j->L[i].name;
            kind = "layer ";
        }
    if (aq_h5_close_id(stats) < 0 && !failed) failed = "group /stats";
    if (f >= 0 && H5Fclose(f) < 0 && !failed) failed = "the file (close failed)";
    if (!failed) return AQ_OK;
    char d[256];
    aq_h5_error_desc(d, sizeof d);
    if (f < 0) return aq_err_set(err, AQ_E_HDF5, "cannot create HDF5 file %s: %s", partial, d);
    return aq_err_set(err, AQ_E_HDF5, "%s: writing %s%s: %s", partial, kind, failed, d);
}

aq_status aq_calib_write(const char *path, const char *source, const char *timestep,
                         const aq_layer_stats *layers, size_t n, aq_err *err) {
    if (!path || !path[0]) return aq_err_set(err, AQ_E_VALUE, "aq_calib_write: missing path");
    aq_status st = check_layers(path, layers, n, err);
    if (st != AQ_OK) return st;
    size_t len = strlen(path);
    char *partial = malloc(len + sizeof ".partial");
    if (!partial) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    memcpy(partial, path, len);
    memcpy(partial + len, ".partial", sizeof ".partial");
    /* Probe with open() so a missing directory reads as the OS's reason, not HDF5's. */
    int fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        st = aq_err_set(err, AQ_E_IO, "cannot create %s: %s", partial, strerror(errno));
        free(partial);
        return st;
    }
    close(fd);
    write_job j = {source, timestep, layers, n};
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    st = write_file(partial, &j, err);
    aq_h5_quiet_end(&q);
    if (st == AQ_OK && rename(partial, path) != 0)
        st = aq_err_set(err, AQ_E_IO, "cannot rename %s to %s: %s", partial, path, strerror(errno));
    if (st != AQ_OK) unlink(partial);
    free(partial);
    return st;
}
