/*
 * aq-mpi — safetensors reader internals shared by the st_*.c files (not installed).
 */
#ifndef AQ_ST_INTERNAL_H
#define AQ_ST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "aq/safetensors.h"

struct aq_st_file {
    aq_tensor *tensors; /* in begin-offset order; names owned (malloc) */
    size_t count;
    char **alias_name; /* parallel arrays, owned */
    char **alias_target;
    size_t nalias;
    char *label; /* owned copy; every aq_tensor.file points here */
    void *map;   /* mmap'ed image when opened from a path, else NULL */
    size_t map_size;
};

/* One header entry while validating: enough to check the layout before any dtype is
 * rejected, so an unsupported-but-valid file is told apart from a broken one. */
typedef struct {
    const char *name;    /* borrowed from the JSON document */
    uint64_t begin, end; /* data_offsets */
    uint64_t nbytes;     /* numel * element size */
    int supported;       /* dtype is F32/F16/BF16 and ndim <= AQ_ST_MAX_DIMS */
    const char *why;     /* when !supported: what is not handled */
    aq_tensor t;         /* filled when supported (name/data/file set later) */
} st_entry;

/* st_entry.c: validates one "name": {...} entry against a data buffer of `data_size`. */
aq_status st_entry_parse(const char *label, const char *name, json_t *v, uint64_t data_size,
                         st_entry *out, aq_err *err);

/* st_layout.c: sorts entries by offset and checks they tile [0, data_size) exactly. */
aq_status st_layout_check(const char *label, st_entry *e, size_t n, uint64_t data_size,
                          aq_err *err);

/* st_util.c helpers. */
char *st_strdup(const char *s);
/* dir + "/" + name, malloc'ed; NULL when out of memory. */
char *st_path_join(const char *dir, const char *name);
/* Reads a whole text file (at most AQ_ST_MAX_HEADER bytes), NUL-terminated, into *out.
 * AQ_E_IO with "<path>: <strerror>" on failure; errno_out (may be NULL) gets errno. */
aq_status st_read_text(const char *path, char **out, int *errno_out, aq_err *err);

/* st_config.c: config.json of a model directory (absent -> *text = NULL, OK). */
aq_status st_config_load(const char *dir, char **text, char **arch, aq_err *err);

/* st_index.c: opens every shard of a sharded model and checks the index against them. */
aq_status st_index_open(const char *dir, aq_st_file ***files, size_t *nfiles, aq_err *err);

#endif /* AQ_ST_INTERNAL_H */
