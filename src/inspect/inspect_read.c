/*
 * aq-mpi — aq-inspect: reading whole datasets block by block (every chunk passes through
 * the filters, so Fletcher32 checks every stored byte), with a callback per block.
 */
#include "inspect_read.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES ((size_t)64 << 20)

/* Variable-length strings cannot be read by hyperslab into a flat buffer: read all at once. */
static int read_vlen(hid_t d, hid_t ft) {
    hsize_t dims[8];
    int nd = ins_dims(d, dims);
    if (nd < 0) return -1;
    size_t n = 1;
    for (int i = 0; i < nd; ++i)
        n *= (size_t)dims[i];
    char **v = calloc(n ? n : 1, sizeof *v);
    hid_t mt = H5Tcopy(ft);
    hid_t s = H5Dget_space(d);
    int rc =
        v && mt >= 0 && s >= 0 && (n == 0 || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0)
            ? 0
            : -1;
    if (rc == 0 && n > 0) H5Dvlen_reclaim(mt, s, H5P_DEFAULT, v);
    aq_h5_close_id(s);
    aq_h5_close_id(mt);
    free(v);
    return rc;
}

static int read_rows(hid_t d, hid_t mt, int nd, const hsize_t *dims, size_t row_elems, size_t elem,
                     ins_block_fn fn, void *ctx) {
    size_t row_bytes = row_elems * elem;
    if (row_bytes == 0) row_bytes = 1;
    hsize_t per = BLOCK_BYTES / row_bytes ? BLOCK_BYTES / row_bytes : 1;
    hid_t fs = H5Dget_space(d);
    uint8_t *buf = malloc((size_t)(per < dims[0] ? per : dims[0]) * row_bytes);
    int rc = fs >= 0 && buf ? 0 : -1;
    for (hsize_t r = 0; rc == 0 && r < dims[0]; r += per) {
        hsize_t start[8] = {0}, count[8];
        memcpy(count, dims, (size_t)nd * sizeof *count);
        start[0] = r;
        count[0] = dims[0] - r < per ? dims[0] - r : per;
        hid_t ms = H5Screate_simple(nd, count, NULL);
        if (ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dread(d, mt, ms, fs, H5P_DEFAULT, buf) < 0)
            rc = -1;
        aq_h5_close_id(ms);
        if (rc == 0 && fn) rc = fn(ctx, buf, (int64_t)r, (int64_t)count[0], (int64_t)row_elems);
    }
    free(buf);
    aq_h5_close_id(fs);
    return rc;
}

int ins_read_all(hid_t d, hid_t memtype, ins_block_fn fn, void *ctx) {
    hid_t ft = H5Dget_type(d);
    if (ft < 0) return -1;
    if (H5Tis_variable_str(ft) > 0 || H5Tget_class(ft) == H5T_VLEN) {
        int rc = read_vlen(d, ft);
        aq_h5_close_id(ft);
        return rc;
    }
    hid_t mt = memtype >= 0 ? H5Tcopy(memtype) : H5Tcopy(ft);
    aq_h5_close_id(ft);
    hsize_t dims[8];
    int nd = ins_dims(d, dims);
    size_t elem = mt >= 0 ? H5Tget_size(mt) : 0;
    int rc = -1;
    if (nd == 0) { /* scalar dataset */
        uint8_t *one = elem ? malloc(elem) : NULL;
        rc = one && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, one) >= 0 ? 0 : -1;
        if (rc == 0 && fn) rc = fn(ctx, one, 0, 1, 1);
        free(one);
    } else if (nd > 0 && elem > 0) {
        size_t row = 1;
        for (int i = 1; i < nd; ++i)
            row *= (size_t)dims[i];
        rc = dims[0] == 0 || row == 0 ? 0 : read_rows(d, mt, nd, dims, row, elem, fn, ctx);
    }
    aq_h5_close_id(mt);
    return rc;
}
