/*
 * aq-mpi — chunks filtered before they reach the writer (issue 16): every rank cuts its own
 * arrays into the chunks the dataset will have, runs the dataset's filter pipeline on them
 * (zstd 32015, then Fletcher32) exactly as libhdf5 would, and rank 0 only stores the bytes
 * with H5Dwrite_chunk.
 *
 * Blob layout (one array, native byte order; the ranks of a job share an architecture):
 *   uint64 n                      chunks, in row-major order of the chunk grid
 *   uint64 size[n]                stored bytes of each (compressed + 4 checksum bytes)
 *   bytes                         the chunks back to back
 */
#include "h5_internal.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

uint32_t aq_h5_fletcher32(const void *data, size_t n) {
    const uint8_t *p = data;
    size_t words = n / 2;
    uint32_t sum1 = 0, sum2 = 0;
    while (words) {
        size_t k = words > 360 ? 360 : words; /* 360 words cannot overflow sum2 */
        words -= k;
        do {
            sum1 += (uint32_t)p[0] << 8 | (uint32_t)p[1];
            sum2 += sum1;
            p += 2;
        } while (--k);
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    if (n % 2) {
        sum1 += (uint32_t)p[0] << 8;
        sum2 += sum1;
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    return sum2 << 16 | sum1;
}

/* The chunk grid of a [rows, cols] array: chunk dims and chunks along each dim. */
typedef struct {
    hsize_t chunk[2];
    uint64_t n_rows, n_cols; /* chunks along rows and along columns */
} grid2;

static grid2 grid_of(const hsize_t dims[2], size_t elem) {
    grid2 g;
    hsize_t maxdims[2];
    aq_h5_chunk_shape(2, dims, elem, g.chunk, maxdims);
    int empty = dims[0] == 0 || dims[1] == 0;
    g.n_rows = empty ? 0 : (dims[0] + g.chunk[0] - 1) / g.chunk[0];
    g.n_cols = empty ? 0 : (dims[1] + g.chunk[1] - 1) / g.chunk[1];
    return g;
}

/* Chunk (ci, cj) as libhdf5 holds it before filtering: the whole chunk, the part outside
 * the dataset zero (HDF5's default fill value) — edge chunks are stored full size.  src holds
 * the rows from `row0` on. */
static void gather_chunk(const grid2 *g, const hsize_t dims[2], size_t elem, const char *src,
                         hsize_t row0, uint64_t ci, uint64_t cj, char *dst) {
    size_t crow = (size_t)g->chunk[1] * elem;
    memset(dst, 0, (size_t)g->chunk[0] * crow);
    hsize_t r0 = ci * g->chunk[0], c0 = cj * g->chunk[1];
    hsize_t nr = dims[0] - r0 < g->chunk[0] ? dims[0] - r0 : g->chunk[0];
    hsize_t nc = dims[1] - c0 < g->chunk[1] ? dims[1] - c0 : g->chunk[1];
    for (hsize_t r = 0; r < nr; ++r)
        memcpy(dst + r * crow, src + ((r0 - row0 + r) * dims[1] + c0) * elem, (size_t)nc * elem);
}

/* The zstd filter's level clamp (zstd_filter.c), so the bytes match what it would write. */
static int clamp_level(int level) {
    if (level > ZSTD_maxCLevel()) return ZSTD_maxCLevel();
    return level < ZSTD_minCLevel() ? ZSTD_minCLevel() : level;
}

/* Filters chunk k (row-major over the grid) into out (capacity cap): returns its stored
 * size, 0 on failure. */
static size_t filter_chunk(const grid2 *g, const hsize_t dims[2], size_t elem, const char *src,
                           hsize_t row0, uint64_t k, int level, char *raw, char *out, size_t cap) {
    size_t raw_bytes = (size_t)g->chunk[0] * (size_t)g->chunk[1] * elem;
    gather_chunk(g, dims, elem, src, row0, k / g->n_cols, k % g->n_cols, raw);
    size_t n = ZSTD_compress(out, cap - 4, raw, raw_bytes, level);
    if (ZSTD_isError(n)) return 0;
    uint32_t f = aq_h5_fletcher32(out, n);
    for (int b = 0; b < 4; ++b) /* little-endian, as H5Z_filter_fletcher32 appends it */
        out[n + (size_t)b] = (char)(f >> (8 * b) & 0xff);
    return n + 4;
}

/* Filters the n chunks from chunk k0 on into slots of `cap` bytes (OpenMP over chunks);
 * sizes[k] = stored bytes, 0 when one failed.  src holds the rows from row0 on.
 * @return : 0 or -1 (out of memory). */
static int filter_all(const grid2 *g, const hsize_t dims[2], size_t elem, const char *src,
                      hsize_t row0, uint64_t k0, uint64_t n, int level, char *slots, size_t cap,
                      uint64_t *sizes) {
    const size_t raw_bytes = (size_t)g->chunk[0] * (size_t)g->chunk[1] * elem;
    int failed = 0;
#pragma omp parallel
    {
        char *raw = malloc(raw_bytes);
        if (!raw) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t k = 0; k < (int64_t)n; ++k)
            sizes[k] = raw ? filter_chunk(g, dims, elem, src, row0, k0 + (uint64_t)k, level, raw,
                                          slots + (size_t)k * cap, cap)
                           : 0;
        free(raw);
    }
    return failed ? -1 : 0;
}

/* Chunks per batch: a batch is filtered in parallel into one slot per chunk, then appended
 * to the blob, so the peak is the blob plus one batch of slots (not a slot per chunk of the
 * array: a whole passthrough embedding would otherwise need twice its size). */
static uint64_t batch_chunks(void) {
#ifdef _OPENMP
    const int t = omp_get_max_threads();
#else
    const int t = 1;
#endif
    return t < 2 ? 8 : 4 * (uint64_t)t;
}

/* Appends n bytes to the growing buffer *buf (length *len, capacity *cap).  @return : 0 or -1. */
static int append(char **buf, size_t *len, size_t *cap, const char *src, size_t n) {
    if (*len + n > *cap) {
        size_t c = *cap + *cap / 2;
        if (c < *len + n) c = *len + n;
        char *p = realloc(*buf, c);
        if (!p) return -1;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, src, n);
    *len += n;
    return 0;
}

aq_status aq_h5_prefilter_rows(int64_t rows, int64_t row0, int64_t row1, int64_t cols, size_t elem,
                               const void *data, int level, void **blob, uint64_t *blob_bytes,
                               aq_err *err) {
    *blob = NULL;
    *blob_bytes = 0;
    if (rows < 0 || cols < 0 || elem == 0 || row0 < 0 || row1 < row0 || row1 > rows ||
        ((row1 - row0) * cols > 0 && !data))
        return aq_err_set(err, AQ_E_VALUE, "prefilter: invalid rows [%lld, %lld) of [%lld, %lld]",
                          (long long)row0, (long long)row1, (long long)rows, (long long)cols);
    const hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    grid2 g = grid_of(dims, elem);
    const int64_t c0 = (int64_t)g.chunk[0];
    if (row0 % c0 != 0 || (row1 % c0 != 0 && row1 != rows))
        return aq_err_set(err, AQ_E_VALUE,
                          "prefilter: rows [%lld, %lld) are not whole chunks of %lld rows",
                          (long long)row0, (long long)row1, (long long)c0);
    const uint64_t band0 = (uint64_t)(row0 / c0),
                   band1 = g.n_rows ? (uint64_t)((row1 + c0 - 1) / c0) : 0;
    const uint64_t n = (band1 - band0) * g.n_cols;
    const size_t cap = ZSTD_compressBound((size_t)g.chunk[0] * (size_t)g.chunk[1] * elem) + 4;
    const uint64_t batch = n < batch_chunks() ? n : batch_chunks();
    /* One slot per chunk of a batch: a chunk's compressed size is not known before it is
     * compressed, and the slots let every thread work independently; appended right after. */
    char *slots = batch ? malloc((size_t)batch * cap) : NULL;
    uint64_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    size_t len = (size_t)(1 + n) * sizeof(uint64_t); /* the header, filled last */
    size_t bcap = len + (size_t)(row1 - row0) * (size_t)cols * elem / 2 + 64;
    char *out = malloc(bcap);
    int bad = (batch && !slots) || !sizes || !out;
    for (uint64_t k0 = 0; !bad && k0 < n; k0 += batch) {
        const uint64_t m = n - k0 < batch ? n - k0 : batch;
        bad = filter_all(&g, dims, elem, data, (hsize_t)row0, band0 * g.n_cols + k0, m,
                         clamp_level(level), slots, cap, sizes + k0) < 0;
        for (uint64_t k = 0; !bad && k < m; ++k)
            bad = sizes[k0 + k] == 0 ||
                  append(&out, &len, &bcap, slots + k * cap, (size_t)sizes[k0 + k]) < 0;
    }
    if (!bad) {
        memcpy(out, &n, sizeof n);
        if (n) memcpy(out + sizeof n, sizes, n * sizeof *sizes);
        char *fit = realloc(out, len); /* give the slack back */
        *blob = fit ? fit : out;
        *blob_bytes = len;
    } else {
        free(out);
    }
    free(slots);
    free(sizes);
    if (!*blob)
        return aq_err_set(err, AQ_E_NOMEM,
                          "prefilter: cannot compress [%lld, %lld] (%zu-byte "
                          "elements) into %llu chunks",
                          (long long)rows, (long long)cols, elem, (unsigned long long)n);
    return AQ_OK;
}

aq_status aq_h5_prefilter_2d(int64_t rows, int64_t cols, size_t elem, const void *data, int level,
                             void **blob, uint64_t *blob_bytes, aq_err *err) {
    return aq_h5_prefilter_rows(rows, 0, rows < 0 ? 0 : rows, cols, elem, data, level, blob,
                                blob_bytes, err);
}

int64_t aq_h5_chunk_rows(int64_t rows, int64_t cols, size_t elem) {
    const hsize_t dims[2] = {(hsize_t)(rows > 0 ? rows : 0), (hsize_t)(cols > 0 ? cols : 0)};
    return (int64_t)grid_of(dims, elem ? elem : 1).chunk[0];
}

aq_status aq_h5_blob_concat(const void *const *blobs, const uint64_t *bytes, int n, void **out,
                            uint64_t *out_bytes, aq_err *err) {
    *out = NULL;
    *out_bytes = 0;
    uint64_t chunks = 0, data = 0;
    for (int b = 0; b < n; ++b) {
        uint64_t k;
        if (!blobs[b] || bytes[b] < sizeof k)
            return aq_err_set(err, AQ_E_VALUE, "blob %d: too short", b);
        memcpy(&k, blobs[b], sizeof k);
        if (k > bytes[b] / sizeof k - 1)
            return aq_err_set(err, AQ_E_VALUE, "blob %d: bad chunk table", b);
        chunks += k;
        data += bytes[b] - (1 + k) * sizeof k;
    }
    const uint64_t total = (1 + chunks) * sizeof(uint64_t) + data;
    char *p = malloc(total ? total : 1);
    if (!p)
        return aq_err_set(err, AQ_E_NOMEM, "blob: cannot allocate %llu bytes",
                          (unsigned long long)total);
    memcpy(p, &chunks, sizeof chunks);
    char *table = p + sizeof(uint64_t), *body = p + (1 + chunks) * sizeof(uint64_t);
    for (int b = 0; b < n; ++b) {
        uint64_t k;
        memcpy(&k, blobs[b], sizeof k);
        memcpy(table, (const char *)blobs[b] + sizeof k, k * sizeof k);
        table += k * sizeof k;
        const uint64_t d = bytes[b] - (1 + k) * sizeof k;
        memcpy(body, (const char *)blobs[b] + (1 + k) * sizeof k, d);
        body += d;
    }
    *out = p;
    *out_bytes = total;
    return AQ_OK;
}

/* Checks the blob's chunk table against the dataset's grid; returns the chunk count or -1. */
static int64_t blob_chunks(const grid2 *g, const void *blob, uint64_t blob_bytes) {
    uint64_t n;
    if (blob_bytes < sizeof n) return -1;
    memcpy(&n, blob, sizeof n);
    if (n != g->n_rows * g->n_cols || (1 + n) > blob_bytes / sizeof(uint64_t)) return -1;
    uint64_t total = (1 + n) * sizeof(uint64_t);
    for (uint64_t k = 0; k < n; ++k) {
        uint64_t s;
        memcpy(&s, (const char *)blob + (1 + k) * sizeof s, sizeof s);
        if (s == 0 || s > UINT32_MAX || s > blob_bytes - total) return -1;
        total += s;
    }
    return total == blob_bytes ? (int64_t)n : -1;
}

hid_t aq_h5_write_prefiltered(hid_t loc, const char *name, hid_t type, const hsize_t dims[2],
                              const void *blob, uint64_t blob_bytes, int level) {
    size_t elem = H5Tget_size(type);
    if (elem == 0 || !blob) return -1;
    grid2 g = grid_of(dims, elem);
    int64_t n = blob_chunks(&g, blob, blob_bytes);
    if (n < 0) return -1;
    hid_t ds = aq_h5_create_dataset(loc, name, type, 2, dims, level);
    const char *p = (const char *)blob + (uint64_t)(1 + n) * sizeof(uint64_t);
    for (int64_t k = 0; ds >= 0 && k < n; ++k) {
        uint64_t s;
        memcpy(&s, (const char *)blob + (uint64_t)(1 + k) * sizeof s, sizeof s);
        hsize_t off[2] = {(hsize_t)k / g.n_cols * g.chunk[0], (hsize_t)k % g.n_cols * g.chunk[1]};
        if (H5Dwrite_chunk(ds, H5P_DEFAULT, 0, off, (size_t)s, p) < 0) {
            aq_h5_close_id(ds);
            ds = -1;
        }
        p += s;
    }
    return ds;
}
