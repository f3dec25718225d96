/*
 * aq-mpi — one parsed safetensors file: accessors and close (the handle st_parse.c builds and
 * st_file.c maps from a path).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "st_internal.h"

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
