/*
 * aq-mpi — GGUF key/value pairs, serialized into the writer's buffer as they are added
 * (key string, uint32 type, value; arrays: uint32 element type, uint64 count, elements).
 */
#include <stdlib.h>
#include <string.h>

#include "gguf_internal.h"

int gg_buf_put(gg_buf *b, const void *data, size_t n) {
    if (n > SIZE_MAX - b->n) return -1;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap = cap > SIZE_MAX / 2 ? b->n + n : cap * 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    return 0;
}

/* Little-endian regardless of the host: byte by byte. */
static int put_le(gg_buf *b, uint64_t v, int bytes) {
    unsigned char x[8];
    for (int i = 0; i < bytes; ++i)
        x[i] = (unsigned char)(v >> (8 * i));
    return gg_buf_put(b, x, (size_t)bytes);
}

int gg_buf_u32(gg_buf *b, uint32_t v) {
    return put_le(b, v, 4);
}

int gg_buf_u64(gg_buf *b, uint64_t v) {
    return put_le(b, v, 8);
}

int gg_buf_str(gg_buf *b, const char *s) {
    size_t n = strlen(s);
    return gg_buf_u64(b, n) || gg_buf_put(b, s, n) ? -1 : 0;
}

/* After a key was started, a failed append leaves the section inconsistent: poison. */
static aq_status oom(aq_gguf_writer *w, aq_err *err) {
    w->failed = 1;
    return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", w->path);
}

aq_status gg_check_open(const aq_gguf_writer *w, const char *what, aq_err *err) {
    if (w->failed)
        return aq_err_set(err, AQ_E_VALUE, "%s: %s: writer failed earlier", w->path, what);
    if (w->header_done)
        return aq_err_set(err, AQ_E_VALUE, "%s: %s: added after tensor data was written", w->path,
                          what);
    return AQ_OK;
}

/* Bytes of one element of a numeric/bool type; 0 for STRING, ARRAY and unknown ids. */
static size_t elem_size(int t) {
    switch (t) {
    case AQ_GGUF_U8:
    case AQ_GGUF_I8:
    case AQ_GGUF_BOOL:
        return 1;
    case AQ_GGUF_U16:
    case AQ_GGUF_I16:
        return 2;
    case AQ_GGUF_U32:
    case AQ_GGUF_I32:
    case AQ_GGUF_F32:
        return 4;
    case AQ_GGUF_U64:
    case AQ_GGUF_I64:
    case AQ_GGUF_F64:
        return 8;
    default:
        return 0;
    }
}

/* Checks the key, remembers it and writes the key string and the value type. */
static aq_status begin_kv(aq_gguf_writer *w, const char *key, aq_gguf_vtype t, aq_err *err) {
    aq_status st = gg_check_open(w, key ? key : "(null key)", err);
    if (st != AQ_OK) return st;
    if (!key || !*key || strlen(key) > 65535)
        return aq_err_set(err, AQ_E_VALUE, "%s: bad metadata key", w->path);
    for (size_t i = 0; i < w->nkeys; ++i)
        if (strcmp(w->keys[i], key) == 0)
            return aq_err_set(err, AQ_E_VALUE, "%s: metadata key %s given twice", w->path, key);
    if (w->nkeys == w->capkeys) {
        size_t cap = w->capkeys ? 2 * w->capkeys : 32;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", w->path);
        w->keys = k;
        w->capkeys = cap;
    }
    size_t n = strlen(key) + 1;
    char *copy = malloc(n);
    if (!copy || gg_buf_str(&w->kv, key) || gg_buf_u32(&w->kv, (uint32_t)t)) {
        free(copy);
        return oom(w, err);
    }
    memcpy(copy, key, n);
    w->keys[w->nkeys++] = copy;
    w->n_kv++;
    return AQ_OK;
}

/* Elements are copied in little-endian order from host values of their size. */
static int put_elems(gg_buf *b, int t, const void *data, uint64_t n) {
    size_t es = elem_size(t);
    const unsigned char *p = data;
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t v = 0;
        if (es == 1) v = p[i];
        if (es == 2) {
            uint16_t x;
            memcpy(&x, p + 2 * i, 2);
            v = x;
        }
        if (es == 4) {
            uint32_t x;
            memcpy(&x, p + 4 * i, 4);
            v = x;
        }
        if (es == 8) memcpy(&v, p + 8 * i, 8);
        if (t == AQ_GGUF_BOOL) v = v != 0;
        if (put_le(b, v, (int)es)) return -1;
    }
    return 0;
}

