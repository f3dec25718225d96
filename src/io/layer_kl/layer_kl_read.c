/* The per-layer KL file, reading side (schema in include/aq/layer_kl.h): read by the per-layer
 * fallback (quant.fallback_kl_path) and the budget (quant.budget_kl_path). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/layer_kl.h"

void aq_kl_table_free(aq_kl_table *t) {
    for (size_t i = 0; t && i < t->n; ++i)
        free(t->names[i]), free(t->formats ? t->formats[i] : NULL);
    if (t) {
        free(t->formats);
        free(t->names);
        free(t->bits);
        free(t->kl);
        memset(t, 0, sizeof *t);
    }
}

static aq_status bad(const char *path, size_t i, const char *what, aq_err *err) {
    return aq_err_set(err, AQ_E_FORMAT, "%s: layers[%zu]: %s (expected aq-eval --layer-kl output)",
                      path, i, what);
}

static aq_status take_entries(json_t *layers, const char *path, aq_kl_table *t, aq_err *err) {
    size_t n = json_array_size(layers);
    t->names = calloc(n + 1, sizeof *t->names);
    t->bits = calloc(n + 1, sizeof *t->bits);
    t->kl = calloc(n + 1, sizeof *t->kl);
    t->formats = calloc(n + 1, sizeof *t->formats);
    if (!t->names || !t->bits || !t->kl || !t->formats)
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; ++i) {
        json_t *e = json_array_get(layers, i), *name = json_object_get(e, "name");
        json_t *bits = json_object_get(e, "bits"), *kl = json_object_get(e, "kl");
        if (!json_is_string(name) || !json_is_integer(bits) || !json_is_number(kl))
            return bad(path, i, "needs name (string), bits (integer), kl (number)", err);
        t->kl[i] = json_number_value(kl);
        t->bits[i] = (int)json_integer_value(bits);
        if (!(t->kl[i] >= 0.0) || !isfinite(t->kl[i])) return bad(path, i, "kl is not >= 0", err);
        json_t *fmt = json_object_get(e, "format");
        if (fmt && !json_is_string(fmt)) return bad(path, i, "format is not a string", err);
        t->n = i + 1; /* from here on entry i is freed with the table */
        if (!(t->names[i] = strdup(json_string_value(name))) ||
            (fmt && !(t->formats[i] = strdup(json_string_value(fmt)))))
            return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    return AQ_OK;
}

aq_status aq_kl_table_load(const char *path, aq_kl_table *t, aq_err *err) {
    memset(t, 0, sizeof *t);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root && je.line < 1) /* not opened or not read: no line to name */
        return aq_err_set(err, AQ_E_IO, "%s: %s", path, je.text);
    if (!root) return aq_err_set(err, AQ_E_IO, "%s:%d: %s", path, je.line, je.text);
    json_t *fmt = json_object_get(root, "format"), *layers = json_object_get(root, "layers");
    aq_status st = AQ_OK;
    if (!json_is_string(fmt) ||
        (strcmp(json_string_value(fmt), AQ_LAYER_KL_FORMAT) != 0 &&
         strcmp(json_string_value(fmt), AQ_LAYER_KL_FORMAT_V1) != 0) ||
        !json_is_array(layers))
        st = aq_err_set(err, AQ_E_FORMAT,
                        "%s: not an aq-eval --layer-kl file (format \"" AQ_LAYER_KL_FORMAT
                        "\" or \"" AQ_LAYER_KL_FORMAT_V1 "\" with a layers array)",
                        path);
    if (st == AQ_OK) st = take_entries(layers, path, t, err);
    json_decref(root);
    if (st != AQ_OK) aq_kl_table_free(t);
    return st;
}

int aq_kl_table_find(const aq_kl_table *t, const char *name, int bits, double *kl) {
    for (size_t i = 0; t && i < t->n; ++i)
        if (t->bits[i] == bits && strcmp(t->names[i], name) == 0) {
            *kl = t->kl[i];
            return 1;
        }
    return 0;
}

int aq_kl_table_find_format(const aq_kl_table *t, const char *name, const char *format,
                            double *kl) {
    for (size_t i = 0; t && i < t->n; ++i)
        if (t->formats[i] && strcmp(t->formats[i], format) == 0 && strcmp(t->names[i], name) == 0) {
            *kl = t->kl[i];
            return 1;
        }
    return 0;
}
