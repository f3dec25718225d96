/*
 * aq-mpi — a model: one file or a directory (sharded or not), tensors sorted by name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "st_internal.h"

typedef struct {
    const char *name, *target; /* owned by the shard files */
} model_alias;

struct aq_checkpoint {
    aq_st_file **files;
    size_t nfiles;
    const aq_tensor **sorted; /* stored tensors by name */
    size_t count;
    model_alias *alias; /* by name; names stored somewhere in the model are dropped */
    size_t nalias;
    char *config;
    char *arch;
};

static int tensor_by_name(const void *a, const void *b) {
    return strcmp((*(const aq_tensor *const *)a)->name, (*(const aq_tensor *const *)b)->name);
}

static int alias_by_name(const void *a, const void *b) {
    return strcmp(((const model_alias *)a)->name, ((const model_alias *)b)->name);
}

static const aq_tensor *find_stored(const aq_checkpoint *m, const char *name) {
    const aq_tensor key = {.name = name}, *kp = &key;
    const aq_tensor **hit = bsearch(&kp, m->sorted, m->count, sizeof *m->sorted, tensor_by_name);
    return hit ? *hit : NULL;
}

/* Sorted tensor table; names are unique (the index check rejects a tensor in two shards). */
static aq_status index_tensors(aq_checkpoint *m, aq_err *err) {
    for (size_t i = 0; i < m->nfiles; ++i)
        m->count += aq_st_count(m->files[i]);
    m->sorted = malloc((m->count ? m->count : 1) * sizeof *m->sorted);
    if (!m->sorted) return aq_err_set(err, AQ_E_NOMEM, "out of memory indexing tensors");
    size_t k = 0;
    for (size_t i = 0; i < m->nfiles; ++i)
        for (size_t j = 0; j < aq_st_count(m->files[i]); ++j)
            m->sorted[k++] = aq_st_tensor(m->files[i], j);
    qsort(m->sorted, m->count, sizeof *m->sorted, tensor_by_name);
    return AQ_OK;
}

static aq_status index_aliases(aq_checkpoint *m, aq_err *err) {
    size_t n = 0;
    for (size_t i = 0; i < m->nfiles; ++i)
        n += aq_st_alias_count(m->files[i]);
    m->alias = malloc((n ? n : 1) * sizeof *m->alias);
    if (!m->alias) return aq_err_set(err, AQ_E_NOMEM, "out of memory indexing aliases");
    for (size_t i = 0; i < m->nfiles; ++i)
        for (size_t j = 0; j < aq_st_alias_count(m->files[i]); ++j) {
            model_alias a;
            aq_st_alias(m->files[i], j, &a.name, &a.target);
            if (!find_stored(m, a.name)) m->alias[m->nalias++] = a;
        }
    qsort(m->alias, m->nalias, sizeof *m->alias, alias_by_name);
    /* The same alias in several shards is harmless only when it agrees. */
    size_t w = 0;
    for (size_t i = 0; i < m->nalias; ++i) {
        if (w > 0 && strcmp(m->alias[w - 1].name, m->alias[i].name) == 0) {
            if (strcmp(m->alias[w - 1].target, m->alias[i].target) != 0)
                return aq_err_set(err, AQ_E_FORMAT, "alias '%s' maps to both '%s' and '%s'",
                                  m->alias[i].name, m->alias[w - 1].target, m->alias[i].target);
            continue;
        }
        m->alias[w++] = m->alias[i];
    }
    m->nalias = w;
    return AQ_OK;
}

/* Opens the shard files of `path`; *dir gets the directory that may hold config.json. */
static aq_status open_files(const char *path, aq_checkpoint *m, char **dir, aq_err *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
    m->files = calloc(1, sizeof *m->files);
    if (!m->files) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    if (!S_ISDIR(sb.st_mode)) {
        const char *slash = strrchr(path, '/');
        *dir = slash ? strndup(path, (size_t)(slash - path) + 1) : st_strdup(".");
        if (!*dir) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
        m->nfiles = 1;
        return aq_st_open(path, &m->files[0], err);
    }
    if (!(*dir = st_strdup(path))) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    char *ip = st_path_join(path, "model.safetensors.index.json");
    char *sp = st_path_join(path, "model.safetensors");
    aq_status st = AQ_OK;
    if (!ip || !sp) {
        st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    } else if (stat(ip, &sb) == 0) {
        free(m->files);
        m->files = NULL;
        st = st_index_open(path, &m->files, &m->nfiles, err);
    } else if (stat(sp, &sb) == 0) {
        m->nfiles = 1;
        st = aq_st_open(sp, &m->files[0], err);
    } else {
        st = aq_err_set(err, AQ_E_IO,
                        "%s: neither model.safetensors.index.json nor model.safetensors found",
                        path);
    }
    free(ip);
    free(sp);
    return st;
}

aq_status aq_checkpoint_open(const char *path, aq_checkpoint **out, aq_err *err) {
    *out = NULL;
    aq_checkpoint *m = calloc(1, sizeof *m);
    if (!m) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    char *dir = NULL;
    aq_status st = open_files(path, m, &dir, err);
    if (st == AQ_OK) st = index_tensors(m, err);
    if (st == AQ_OK) st = index_aliases(m, err);
    if (st == AQ_OK) st = st_config_load(dir, &m->config, &m->arch, err);
    free(dir);
    if (st != AQ_OK) {
        aq_checkpoint_close(m);
        return st;
    }
    *out = m;
    return AQ_OK;
}

size_t aq_checkpoint_count(const aq_checkpoint *m) {
    return m ? m->count : 0;
}

const aq_tensor *aq_checkpoint_tensor(const aq_checkpoint *m, size_t i) {
    return m && i < m->count ? m->sorted[i] : NULL;
}

const aq_tensor *aq_checkpoint_find(const aq_checkpoint *m, const char *name) {
    if (!m || !name) return NULL;
    const aq_tensor *t = find_stored(m, name);
    if (t) return t;
    const model_alias key = {name, NULL};
    const model_alias *a = bsearch(&key, m->alias, m->nalias, sizeof *m->alias, alias_by_name);
    return a ? find_stored(m, a->target) : NULL;
}

size_t aq_checkpoint_alias_count(const aq_checkpoint *m) {
    return m ? m->nalias : 0;
}

void aq_checkpoint_alias(const aq_checkpoint *m, size_t i, const char **name, const char **target) {
    int ok = m && i < m->nalias;
    if (name) *name = ok ? m->alias[i].name : NULL;
    if (target) *target = ok ? m->alias[i].target : NULL;
}

const char *aq_checkpoint_config_json(const aq_checkpoint *m) {
    return m ? m->config : NULL;
}

const char *aq_checkpoint_architecture(const aq_checkpoint *m) {
    return m && m->arch ? m->arch : "";
}

void aq_checkpoint_close(aq_checkpoint *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nfiles; ++i)
        aq_st_close(m->files[i]);
    free(m->files);
    free(m->sorted);
    free(m->alias);
    free(m->config);
    free(m->arch);
    free(m);
}
