/*
 * aq-mpi — config.json of a model: kept as text, with the architecture picked out.
 */
#include <errno.h>
#include <stdlib.h>

#include "st_internal.h"

static const char *pick_architecture(json_t *root) {
    json_t *a = json_array_get(json_object_get(root, "architectures"), 0);
    if (json_is_string(a)) return json_string_value(a);
    json_t *t = json_object_get(root, "model_type");
    return json_is_string(t) ? json_string_value(t) : "";
}

aq_status st_config_load(const char *dir, char **text, char **arch, aq_err *err) {
    *text = NULL;
    *arch = NULL;
    char *path = st_path_join(dir, "config.json");
    if (!path) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", dir);
    int e = 0;
    aq_status st = st_read_text(path, text, &e, err);
    if (st != AQ_OK && e == ENOENT) { /* config.json is optional */
        free(path);
        aq_err_clear(err);
        return AQ_OK;
    }
    if (st == AQ_OK) {
        json_error_t je;
        json_t *root = json_loads(*text, JSON_REJECT_DUPLICATES, &je);
        if (!root)
            st = aq_err_set(err, AQ_E_FORMAT, "%s: invalid JSON at line %d: %s", path, je.line,
                            je.text);
        else if (!json_is_object(root))
            st = aq_err_set(err, AQ_E_FORMAT, "%s: top level is not a JSON object", path);
        else if (!(*arch = st_strdup(pick_architecture(root))))
            st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
        json_decref(root);
    }
    free(path);
    if (st != AQ_OK) {
        free(*text);
        *text = NULL;
    }
    return st;
}
