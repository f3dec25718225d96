/*
 * aq-mpi — sharded models: model.safetensors.index.json and its shards.
 *
 * The index is trusted for nothing: every shard it names must exist and parse, and the
 * weight_map must agree with what the shards actually store, in both directions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "st_internal.h"

typedef struct {
    const char *name;         /* shard file name, borrowed from the index JSON */
    const char *first_tensor; /* a tensor mapped to it, for messages */
    aq_st_file *f;
} shard;

typedef struct {
    const aq_tensor *t;
    size_t shard;
} stored_ref;

static int by_name(const void *a, const void *b) {
    return strcmp(((const stored_ref *)a)->t->name, ((const stored_ref *)b)->t->name);
}

/* Lists the distinct shard names of weight_map in first-appearance order. */
static aq_status list_shards(const char *ipath, json_t *wm, shard *sh, size_t *ns, aq_err *err) {
    const char *k;
    json_t *v;
    *ns = 0;
    json_object_foreach(wm, k, v) {
        const char *s = json_string_value(v);
        if (!s || !*s || strchr(s, '/') || strcmp(s, "..") == 0)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor '%s': weight_map value is not a shard file name", ipath,
                              k);
        size_t i = 0;
        while (i < *ns && strcmp(sh[i].name, s) != 0)
            ++i;
        if (i == *ns) sh[(*ns)++] = (shard){s, k, NULL};
    }
    return AQ_OK;
}

static aq_status open_shard(const char *dir, const char *ipath, shard *s, aq_err *err) {
    char *p = st_path_join(dir, s->name);
    if (!p) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", ipath);
    struct stat sb;
    aq_status st = AQ_OK;
    /* Checked here so that the message says which index entry points at the missing file. */
    if (stat(p, &sb) != 0)
        st = aq_err_set(err, AQ_E_IO, "%s: shard '%s' (tensor '%s'): %s", ipath, s->name,
                        s->first_tensor, strerror(errno));
    else
        st = aq_st_open(p, &s->f, err);
    free(p);
    return st;
}

static int has_alias(const aq_st_file *f, const char *name) {
    for (size_t i = 0; i < aq_st_alias_count(f); ++i) {
        const char *a;
        aq_st_alias(f, i, &a, NULL);
        if (strcmp(a, name) == 0) return 1;
    }
    return 0;
}

/* Each stored tensor: in one shard only, listed in weight_map, under that shard. */
static aq_status check_stored(const char *ipath, json_t *wm, const shard *sh, stored_ref *r,
                              size_t n, aq_err *err) {
    qsort(r, n, sizeof *r, by_name);
    for (size_t i = 1; i < n; ++i)
        if (strcmp(r[i - 1].t->name, r[i].t->name) == 0)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor '%s' is stored in two shards: '%s' and '%s'", ipath,
                              r[i].t->name, sh[r[i - 1].shard].name, sh[r[i].shard].name);
    for (size_t i = 0; i < n; ++i) {
        const char *want = json_string_value(json_object_get(wm, r[i].t->name));
        const char *have = sh[r[i].shard].name;
        if (!want)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor '%s' stored in shard '%s' is absent from weight_map",
                              ipath, r[i].t->name, have);
        if (strcmp(want, have) != 0)
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor '%s' is stored in shard '%s' but weight_map names "
                              "'%s'",
                              ipath, r[i].t->name, have, want);
    }
    return AQ_OK;
}

/* Each weight_map entry: stored (checked above) or an alias in the shard it names. */
static aq_status check_listed(const char *ipath, json_t *wm, const shard *sh, size_t ns,
                              const stored_ref *r, size_t n, aq_err *err) {
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v) {
        const aq_tensor key = {.name = k};
        const stored_ref kr = {&key, 0};
        if (bsearch(&kr, r, n, sizeof *r, by_name)) continue;
        const char *s = json_string_value(v);
        size_t i = 0;
        while (i < ns && strcmp(sh[i].name, s) != 0)
            ++i;
        if (i == ns || !has_alias(sh[i].f, k))
            return aq_err_set(err, AQ_E_FORMAT,
                              "%s: tensor '%s' listed in weight_map is not stored in shard "
                              "'%s'",
                              ipath, k, s);
    }
    return AQ_OK;
}

static aq_status check_consistency(const char *ipath, json_t *wm, const shard *sh, size_t ns,
                                   aq_err *err) {
    size_t n = 0;
    for (size_t i = 0; i < ns; ++i)
        n += aq_st_count(sh[i].f);
    stored_ref *r = malloc((n ? n : 1) * sizeof *r);
    if (!r) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", ipath);
    size_t k = 0;
    for (size_t i = 0; i < ns; ++i)
        for (size_t j = 0; j < aq_st_count(sh[i].f); ++j)
            r[k++] = (stored_ref){aq_st_tensor(sh[i].f, j), i};
    aq_status st = check_stored(ipath, wm, sh, r, n, err);
    if (st == AQ_OK) st = check_listed(ipath, wm, sh, ns, r, n, err);
    free(r);
    return st;
}

static aq_status load_weight_map(const char *ipath, json_t **root, json_t **wm, aq_err *err) {
    char *text = NULL;
    aq_status st = st_read_text(ipath, &text, NULL, err);
    if (st != AQ_OK) return st;
    json_error_t je;
    *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!*root)
        return aq_err_set(err, AQ_E_FORMAT, "%s: invalid JSON at line %d: %s", ipath, je.line,
                          je.text);
    *wm = json_object_get(*root, "weight_map");
    if (!json_is_object(*wm) || json_object_size(*wm) == 0)
        return aq_err_set(err, AQ_E_FORMAT, "%s: missing, empty or non-object \"weight_map\"",
                          ipath);
    return AQ_OK;
}

aq_status st_index_open(const char *dir, aq_st_file ***files, size_t *nfiles, aq_err *err) {
    *files = NULL;
    *nfiles = 0;
    char *ipath = st_path_join(dir, "model.safetensors.index.json");
    if (!ipath) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", dir);
    json_t *root = NULL, *wm = NULL;
    shard *sh = NULL;
    size_t ns = 0;
    aq_status st = load_weight_map(ipath, &root, &wm, err);
    if (st == AQ_OK && !(sh = calloc(json_object_size(wm), sizeof *sh)))
        st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", ipath);
    if (st == AQ_OK) st = list_shards(ipath, wm, sh, &ns, err);
    for (size_t i = 0; st == AQ_OK && i < ns; ++i)
        st = open_shard(dir, ipath, &sh[i], err);
    if (st == AQ_OK) st = check_consistency(ipath, wm, sh, ns, err);
    aq_st_file **out = NULL;
    if (st == AQ_OK && !(out = malloc(ns * sizeof *out)))
        st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", ipath);
    for (size_t i = 0; i < ns; ++i) {
        if (st == AQ_OK)
            out[i] = sh[i].f;
        else
            aq_st_close(sh[i].f);
    }
    if (st == AQ_OK) {
        *files = out;
        *nfiles = ns;
    }
    free(sh);
    json_decref(root);
    free(ipath);
    return st;
}
