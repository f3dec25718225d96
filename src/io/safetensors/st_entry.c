/*
 * aq-mpi — validation of one safetensors header entry: dtype, shape, data_offsets.
 */
#include <string.h>

#include "st_internal.h"

/* Element sizes of every dtype the safetensors format defines, so that files holding types
 * this tool does not quantize are still validated completely before being rejected. */
static int st_dtype_size(const char *s) {
    static const struct {
        const char *name;
        int size;
    } known[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
                 {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
                 {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i)
        if (strcmp(s, known[i].name) == 0) return known[i].size;
    return 0;
}

static aq_status bad(const char *label, const char *name, const char *what, aq_err *err) {
    return aq_err_set(err, AQ_E_FORMAT, "%s: tensor '%s': %s", label, name, what);
}

static aq_status parse_dtype(const char *label, const char *name, json_t *v, st_entry *e,
                             int *esize, aq_err *err) {
    json_t *d = json_object_get(v, "dtype");
    if (!json_is_string(d)) return bad(label, name, "missing or non-string \"dtype\"", err);
    const char *s = json_string_value(d);
    *esize = st_dtype_size(s);
    if (*esize == 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: tensor '%s': unknown dtype '%s'", label, name, s);
    if (aq_dtype_parse(s, &e->t.dtype) != 0) {
        e->supported = 0;
        e->why = "dtype is not supported (only F32, F16, BF16)";
    }
    return AQ_OK;
}

static aq_status parse_shape(const char *label, const char *name, json_t *v, int esize, st_entry *e,
                             aq_err *err) {
    json_t *sh = json_object_get(v, "shape");
    if (!json_is_array(sh)) return bad(label, name, "missing or non-array \"shape\"", err);
    size_t nd = json_array_size(sh);
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; ++i) {
        json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor '%s': shape[%zu] is not a non-negative integer", label,
                              name, i);
        uint64_t dim = (uint64_t)json_integer_value(d);
        if (__builtin_mul_overflow(numel, dim, &numel))
            return bad(label, name, "shape product overflows 64 bits", err);
        if (i < AQ_ST_MAX_DIMS) e->t.shape[i] = (int64_t)dim;
    }
    if (__builtin_mul_overflow(numel, (uint64_t)esize, &e->nbytes))
        return bad(label, name, "shape product times dtype size overflows 64 bits", err);
    if (nd > AQ_ST_MAX_DIMS && e->supported) {
        e->supported = 0;
        e->why = "more than 8 dimensions are not supported";
    }
    e->t.ndim = nd > AQ_ST_MAX_DIMS ? AQ_ST_MAX_DIMS : (int)nd;
    e->t.numel = numel;
    e->t.nbytes = e->nbytes;
    return AQ_OK;
}

static aq_status parse_offsets(const char *label, const char *name, json_t *v, uint64_t data_size,
                               st_entry *e, aq_err *err) {
    json_t *o = json_object_get(v, "data_offsets");
    json_t *b = json_array_get(o, 0), *en = json_array_get(o, 1);
    if (!json_is_array(o) || json_array_size(o) != 2 || !json_is_integer(b) ||
        !json_is_integer(en) || json_integer_value(b) < 0 || json_integer_value(en) < 0)
        return bad(label, name, "\"data_offsets\" is not two non-negative integers", err);
    e->begin = (uint64_t)json_integer_value(b);
    e->end = (uint64_t)json_integer_value(en);
    if (e->end < e->begin)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] end before begin", label,
                          name, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_size)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] out of bounds of the "
                          "%llu-byte data buffer",
                          label, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                          (unsigned long long)data_size);
    if (e->end - e->begin != e->nbytes)
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but "
                          "shape x dtype size is %llu",
                          label, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                          (unsigned long long)(e->end - e->begin), (unsigned long long)e->nbytes);
    return AQ_OK;
}

aq_status st_entry_parse(const char *label, const char *name, json_t *v, uint64_t data_size,
                         st_entry *out, aq_err *err) {
    memset(out, 0, sizeof *out);
    out->name = name;
    out->supported = 1;
    if (!json_is_object(v)) return bad(label, name, "entry is not a JSON object", err);
    int esize = 0;
    aq_status st = parse_dtype(label, name, v, out, &esize, err);
    if (st == AQ_OK) st = parse_shape(label, name, v, esize, out, err);
    if (st == AQ_OK) st = parse_offsets(label, name, v, data_size, out, err);
    return st;
}
