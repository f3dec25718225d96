/*
 * aq-mpi — GGUF v3 writer: tensor declarations, header, streamed data, atomic rename.
 * Format and llama.cpp's requirements: include/aq/gguf.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_internal.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian uint32 */

static void writer_free(aq_gguf_writer *w) {
    for (size_t i = 0; i < w->nkeys; ++i)
        free(w->keys[i]);
    for (size_t i = 0; i < w->nt; ++i)
        free(w->t[i].name);
    free(w->keys);
    free(w->t);
    free(w->kv.p);
    free(w->path);
    free(w->tmp);
    free(w);
}

aq_status aq_gguf_writer_create(const char *path, uint32_t alignment, aq_gguf_writer **out,
                                aq_err *err) {
    *out = NULL;
    if (alignment == 0) alignment = AQ_GGUF_DEFAULT_ALIGNMENT;
    if (alignment & (alignment - 1))
        return aq_err_set(err, AQ_E_VALUE, "%s: GGUF alignment %u is not a power of two", path,
                          alignment);
    aq_gguf_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (w) {
        w->path = malloc(n + 1);
        w->tmp = malloc(n + sizeof ".partial");
    }
    if (!w || !w->path || !w->tmp) {
        if (w) writer_free(w);
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->path, path, n + 1);
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".partial", sizeof ".partial");
    w->alignment = alignment;
    aq_status st = aq_gguf_kv_u32(w, "general.alignment", alignment, err);
    if (st == AQ_OK) {
        w->fp = fopen(w->tmp, "wb");
        if (!w->fp) st = aq_err_set(err, AQ_E_IO, "%s: %s", w->tmp, strerror(errno));
    }
    if (st != AQ_OK) {
        writer_free(w);
        return st;
    }
    *out = w;
    return AQ_OK;
}

static uint64_t pad_to(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

static aq_status check_tensor(const aq_gguf_writer *w, const char *name, aq_ggml_type type,
                              int n_dims, const int64_t *ne, uint64_t *nbytes, aq_err *err) {
    if (!name || !*name || strlen(name) > AQ_GGUF_MAX_NAME)
        return aq_err_set(err, AQ_E_VALUE, "%s: tensor name '%s' empty or longer than %d bytes",
                          w->path, name ? name : "", AQ_GGUF_MAX_NAME);
    for (size_t i = 0; i < w->nt; ++i)
        if (strcmp(w->t[i].name, name) == 0)
            return aq_err_set(err, AQ_E_VALUE, "%s: tensor %s declared twice", w->path, name);
    if (n_dims < 1 || n_dims > AQ_GGUF_MAX_DIMS || !ne)
        return aq_err_set(err, AQ_E_VALUE, "%s: tensor %s: %d dimensions (1..%d)", w->path, name,
                          n_dims, AQ_GGUF_MAX_DIMS);
    const char *tname = NULL;
    int64_t be = 0;
    if (aq_ggml_type_info((int)type, &be, NULL, &tname) != 0)
        return aq_err_set(err, AQ_E_VALUE, "%s: tensor %s: unknown ggml type %d", w->path, name,
                          (int)type);
    uint64_t bytes = aq_ggml_row_bytes((int)type, ne[0]);
    if (bytes == 0)
        return aq_err_set(err, AQ_E_VALUE,
                          "%s: tensor %s: row length %lld is not a positive multiple of %s's "
                          "block size %lld",
                          w->path, name, (long long)ne[0], tname, (long long)be);
    for (int d = 1; d < n_dims; ++d) {
        if (ne[d] <= 0 || bytes > UINT64_MAX / 2 / (uint64_t)ne[d])
            return aq_err_set(err, AQ_E_VALUE, "%s: tensor %s: bad dimension ne[%d] = %lld",
                              w->path, name, d, (long long)ne[d]);
        bytes *= (uint64_t)ne[d];
    }
    *nbytes = bytes;
    return AQ_OK;
}

aq_status aq_gguf_add_tensor(aq_gguf_writer *w, const char *name, aq_ggml_type type, int n_dims,
                             const int64_t *ne, aq_err *err) {
    aq_status st = gg_check_open(w, name ? name : "(null tensor)", err);
    uint64_t nbytes = 0;
    if (st == AQ_OK) st = check_tensor(w, name, type, n_dims, ne, &nbytes, err);
    if (st != AQ_OK) return st;
    if (w->nt == w->capt) {
        size_t cap = w->capt ? 2 * w->capt : 64;
        gg_tensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", w->path);
        w->t = t;
        w->capt = cap;
    }
    gg_tensor *t = &w->t[w->nt];
    memset(t, 0, sizeof *t);
    size_t n = strlen(name) + 1;
    t->name = malloc(n);
    if (!t->name) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", w->path);
    memcpy(t->name, name, n);
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < n_dims; ++d)
        t->ne[d] = ne[d];
    t->nbytes = nbytes;
    t->offset = w->nt ? pad_to(w->t[w->nt - 1].offset + w->t[w->nt - 1].nbytes, w->alignment) : 0;
    w->nt++;
    return AQ_OK;
}

