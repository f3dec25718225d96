/*
 * aq-mpi — Zstandard HDF5 filter 32015 (see zstd_filter.h).  No HDF5 function calls here:
 * the same object goes into the libhdf5-free plugin.
 */
#include "zstd_filter.h"

#include <stdlib.h>

#include <zstd.h>

#include "aq/h5out.h"

/* Matches the reference plugin's default when a dcpl carries no level. */
#define AQ_ZSTD_DEFAULT_LEVEL 3

static int zstd_level(size_t cd_nelmts, const unsigned int cd_values[]) {
    if (cd_nelmts < 1) return AQ_ZSTD_DEFAULT_LEVEL;
    /* cd_values are unsigned in HDF5; negative ("fast") levels arrive wrapped around. */
    int level = (int)cd_values[0];
    if (level > ZSTD_maxCLevel()) level = ZSTD_maxCLevel();
    if (level < ZSTD_minCLevel()) level = ZSTD_minCLevel();
    return level;
}

/* Swaps the filter's output in for HDF5's buffer. */
static size_t replace_buffer(void **buf, size_t *buf_size, void *out, size_t cap, size_t used) {
    free(*buf);
    *buf = out;
    *buf_size = cap;
    return used;
}

static size_t zstd_compress_chunk(int level, size_t nbytes, size_t *buf_size, void **buf) {
    size_t cap = ZSTD_compressBound(nbytes);
    void *out = malloc(cap ? cap : 1);
    if (!out) return 0;
    size_t n = ZSTD_compress(out, cap, *buf, nbytes, level);
    if (ZSTD_isError(n)) {
        free(out);
        return 0;
    }
    return replace_buffer(buf, buf_size, out, cap, n);
}

static size_t zstd_decompress_chunk(size_t nbytes, size_t *buf_size, void **buf) {
    unsigned long long size = ZSTD_getFrameContentSize(*buf, nbytes);
    /* Frames without a content size (streaming writers) are not produced by this format
     * or by the reference plugin; refuse them rather than guess a size. */
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return 0;
    if (size > (unsigned long long)SIZE_MAX) return 0;
    void *out = malloc(size ? (size_t)size : 1);
    if (!out) return 0;
    size_t n = ZSTD_decompress(out, (size_t)size, *buf, nbytes);
    if (ZSTD_isError(n) || n != (size_t)size) {
        free(out);
        return 0;
    }
    return replace_buffer(buf, buf_size, out, size ? (size_t)size : 1, n);
}

size_t aq_h5z_zstd_filter(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[],
                          size_t nbytes, size_t *buf_size, void **buf) {
    if (!buf || !*buf || !buf_size) return 0;
    if (flags & H5Z_FLAG_REVERSE) return zstd_decompress_chunk(nbytes, buf_size, buf);
    return zstd_compress_chunk(zstd_level(cd_nelmts, cd_values), nbytes, buf_size, buf);
}

static const H5Z_class2_t AQ_H5Z_ZSTD_CLASS = {
    .version = H5Z_CLASS_T_VERS,
    .id = AQ_H5Z_FILTER_ZSTD,
    .encoder_present = 1,
    .decoder_present = 1,
    .name = "Zstandard (aq-mpi, zstd " ZSTD_VERSION_STRING ")",
    .can_apply = NULL,
    .set_local = NULL,
    .filter = aq_h5z_zstd_filter,
};

const H5Z_class2_t *aq_h5z_zstd_class(void) {
    return &AQ_H5Z_ZSTD_CLASS;
}