static aq_status scalar(aq_gguf_writer *w, const char *key, aq_gguf_vtype t, const void *v,
                        aq_err *err) {
    aq_status st = begin_kv(w, key, t, err);
    if (st == AQ_OK && put_elems(&w->kv, t, v, 1)) st = oom(w, err);
    return st;
}

aq_status aq_gguf_kv_u8(aq_gguf_writer *w, const char *key, uint8_t v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_U8, &v, err);
}
aq_status aq_gguf_kv_i8(aq_gguf_writer *w, const char *key, int8_t v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_I8, &v, err);
}
aq_status aq_gguf_kv_u16(aq_gguf_writer *w, const char *key, uint16_t v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_U16, &v, err);
}
aq_status aq_gguf_kv_i16(aq_gguf_writer *w, const char *key, int16_t v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_I16, &v, err);
}
aq_status aq_gguf_kv_u32(aq_gguf_writer *w, const char *key, uint32_t v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_U32, &v, err);
}
aq_status aq_gguf_kv_i32(aq_gguf_writer *w, const char *key, int32_t v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_I32, &v, err);
}
aq_status aq_gguf_kv_u64(aq_gguf_writer *w, const char *key, uint64_t v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_U64, &v, err);
}
aq_status aq_gguf_kv_i64(aq_gguf_writer *w, const char *key, int64_t v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_I64, &v, err);
}
aq_status aq_gguf_kv_f32(aq_gguf_writer *w, const char *key, float v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_F32, &v, err);
}
aq_status aq_gguf_kv_f64(aq_gguf_writer *w, const char *key, double v, aq_err *err) {
    return scalar(w, key, AQ_GGUF_F64, &v, err);
}
aq_status aq_gguf_kv_bool(aq_gguf_writer *w, const char *key, int v, aq_err *err) {
    uint8_t b = v != 0;
    return scalar(w, key, AQ_GGUF_BOOL, &b, err);
}

aq_status aq_gguf_kv_str(aq_gguf_writer *w, const char *key, const char *v, aq_err *err) {
    if (!v) return aq_err_set(err, AQ_E_VALUE, "%s: metadata %s: NULL string", w->path, key);
    aq_status st = begin_kv(w, key, AQ_GGUF_STRING, err);
    if (st == AQ_OK && gg_buf_str(&w->kv, v)) st = oom(w, err);
    return st;
}

aq_status aq_gguf_kv_array(aq_gguf_writer *w, const char *key, aq_gguf_vtype elem, const void *data,
                           uint64_t n, aq_err *err) {
    if (elem_size(elem) == 0 || (n && !data))
        return aq_err_set(err, AQ_E_VALUE, "%s: metadata %s: bad array element type %d", w->path,
                          key ? key : "(null)", (int)elem);
    aq_status st = begin_kv(w, key, AQ_GGUF_ARRAY, err);
    if (st != AQ_OK) return st;
    if (gg_buf_u32(&w->kv, (uint32_t)elem) || gg_buf_u64(&w->kv, n) ||
        put_elems(&w->kv, elem, data, n))
        return oom(w, err);
    return AQ_OK;
}

aq_status aq_gguf_kv_str_array(aq_gguf_writer *w, const char *key, const char *const *v, uint64_t n,
                               aq_err *err) {
    for (uint64_t i = 0; i < n; ++i)
        if (!v[i])
            return aq_err_set(err, AQ_E_VALUE, "%s: metadata %s: element %llu is NULL", w->path,
                              key ? key : "(null)", (unsigned long long)i);
    aq_status st = begin_kv(w, key, AQ_GGUF_ARRAY, err);
    if (st != AQ_OK) return st;
    int bad = gg_buf_u32(&w->kv, AQ_GGUF_STRING) || gg_buf_u64(&w->kv, n);
    for (uint64_t i = 0; !bad && i < n; ++i)
        bad = gg_buf_str(&w->kv, v[i]);
    return bad ? oom(w, err) : AQ_OK;
}