static aq_status fail_io(aq_gguf_writer *w, aq_err *err) {
    w->failed = 1;
    return aq_err_set(err, AQ_E_IO, "%s: write failed: %s", w->tmp, strerror(errno));
}

static aq_status write_zeros(aq_gguf_writer *w, uint64_t n, aq_err *err) {
    static const unsigned char zero[64];
    while (n) {
        size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
        if (fwrite(zero, 1, k, w->fp) != k) return fail_io(w, err);
        n -= k;
    }
    return AQ_OK;
}

/* Header: magic, version, counts, the key/value section, tensor infos, padding. */
static aq_status write_header(aq_gguf_writer *w, aq_err *err) {
    gg_buf h = {0};
    int bad = gg_buf_u32(&h, GGUF_MAGIC) || gg_buf_u32(&h, AQ_GGUF_VERSION) ||
              gg_buf_u64(&h, w->nt) || gg_buf_u64(&h, w->n_kv) || gg_buf_put(&h, w->kv.p, w->kv.n);
    for (size_t i = 0; !bad && i < w->nt; ++i) {
        const gg_tensor *t = &w->t[i];
        bad = gg_buf_str(&h, t->name) || gg_buf_u32(&h, (uint32_t)t->n_dims);
        for (int d = 0; !bad && d < t->n_dims; ++d)
            bad = gg_buf_u64(&h, (uint64_t)t->ne[d]);
        bad = bad || gg_buf_u32(&h, (uint32_t)t->type) || gg_buf_u64(&h, t->offset);
    }
    if (bad) {
        free(h.p);
        w->failed = 1;
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", w->path);
    }
    size_t k = fwrite(h.p, 1, h.n, w->fp);
    uint64_t padded = pad_to(h.n, w->alignment);
    free(h.p);
    if (k != h.n) return fail_io(w, err);
    w->header_done = 1;
    return write_zeros(w, padded - k, err);
}

/* After tensor w->cur is complete: pad to the alignment and move on. */
static aq_status next_tensor(aq_gguf_writer *w, aq_err *err) {
    const gg_tensor *t = &w->t[w->cur];
    aq_status st = write_zeros(w, pad_to(t->nbytes, w->alignment) - t->nbytes, err);
    w->cur++;
    w->cur_bytes = 0;
    return st;
}

aq_status aq_gguf_write(aq_gguf_writer *w, const void *data, size_t n, aq_err *err) {
    if (w->failed) return aq_err_set(err, AQ_E_VALUE, "%s: writer failed earlier", w->path);
    aq_status st = w->header_done ? AQ_OK : write_header(w, err);
    const unsigned char *p = data;
    while (st == AQ_OK && n > 0) {
        if (w->cur >= w->nt) {
            w->failed = 1;
            return aq_err_set(err, AQ_E_VALUE, "%s: more tensor data than declared", w->path);
        }
        const gg_tensor *t = &w->t[w->cur];
        uint64_t left = t->nbytes - w->cur_bytes;
        size_t k = n < left ? n : (size_t)left;
        if (fwrite(p, 1, k, w->fp) != k) return fail_io(w, err);
        p += k;
        n -= k;
        w->cur_bytes += k;
        if (w->cur_bytes == t->nbytes) st = next_tensor(w, err);
    }
    return st;
}

void aq_gguf_writer_abort(aq_gguf_writer *w) {
    if (!w) return;
    if (w->fp) fclose(w->fp);
    remove(w->tmp);
    writer_free(w);
}

aq_status aq_gguf_writer_finish(aq_gguf_writer *w, aq_err *err) {
    aq_status st = aq_gguf_write(w, NULL, 0, err);
    if (st == AQ_OK && w->cur < w->nt)
        st = aq_err_set(err, AQ_E_VALUE, "%s: tensor %s: %llu of %llu data bytes written", w->path,
                        w->t[w->cur].name, (unsigned long long)w->cur_bytes,
                        (unsigned long long)w->t[w->cur].nbytes);
    if (st != AQ_OK) {
        aq_gguf_writer_abort(w);
        return st;
    }
    int bad = fflush(w->fp) != 0;
    bad = fclose(w->fp) != 0 || bad;
    w->fp = NULL;
    if (bad) st = aq_err_set(err, AQ_E_IO, "%s: %s", w->tmp, strerror(errno));
    if (st == AQ_OK && rename(w->tmp, w->path) != 0)
        st = aq_err_set(err, AQ_E_IO, "%s: rename to %s: %s", w->tmp, w->path, strerror(errno));
    if (st != AQ_OK) remove(w->tmp);
    writer_free(w);
    return st;
}
