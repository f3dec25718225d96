/*
 * aq-mpi — safetensors header validation from a memory image (aq_st_parse).
 */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

/* The 8-byte little-endian header length and the bounds the format puts on it. */
static aq_status check_prefix(const unsigned char *b, size_t size, const char *label,
                              uint64_t *hlen, aq_err *err) {
    if (size < 8)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: file is %zu bytes, shorter than the 8-byte header length", label,
                          size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
        n = (n << 8) | b[i];
    if (n < 2)
        return aq_err_set(err, AQ_E_FORMAT, "%s: header length %llu is below 2", label,
                          (unsigned long long)n);
    if (n > AQ_ST_MAX_HEADER)
        return aq_err_set(err, AQ_E_FORMAT, "%s: header length %llu exceeds the %u-byte limit",
                          label, (unsigned long long)n, AQ_ST_MAX_HEADER);
    if (n > size - 8)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: header length %llu runs past the end of the %zu-byte file", label,
                          (unsigned long long)n, size);
    if (b[8] != '{')
        return aq_err_set(err, AQ_E_FORMAT, "%s: header does not start with '{'", label);
    *hlen = n;
    return AQ_OK;
}

static aq_status load_header(const unsigned char *b, uint64_t n, const char *label, json_t **out,
                             aq_err *err) {
    json_error_t je;
    /* Duplicates would silently replace each other; the format forbids them. Trailing
     * whitespace (the spec's padding) is accepted by jansson. */
    json_t *root = json_loadb((const char *)b + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        const char *what = json_error_code(&je) == json_error_duplicate_key
                               ? "duplicate tensor name"
                               : "invalid header JSON";
        return aq_err_set(err, AQ_E_FORMAT, "%s: %s at header byte %d: %s", label, what,
                          je.position, je.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return aq_err_set(err, AQ_E_FORMAT, "%s: header is not a JSON object", label);
    }
    *out = root;
    return AQ_OK;
}

static aq_status check_metadata(json_t *md, const char *label, aq_err *err) {
    const char *k;
    json_t *v;
    if (!json_is_object(md))
        return aq_err_set(err, AQ_E_FORMAT, "%s: \"__metadata__\" is not an object", label);
    json_object_foreach(md, k, v) {
        if (!json_is_string(v))
            return aq_err_set(err, AQ_E_FORMAT, "%s: \"__metadata__\" entry '%s' is not a string",
                              label, k);
    }
    return AQ_OK;
}

/* Validates every entry; fills e[0..*n) (sorted by offset) and *md (borrowed, may be NULL). */
static aq_status parse_entries(json_t *root, uint64_t data_size, const char *label, st_entry *e,
                               size_t *n, json_t **md, aq_err *err) {
    const char *k;
    json_t *v;
    *n = 0;
    *md = NULL;
    json_object_foreach(root, k, v) {
        aq_status st;
        if (strcmp(k, "__metadata__") == 0) {
            *md = v;
            st = check_metadata(v, label, err);
        } else {
            st = st_entry_parse(label, k, v, data_size, &e[(*n)++], err);
        }
        if (st != AQ_OK) return st;
    }
    aq_status st = st_layout_check(label, e, *n, data_size, err);
    for (size_t i = 0; st == AQ_OK && i < *n; ++i)
        if (!e[i].supported)
            st = aq_err_set(err, AQ_E_UNSUPPORTED, "%s: tensor '%s': %s", label, e[i].name,
                            e[i].why);
    return st;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Metadata k -> v is an alias when v is stored and k is not (tied weights). */
static aq_status collect_aliases(aq_st_file *f, json_t *md, aq_err *err) {
    if (!md || json_object_size(md) == 0) return AQ_OK;
    const char **names = malloc(f->count * sizeof *names + 1);
    f->alias_name = calloc(json_object_size(md), sizeof *f->alias_name);
    f->alias_target = calloc(json_object_size(md), sizeof *f->alias_target);
    if (!names || !f->alias_name || !f->alias_target) goto nomem;
    for (size_t i = 0; i < f->count; ++i)
        names[i] = f->tensors[i].name;
    qsort(names, f->count, sizeof *names, cmp_str);
    const char *k;
    json_t *v;
    json_object_foreach(md, k, v) {
        const char *t = json_string_value(v);
        if (bsearch(&k, names, f->count, sizeof *names, cmp_str) ||
            !bsearch(&t, names, f->count, sizeof *names, cmp_str))
            continue;
        size_t i = f->nalias++;
        f->alias_name[i] = st_strdup(k);
        f->alias_target[i] = st_strdup(t);
        if (!f->alias_name[i] || !f->alias_target[i]) goto nomem;
    }
    free(names);
    return AQ_OK;
nomem:
    free(names);
    return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory for aliases", f->label);
}

static aq_status build(const unsigned char *data, st_entry *e, size_t n, aq_st_file *f,
                       aq_err *err) {
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", f->label);
    for (size_t i = 0; i < n; ++i) {
        aq_tensor *t = &f->tensors[f->count];
        *t = e[i].t;
        t->data = data + e[i].begin;
        t->file = f->label;
        t->name = st_strdup(e[i].name);
        if (!t->name) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", f->label);
        f->count++;
    }
    return AQ_OK;
}

aq_status aq_st_parse(const void *buf, size_t size, const char *label, aq_st_file **out,
                      aq_err *err) {
    const unsigned char *b = buf;
    uint64_t hlen = 0;
    json_t *root = NULL;
    *out = NULL;
    if (!label) label = "<memory>";
    aq_status st = check_prefix(b, size, label, &hlen, err);
    if (st == AQ_OK) st = load_header(b, hlen, label, &root, err);
    if (st != AQ_OK) return st;

    size_t cap = json_object_size(root);
    st_entry *e = malloc((cap ? cap : 1) * sizeof *e);
    aq_st_file *f = calloc(1, sizeof *f);
    if (f) f->label = st_strdup(label);
    if (!e || !f || !f->label) {
        st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory parsing the header", label);
    } else {
        size_t n = 0;
        json_t *md = NULL;
        uint64_t data_size = (uint64_t)size - 8 - hlen;
        st = parse_entries(root, data_size, label, e, &n, &md, err);
        if (st == AQ_OK) st = build(b + 8 + hlen, e, n, f, err);
        if (st == AQ_OK) st = collect_aliases(f, md, err);
    }
    free(e);
    json_decref(root);
    if (st != AQ_OK) {
        aq_st_close(f);
        return st;
    }
    *out = f;
    return AQ_OK;
}
