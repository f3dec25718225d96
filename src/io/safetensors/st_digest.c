/*
 * aq-mpi — SHA-256 digests of a model's source files (nettle's sha256), recorded in the
 * result file so that a result can be traced back to the exact bytes it came from.
 */
#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "st_internal.h"

#define DIGEST_CHUNK ((size_t)1 << 20)

aq_status aq_sha256_file(const char *path, char hex[65], aq_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
    unsigned char *buf = malloc(DIGEST_CHUNK);
    if (!buf) {
        fclose(f);
        return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    size_t n;
    while ((n = fread(buf, 1, DIGEST_CHUNK, f)) > 0)
        sha256_update(&ctx, n, buf);
    int bad = ferror(f);
    int e = errno;
    fclose(f);
    free(buf);
    if (bad) return aq_err_set(err, AQ_E_IO, "%s: read: %s", path, strerror(e));
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof d, d);
    for (size_t i = 0; i < sizeof d; ++i)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return AQ_OK;
}

/* The files to digest: the distinct shard paths of `m`, then index and config.json of the
 * model directory when present.  Paths are malloc'ed into *paths. */
static aq_status list_files(const char *path, const aq_checkpoint *m, char ***paths, size_t *n,
                            aq_err *err) {
    size_t cap = aq_checkpoint_count(m) + 2;
    char **p = calloc(cap, sizeof *p);
    if (!p) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    *paths = p;
    *n = 0;
    for (size_t i = 0; i < aq_checkpoint_count(m); ++i) {
        const char *f = aq_checkpoint_tensor(m, i)->file;
        size_t j = 0;
        while (j < *n && strcmp(p[j], f) != 0)
            ++j;
        if (j == *n && !(p[(*n)++] = st_strdup(f)))
            return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) return AQ_OK;
    static const char *const extra[] = {"model.safetensors.index.json", "config.json"};
    for (size_t k = 0; k < 2; ++k) {
        char *x = st_path_join(path, extra[k]);
        if (!x) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
        if (stat(x, &sb) == 0 && S_ISREG(sb.st_mode))
            p[(*n)++] = x;
        else
            free(x);
    }
    return AQ_OK;
}

static int by_string(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "dir/x/model.safetensors" relative to the model path (a directory) or its basename. */
static const char *relative(const char *model_path, const char *file) {
    size_t n = strlen(model_path);
    while (n > 1 && model_path[n - 1] == '/')
        --n;
    if (strncmp(file, model_path, n) == 0 && file[n] == '/') return file + n + 1;
    const char *slash = strrchr(file, '/');
    return slash ? slash + 1 : file;
}

/* Sorts file indices by decreasing size, then name order (a stable tie-break). */
typedef struct {
    size_t i;
    uint64_t bytes;
} sized;

static int by_size_desc(const void *a, const void *b) {
    const sized *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* owner[i] of each file (paths sorted by name): largest first, round-robin over order. */
static aq_status assign(char **paths, size_t np, const int *order, int parts, int *owner,
                        aq_err *err) {
    sized *s = malloc((np ? np : 1) * sizeof *s);
    if (!s) return aq_err_set(err, AQ_E_NOMEM, "digests: out of memory");
    for (size_t i = 0; i < np; ++i) {
        struct stat sb;
        s[i] = (sized){i, stat(paths[i], &sb) == 0 ? (uint64_t)sb.st_size : 0};
    }
    qsort(s, np, sizeof *s, by_size_desc);
    for (size_t k = 0; k < np; ++k)
        owner[s[k].i] = order ? order[k % (size_t)parts] : (int)(k % (size_t)parts);
    free(s);
    return AQ_OK;
}

aq_status aq_checkpoint_file_digests(const char *path, const aq_checkpoint *m, int part,
                                     const int *order, int parts, size_t *n, char ***files,
                                     char ***sha256hex, aq_err *err) {
    if (parts < 1) parts = 1, order = NULL;
    *n = 0;
    *files = *sha256hex = NULL;
    char **paths = NULL;
    size_t np = 0;
    aq_status st = list_files(path, m, &paths, &np, err);
    char **hex = st == AQ_OK ? calloc(np ? np : 1, sizeof *hex) : NULL;
    if (st == AQ_OK && !hex) st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    if (st == AQ_OK) qsort(paths, np, sizeof *paths, by_string);
    int *owner = st == AQ_OK ? malloc((np ? np : 1) * sizeof *owner) : NULL;
    if (st == AQ_OK && !owner) st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    if (st == AQ_OK) st = assign(paths, np, order, parts, owner, err);
    for (size_t i = 0; st == AQ_OK && i < np; ++i) {
        if (!(hex[i] = calloc(65, 1))) {
            st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
            break;
        }
        if (owner[i] == part) st = aq_sha256_file(paths[i], hex[i], err);
        char *rel = st == AQ_OK ? st_strdup(relative(path, paths[i])) : NULL;
        if (st == AQ_OK && !rel) st = aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
        free(paths[i]);
        paths[i] = rel;
    }
    free(owner);
    if (st != AQ_OK) {
        aq_checkpoint_file_digests_free(np, paths, hex);
        return st;
    }
    *n = np;
    *files = paths;
    *sha256hex = hex;
    return AQ_OK;
}

void aq_checkpoint_file_digests_free(size_t n, char **files, char **sha256hex) {
    for (size_t i = 0; i < n; ++i) {
        if (files) free(files[i]);
        if (sha256hex) free(sha256hex[i]);
    }
    free(files);
    free(sha256hex);
}
