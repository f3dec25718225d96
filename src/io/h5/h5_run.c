/*
 * aq-mpi — the /run group: per-rank figures and the unit plan.
 */
#include "h5_internal.h"

#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>

static hid_t vlen_utf8(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        aq_h5_close_id(t);
        return -1;
    }
    return t;
}

/* Variable-length strings live in HDF5's global heap, which has no checksum; attribute
 * sha256 (in the checksummed object header) covers the names: SHA-256 of every name
 * followed by one NUL byte, as 64 hex digits. */
static int names_digest(hid_t d, size_t n, const char *const *v) {
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    for (size_t i = 0; i < n; ++i)
        sha256_update(&ctx, strlen(v[i]) + 1, (const uint8_t *)v[i]);
    uint8_t dg[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof dg, dg);
    char hex[2 * SHA256_DIGEST_SIZE + 1];
    for (size_t i = 0; i < sizeof dg; ++i)
        snprintf(hex + 2 * i, 3, "%02x", dg[i]);
    return aq_h5_attr_str(d, "sha256", hex);
}

/* HDF5 refuses filters on variable-length data (only the heap references would be
 * compressed anyway), so the names are a plain contiguous dataset with a digest. */
static int write_strings(hid_t g, const char *name, size_t n, const char *const *v) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t t = vlen_utf8();
    hid_t s = t < 0 ? -1 : H5Screate_simple(1, dims, NULL);
    hid_t d = s < 0 ? -1 : H5Dcreate2(g, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 ? -1 : 0;
    if (rc == 0 && n > 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) rc = -1;
    if (rc == 0 && names_digest(d, n, v) < 0) rc = -1;
    if (aq_h5_close_id(d) < 0) rc = -1;
    aq_h5_close_id(s);
    aq_h5_close_id(t);
    return rc;
}

typedef struct {
    const char *name;
    hid_t type;
    const void *buf;
} run_col;

static aq_status run_impl(aq_h5_writer *w, const aq_h5_run_info *r, aq_err *err) {
    hid_t g = H5Gcreate2(w->file, "run", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return aq_h5_fail(err, "group /run");
    const run_col per_rank[] = {
        {"units", H5T_STD_I32LE, r->units},
        {"bytes", H5T_STD_I64LE, r->bytes},
        {"seconds_quant", H5T_IEEE_F64LE, r->seconds_quant},
        {"seconds_send", H5T_IEEE_F64LE, r->seconds_send},
        {"seconds_total", H5T_IEEE_F64LE, r->seconds_total},
        {"peak_rss_bytes", H5T_STD_I64LE, r->peak_rss},
    };
    aq_status st = AQ_OK;
    char what[64];
    size_t nr = (size_t)r->ranks, nu = (size_t)r->n_units;
    for (size_t i = 0; st == AQ_OK && i < sizeof per_rank / sizeof per_rank[0]; ++i) {
        const run_col *c = &per_rank[i];
        if (aq_h5_write_dataset_1d(g, c->name, c->type, nr, c->buf, w->level) < 0) {
            snprintf(what, sizeof what, "/run/%s", c->name);
            st = aq_h5_fail(err, what);
        }
    }
    if (st == AQ_OK && write_strings(g, "unit_names", nu, r->unit_names) < 0)
        st = aq_h5_fail(err, "/run/unit_names");
    if (st == AQ_OK &&
        aq_h5_write_dataset_1d(g, "unit_rank", H5T_STD_I32LE, nu, r->unit_rank, w->level) < 0)
        st = aq_h5_fail(err, "/run/unit_rank");
    if (aq_h5_close_id(g) < 0 && st == AQ_OK) st = aq_h5_fail(err, "closing /run");
    return st;
}

static int run_valid(const aq_h5_run_info *r) {
    if (!r || r->ranks < 0 || r->n_units < 0) return 0;
    if (r->ranks > 0 && (!r->units || !r->bytes || !r->seconds_quant || !r->seconds_send ||
                         !r->seconds_total || !r->peak_rss))
        return 0;
    if (r->n_units > 0 && (!r->unit_names || !r->unit_rank)) return 0;
    for (int i = 0; i < r->n_units; ++i)
        if (!r->unit_names[i]) return 0;
    return 1;
}

aq_status aq_h5_write_run(aq_h5_writer *w, const aq_h5_run_info *run, aq_err *err) {
    if (!w || !run_valid(run))
        return aq_err_set(err, AQ_E_VALUE, "/run: missing writer or incomplete run info");
    aq_h5_quiet q;
    aq_h5_quiet_begin(&q);
    aq_status st = run_impl(w, run, err);
    aq_h5_quiet_end(&q);
    return st;
}
