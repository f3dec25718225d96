/*
 * aq-mpi — streaming safetensors writer.
 *
 * The header must precede the data, so tensors are declared first and their bytes are then
 * appended in declaration order; nothing but the header is ever held in memory.  Output goes
 * to "<path>.tmp" and is renamed over `path` only when complete, so a reader never sees a
 * half-written file under the final name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

typedef struct {
    char *name;
    aq_dtype dtype;
    int ndim;
    int64_t shape[AQ_ST_MAX_DIMS];
    uint64_t nbytes;
} st_decl;

struct aq_st_writer {
    char *path, *tmp;
    FILE *fp;
    st_decl *decl;
    size_t ndecl, cap;
    json_t *meta;
    int header_done, failed;
    uint64_t total, written;
};

static void writer_free(aq_st_writer *w) {
    for (size_t i = 0; i < w->ndecl; ++i)
        free(w->decl[i].name);
    free(w->decl);
    json_decref(w->meta);
    free(w->path);
    free(w->tmp);
    free(w);
}

aq_status aq_st_writer_create(const char *path, aq_st_writer **out, aq_err *err) {
    *out = NULL;
    aq_st_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (w) {
        w->path = st_strdup(path);
        w->tmp = malloc(n + 5);
        w->meta = json_object();
    }
    if (!w || !w->path || !w->tmp || !w->meta) {
        if (w) writer_free(w);
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    w->fp = fopen(w->tmp, "wb");
    if (!w->fp) {
        aq_status st = aq_err_set(err, AQ_E_IO, "%s: %s", w->tmp, strerror(errno));
        writer_free(w);
        return st;
    }
    *out = w;
    return AQ_OK;
}

static aq_status check_decl(aq_st_writer *w, const char *name, aq_dtype dtype, int ndim,
                            const int64_t *shape, uint64_t *nbytes, aq_err *err) {
    if (w->header_done)
        return aq_err_set(err, AQ_E_VALUE, "%s: tensor '%s' declared after data was written",
                          w->path, name);
    if (strcmp(name, "__metadata__") == 0 || ndim < 0 || ndim > AQ_ST_MAX_DIMS ||
        (ndim > 0 && !shape) || (unsigned)dtype > AQ_DT_BF16)
        return aq_err_set(err, AQ_E_VALUE, "%s: tensor '%s': invalid name, dtype or ndim", w->path,
                          name);
    for (size_t i = 0; i < w->ndecl; ++i)
        if (strcmp(w->decl[i].name, name) == 0)
            return aq_err_set(err, AQ_E_VALUE, "%s: tensor '%s' declared twice", w->path, name);
    uint64_t n = aq_dtype_size(dtype);
    for (int i = 0; i < ndim; ++i)
        if (shape[i] < 0 || __builtin_mul_overflow(n, (uint64_t)shape[i], &n))
            return aq_err_set(err, AQ_E_VALUE, "%s: tensor '%s': bad or overflowing shape", w->path,
                              name);
    if (__builtin_add_overflow(w->total, n, &w->total))
        return aq_err_set(err, AQ_E_VALUE, "%s: total size overflows", w->path);
    *nbytes = n;
    return AQ_OK;
}

aq_status aq_st_writer_declare(aq_st_writer *w, const char *name, aq_dtype dtype, int ndim,
                               const int64_t *shape, aq_err *err) {
    uint64_t nbytes = 0;
    aq_status st = check_decl(w, name, dtype, ndim, shape, &nbytes, err);
    if (st != AQ_OK) return st;
    if (w->ndecl == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        st_decl *d = realloc(w->decl, cap * sizeof *d);
        if (!d) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", w->path);
        w->decl = d;
        w->cap = cap;
    }
    st_decl *d = &w->decl[w->ndecl];
    memset(d, 0, sizeof *d);
    if (!(d->name = st_strdup(name)))
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", w->path);
    d->dtype = dtype;
    d->ndim = ndim;
    if (ndim > 0) memcpy(d->shape, shape, (size_t)ndim * sizeof *shape);
    d->nbytes = nbytes;
    w->ndecl++;
    return AQ_OK;
}

aq_status aq_st_writer_metadata(aq_st_writer *w, const char *key, const char *value, aq_err *err) {
    if (w->header_done)
        return aq_err_set(err, AQ_E_VALUE, "%s: metadata '%s' added after data was written",
                          w->path, key);
    if (json_object_set_new(w->meta, key, json_string(value)) != 0)
        return aq_err_set(err, AQ_E_VALUE, "%s: metadata '%s' is not valid UTF-8", w->path, key);
    return AQ_OK;
}

/* The header JSON: "__metadata__" first (when any), then tensors in declaration order. */
static json_t *header_json(const aq_st_writer *w) {
    json_t *h = json_object();
    if (h && json_object_size(w->meta) > 0) json_object_set(h, "__metadata__", w->meta);
    uint64_t off = 0;
    for (size_t i = 0; h && i < w->ndecl; ++i) {
        const st_decl *d = &w->decl[i];
        json_t *shape = json_array();
        for (int k = 0; shape && k < d->ndim; ++k)
            json_array_append_new(shape, json_integer(d->shape[k]));
        json_t *e =
            json_pack("{s:s, s:o, s:[I,I]}", "dtype", aq_dtype_name(d->dtype), "shape", shape,
                      "data_offsets", (json_int_t)off, (json_int_t)(off + d->nbytes));
        if (!e || json_object_set_new(h, d->name, e) != 0) {
            json_decref(h);
            return NULL;
        }
        off += d->nbytes;
    }
    return h;
}

