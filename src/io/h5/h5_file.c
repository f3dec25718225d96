/*
 * aq-mpi — result file lifecycle: create "<path>.partial", root attributes, commit by
 * rename, abort.
 */
#include "h5_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void aq_h5_writer_free(aq_h5_writer *w) {
    if (!w) return;
    free(w->path);
    free(w->partial);
    free(w);
}

aq_status aq_h5_writer_alloc(const char *path, int level, aq_h5_writer **out, aq_err *err) {
    aq_h5_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (w) {
        w->file = w->tensors = -1;
        w->level = level;
        w->path = strdup(path);
        w->partial = malloc(n + sizeof ".partial");
    }
    if (!w || !w->path || !w->partial) {
        aq_h5_writer_free(w);
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->partial, path, n);
    memcpy(w->partial + n, ".partial", sizeof ".partial");
    *out = w;
    return AQ_OK;
}

/* HDF5's own message for a missing directory is a stack of "unable to open file"; probe
 * with open() first so the user reads the path and strerror(). */
static aq_status probe_writable(const char *partial, aq_err *err) {
    int fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return aq_err_set(err, AQ_E_IO, "cannot create %s: %s", partial, strerror(errno));
    close(fd);
    return AQ_OK;
}

/* The 1.10 file format checksums the superblock, object headers (attributes included) and
 * the chunk indexes; Fletcher32 covers the chunks.  A flipped byte anywhere but in unused
 * space or the global heap of variable-length strings (covered by the *_sha256 digests)
 * makes HDF5 refuse the object.  The 1.8 format would leave v1 B-tree nodes unchecked. */
hid_t aq_h5_fapl_checksummed(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) < 0) {
        aq_h5_close_id(fapl);
        return -1;
    }
    return fapl;
}

static hid_t create_checksummed(const char *partial) {
    hid_t fapl = aq_h5_fapl_checksummed();
    hid_t f = fapl < 0 ? -1 : H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    aq_h5_close_id(fapl);
    return f;
}

/* The string attributes live in the global heap, which HDF5 does not checksum: attribute
 * root_sha256 = SHA-256 of format, producer, created, config and source_model, each
 * followed by one NUL byte (64 hex digits), lets aq-inspect --verify check them. */
static int root_digest(hid_t f, const aq_h5_root_info *r) {
    const char *v[] = {AQ_FORMAT_NAME, r->producer, r->created, r->config_text, r->source_model};
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) {
        const char *s = v[i] ? v[i] : "";
        sha256_update(&ctx, strlen(s) + 1, (const uint8_t *)s);
    }
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof d, d);
    char hex[2 * SHA256_DIGEST_SIZE + 1];
    for (size_t i = 0; i < sizeof d; ++i)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return aq_h5_attr_str(f, "root_sha256", hex);
}

static aq_status write_root(hid_t f, const aq_h5_root_info *r, aq_err *err) {
    int rc = aq_h5_attr_str(f, "format", AQ_FORMAT_NAME);
    if (rc == 0) rc = aq_h5_attr_str(f, "producer", r->producer);
    if (rc == 0) rc = aq_h5_attr_str(f, "created", r->created);
    if (rc == 0) rc = aq_h5_attr_str(f, "config", r->config_text);
    if (rc == 0) rc = aq_h5_attr_str(f, "source_model", r->source_model);
    if (rc == 0) rc = aq_h5_attr_i32(f, "ranks", r->ranks);
    if (rc == 0) rc = aq_h5_attr_i32(f, "threads", r->threads);
    if (rc == 0) rc = root_digest(f, r);
    return rc == 0 ? AQ_OK : aq_h5_fail(err, "root attributes");
}

static aq_status create_impl(const char *path, int level, const aq_h5_root_info *root,
                             aq_h5_writer **out, aq_err *err) {
    aq_h5_writer *w = NULL;
    aq_status st = aq_h5z_zstd_register(err);
    if (st == AQ_OK) st = aq_h5_writer_alloc(path, level, &w, err);
    if (st == AQ_OK) st = probe_writable(w->partial, err);
    if (st == AQ_OK) {
        w->file = create_checksummed(w->partial);
        if (w->file < 0) {
            char what[AQ_ERR_MSG_MAX / 2];
            snprintf(what, sizeof what, "cannot create HDF5 file %s", w->partial);
            st = aq_h5_fail(err, what);
        }
    }
    if (st == AQ_OK) st = write_root(w->file, root, err);
    if (st == AQ_OK) {
        w->tensors = H5Gcreate2(w->file, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (w->tensors < 0) st = aq_h5_fail(err, "group /tensors");
    }
    if (st != AQ_OK) {
        /* Nothing useful was written: do not leave a half-made partial behind. */
        aq_h5_abort(w, 0);
        return st;
    }
    *out = w;
    return AQ_OK;
}

aq_status aq_h5_create(const char *path, int level, const aq_h5_root_info *root, aq_h5_writer **out,
                       aq_err *err) {
    if (!path || !path[0] || !root || !out)
        return aq_err_set(err, AQ_E_VALUE, "aq_h5_create: missing path, root info or out");
    *out = NULL;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status st = create_impl(path, level, root, out, err);
    aq_h5_quiet_end(&q);
    return st;
}

/* Closes /tensors and the file; any failure means data may not be on disk. */
static int writer_close(aq_h5_writer *w) {
    int rc = aq_h5_close_id(w->tensors);
    w->tensors = -1;
    if (w->file >= 0 && H5Fclose(w->file) < 0) rc = -1;
    w->file = -1;
    return rc;
}

aq_status aq_h5_commit(aq_h5_writer *w, aq_err *err) {
    if (!w) return aq_err_set(err, AQ_E_VALUE, "aq_h5_commit: no writer");
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status st = AQ_OK;
    if (writer_close(w) < 0) {
        char what[AQ_ERR_MSG_MAX / 2];
        snprintf(what, sizeof what, "closing %s", w->partial);
        st = aq_h5_fail(err, what);
    } else if (rename(w->partial, w->path) != 0) {
        st = aq_err_set(err, AQ_E_IO, "cannot rename %s to %s: %s", w->partial, w->path,
                        strerror(errno));
    }
    aq_h5_quiet_end(&q);
    aq_h5_writer_free(w);
    return st;
}

void aq_h5_abort(aq_h5_writer *w, int keep_partial) {
    if (!w) return;
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    /* A file that is thrown away is emptied first: on a full disk the close's final flush
     * would fail, and libhdf5 (1.10) then crashes when it closes the file again at exit. */
    if (!keep_partial && truncate(w->partial, 0) == 0 && w->file >= 0)
        H5Fflush(w->file, H5F_SCOPE_GLOBAL); /* a flush that failed for space, retried */
    writer_close(w);
    H5Eclear2(H5E_DEFAULT);
    aq_h5_quiet_end(&q);
    if (!keep_partial) unlink(w->partial);
    aq_h5_writer_free(w);
}
