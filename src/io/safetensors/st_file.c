/*
 * aq-mpi — one safetensors file: mmap, accessors, close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st_internal.h"

/* Maps `fd` read-only; an empty file gets no mapping (the parser rejects it by size). */
static aq_status map_fd(int fd, const char *path, void **map, size_t *size, aq_err *err) {
    struct stat sb;
    if (fstat(fd, &sb) != 0) return aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return aq_err_set(err, AQ_E_IO, "%s: not a regular file", path);
    *size = (size_t)sb.st_size;
    *map = NULL;
    if (*size == 0) return AQ_OK;
    void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return aq_err_set(err, AQ_E_IO, "%s: mmap: %s", path, strerror(errno));
    *map = p;
    return AQ_OK;
}

aq_status aq_st_open(const char *path, aq_st_file **out, aq_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return aq_err_set(err, AQ_E_IO, "%s: %s", path, strerror(errno));
    void *map = NULL;
    size_t size = 0;
    aq_status st = map_fd(fd, path, &map, &size, err);
    close(fd); /* the mapping outlives the descriptor */
    if (st != AQ_OK) return st;
    st = aq_st_parse(map, size, path, out, err);
    if (st != AQ_OK) {
        if (map) munmap(map, size);
        return st;
    }
    (*out)->map = map;
    (*out)->map_size = size;
    return AQ_OK;
}

size_t aq_st_count(const aq_st_file *f) {
    return f ? f->count : 0;
}

const aq_tensor *aq_st_tensor(const aq_st_file *f, size_t i) {
    return f && i < f->count ? &f->tensors[i] : NULL;
}

size_t aq_st_alias_count(const aq_st_file *f) {
    return f ? f->nalias : 0;
}

void aq_st_alias(const aq_st_file *f, size_t i, const char **name, const char **target) {
    int ok = f && i < f->nalias;
    if (name) *name = ok ? f->alias_name[i] : NULL;
    if (target) *target = ok ? f->alias_target[i] : NULL;
}

void aq_st_close(aq_st_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->count; ++i)
        free((void *)(uintptr_t)f->tensors[i].name); /* owned; const only to callers */
    free(f->tensors);
    for (size_t i = 0; i < f->nalias; ++i) {
        free(f->alias_name[i]);
        free(f->alias_target[i]);
    }
    free(f->alias_name);
    free(f->alias_target);
    if (f->map) munmap(f->map, f->map_size);
    free(f->label);
    free(f);
}

void aq_tensor_release(const aq_tensor *t) {
    const long page = sysconf(_SC_PAGESIZE);
    if (!t || !t->data || page <= 0) return;
    const uintptr_t p = (uintptr_t)page, lo = ((uintptr_t)t->data + p - 1) / p * p;
    const uintptr_t hi = ((uintptr_t)t->data + (uintptr_t)t->nbytes) / p * p;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
