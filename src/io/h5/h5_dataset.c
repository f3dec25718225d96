/*
 * aq-mpi — chunked, zstd-compressed, Fletcher32-checksummed datasets.
 */
#include "h5_internal.h"

#include <stdlib.h>

/* Bytes per chunk: AQ_H5_CHUNK_BYTES; the test hook AQ_TEST_CHUNK_BYTES=N (64 <= N <= 2^20)
 * makes chunks small so that tests can row-shard small models (every rank of a job must see
 * the same value). */
static hsize_t chunk_bytes(void) {
    const char *v = getenv("AQ_TEST_CHUNK_BYTES");
    long n = v ? strtol(v, NULL, 10) : 0;
    return n >= 64 && (size_t)n <= AQ_H5_CHUNK_BYTES ? (hsize_t)n : AQ_H5_CHUNK_BYTES;
}

/* Chunk shape: whole trailing dims, as many leading-dim slices as fit AQ_H5_CHUNK_BYTES
 * (rounded down to a power of two when not all fit), and for 2-D and higher at most
 * AQ_H5_CHUNK_MAX_ROWS leading slices.  When one slice of dim d is itself too big, take one
 * index of d and split d+1 the same way.  Zero-length dims get chunk 1 (HDF5 forbids 0) and
 * become unlimited so the chunk does not exceed the max dim. */
void aq_h5_chunk_shape(int ndim, const hsize_t *dims, size_t elem, hsize_t *chunk,
                       hsize_t *maxdims) {
    const hsize_t budget = chunk_bytes();
    int d = 0;
    for (; d < ndim; ++d) {
        hsize_t inner = elem;
        for (int j = d + 1; j < ndim; ++j)
            inner *= dims[j] ? dims[j] : 1;
        hsize_t fit = budget / inner;
        /* narrow arrays (a tensor's scales) would otherwise take 32768 rows per chunk: the
         * cap keeps row blocks of every array small (row-sharding granule, issue 16) */
        if (d == 0 && ndim >= 2 && fit > AQ_H5_CHUNK_MAX_ROWS) fit = AQ_H5_CHUNK_MAX_ROWS;
        hsize_t full = dims[d] ? dims[d] : 1;
        /* a power of two when the dim is cut: the chunk rows of a tensor's arrays then
         * divide one another, and row blocks cut at the largest keep every chunk whole
         * (row-sharding, issue 16) */
        hsize_t pow2 = 1;
        while (pow2 * 2 <= fit)
            pow2 *= 2;
        chunk[d] = fit < 1 ? 1 : (fit < full ? pow2 : full);
        if (fit >= 1) break; /* the remaining dims are taken whole */
    }
    for (int j = d + 1; j < ndim; ++j)
        chunk[j] = dims[j] ? dims[j] : 1;
    for (int j = 0; j < ndim; ++j)
        maxdims[j] = dims[j] ? dims[j] : H5S_UNLIMITED;
}

static hid_t make_dcpl(int ndim, const hsize_t *chunk, int level) {
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    if (p < 0) return p;
    unsigned cd = (unsigned)level;
    /* Fletcher32 after zstd: the checksum covers the stored (compressed) chunk, so the
     * reader refuses a damaged chunk before it reaches the decompressor. */
    if (H5Pset_chunk(p, ndim, chunk) < 0 ||
        H5Pset_filter(p, AQ_H5Z_FILTER_ZSTD, H5Z_FLAG_MANDATORY, 1, &cd) < 0 ||
        H5Pset_fletcher32(p) < 0) {
        aq_h5_close_id(p);
        return -1;
    }
    return p;
}

static int has_elements(int ndim, const hsize_t *dims) {
    for (int j = 0; j < ndim; ++j)
        if (dims[j] == 0) return 0;
    return 1;
}

hid_t aq_h5_create_dataset(hid_t loc, const char *name, hid_t type, int ndim, const hsize_t *dims,
                           int level) {
    if (ndim < 1 || ndim > H5S_MAX_RANK) return -1;
    hsize_t chunk[H5S_MAX_RANK], maxdims[H5S_MAX_RANK];
    size_t elem = H5Tget_size(type);
    if (elem == 0) return -1;
    aq_h5_chunk_shape(ndim, dims, elem, chunk, maxdims);
    hid_t space = H5Screate_simple(ndim, dims, maxdims);
    hid_t dcpl = space < 0 ? -1 : make_dcpl(ndim, chunk, level);
    hid_t ds = dcpl < 0 ? -1 : H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    aq_h5_close_id(dcpl);
    aq_h5_close_id(space);
    return ds;
}

hid_t aq_h5_write_dataset(hid_t loc, const char *name, hid_t type, int ndim, const hsize_t *dims,
                          const void *buf, int level) {
    hid_t ds = aq_h5_create_dataset(loc, name, type, ndim, dims, level);
    if (ds < 0) return -1;
    if (has_elements(ndim, dims) && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        aq_h5_close_id(ds);
        return -1;
    }
    return ds;
}

int aq_h5_write_dataset_1d(hid_t loc, const char *name, hid_t type, size_t n, const void *buf,
                           int level) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t ds = aq_h5_write_dataset(loc, name, type, 1, dims, buf, level);
    if (ds < 0) return -1;
    return H5Dclose(ds) < 0 ? -1 : 0;
}
