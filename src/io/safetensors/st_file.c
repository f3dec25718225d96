/*
 * aq-mpi — one safetensors file from a path: mmap, then the parser (st_parse.c).
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