static aq_status write_header(aq_st_writer *w, aq_err *err) {
    w->header_done = 1;
    json_t *h = header_json(w);
    char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (!text) return aq_err_set(err, AQ_E_NOMEM, "%s: cannot build the header", w->path);
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    unsigned char len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len, 1, 8, w->fp) == 8 && fwrite(text, 1, n, w->fp) == n;
    for (size_t i = n; ok && i < padded; ++i)
        ok = fputc(' ', w->fp) != EOF;
    free(text);
    return ok ? AQ_OK : aq_err_set(err, AQ_E_IO, "%s: write: %s", w->tmp, strerror(errno));
}

aq_status aq_st_writer_data(aq_st_writer *w, const void *data, size_t nbytes, aq_err *err) {
    aq_status st =
        w->failed ? aq_err_set(err, AQ_E_VALUE, "%s: writer already failed", w->path) : AQ_OK;
    if (st == AQ_OK && !w->header_done) st = write_header(w, err);
    if (st == AQ_OK && nbytes > w->total - w->written)
        st = aq_err_set(err, AQ_E_VALUE, "%s: %zu more data bytes than the %llu declared", w->path,
                        nbytes, (unsigned long long)w->total);
    if (st == AQ_OK && nbytes > 0 && fwrite(data, 1, nbytes, w->fp) != nbytes)
        st = aq_err_set(err, AQ_E_IO, "%s: write: %s", w->tmp, strerror(errno));
    if (st != AQ_OK) {
        w->failed = 1;
        return st;
    }
    w->written += nbytes;
    return AQ_OK;
}

aq_status aq_st_writer_finish(aq_st_writer *w, aq_err *err) {
    aq_status st = AQ_OK;
    if (!w->header_done) st = aq_st_writer_data(w, NULL, 0, err);
    if (st == AQ_OK && w->failed)
        st = aq_err_set(err, AQ_E_VALUE, "%s: writer already failed", w->path);
    if (st == AQ_OK && w->written != w->total)
        st = aq_err_set(err, AQ_E_VALUE, "%s: %llu data bytes written, %llu declared", w->path,
                        (unsigned long long)w->written, (unsigned long long)w->total);
    int closed = fclose(w->fp);
    w->fp = NULL;
    if (st == AQ_OK && closed != 0)
        st = aq_err_set(err, AQ_E_IO, "%s: close: %s", w->tmp, strerror(errno));
    if (st == AQ_OK && rename(w->tmp, w->path) != 0)
        st = aq_err_set(err, AQ_E_IO, "%s: rename to %s: %s", w->tmp, w->path, strerror(errno));
    if (st != AQ_OK) remove(w->tmp);
    writer_free(w);
    return st;
}

void aq_st_writer_abort(aq_st_writer *w) {
    if (!w) return;
    if (w->fp) fclose(w->fp);
    remove(w->tmp);
    writer_free(w);
}
