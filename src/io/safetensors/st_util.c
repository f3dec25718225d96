/*
 * aq-mpi — small helpers of the safetensors reader: strings, paths, whole-file reads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

char *st_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *st_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *p = malloc(a + (size_t)slash + b + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + (size_t)slash, name, b + 1);
    return p;
}

aq_status st_read_text(const char *path, char **out, int *errno_out, aq_err *err) {
    *out = NULL;
    if (errno_out) *errno_out = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno_out) *errno_out = errno;
        return aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, fp);
        if (len < cap - 1 || cap > AQ_ST_MAX_HEADER) break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    int failed = !buf || ferror(fp) || !feof(fp);
    fclose(fp);
    if (!buf) return aq_err_set(err, AQ_E_NOMEM, "%s: out of memory", path);
    if (failed) {
        free(buf);
        return aq_err_set(err, AQ_E_IO, "%s: read failed or file larger than %u bytes", path,
                          AQ_ST_MAX_HEADER);
    }
    buf[len] = '\0';
    *out = buf;
    return AQ_OK;
}
