/* Rank 0's side of row-sharding (issue 16): the row blocks of a tensor arrive from several
 * ranks in any order; once all are in, their arrays are joined in block order (filtered
 * blobs by chunk table, raw arrays by rows) and the metrics computed from their row sums
 * in row order — the reduction of the unsharded driver, so the file is bit-identical. */
#include <stdlib.h>
#include <string.h>

#include "aq/h5out.h"
#include "job_internal.h"

typedef struct {
    int64_t tensor;
    int n_blocks, got;
    aq_qresult *blocks; /* [n_blocks], filled by block index */
} pieces;

struct aq_assembly_s {
    size_t n, cap;
    pieces *v;
};

static pieces *find(aq_assembly *a, int64_t tensor) {
    for (size_t i = 0; i < a->n; ++i)
        if (a->v[i].tensor == tensor) return &a->v[i];
    return NULL;
}

static pieces *add_entry(aq_assembly *a, const aq_msg_hdr *h) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 8;
        pieces *v = realloc(a->v, cap * sizeof *v);
        if (!v) return NULL;
        a->v = v;
        a->cap = cap;
    }
    pieces *p = &a->v[a->n];
    *p = (pieces){h->tensor, h->n_blocks, 0, calloc((size_t)h->n_blocks, sizeof(aq_qresult))};
    if (!p->blocks) return NULL;
    a->n++;
    return p;
}

static void drop(aq_assembly *a, pieces *p) {
    for (int b = 0; b < p->n_blocks; ++b)
        aq_qresult_free(&p->blocks[b]);
    free(p->blocks);
    *p = a->v[--a->n];
}

/* The blocks of p joined into *w. */
static aq_status join(const pieces *p, aq_qresult *w, aq_err *err) {
    const aq_qresult *b0 = &p->blocks[0];
    memset(w, 0, sizeof *w);
    w->hdr = b0->hdr;
    w->hdr.row0 = 0;
    w->hdr.row1 = b0->hdr.rows;
    w->hdr.block = 0;
    w->hdr.n_blocks = 1;
    w->hdr.seconds = 0.0;
    for (int b = 0; b < p->n_blocks; ++b) {
        const aq_msg_hdr *h = &p->blocks[b].hdr;
        int ok = h->row0 == (b ? p->blocks[b - 1].hdr.row1 : 0) &&
                 h->n_arrays == b0->hdr.n_arrays && h->filtered == b0->hdr.filtered &&
                 h->bits == b0->hdr.bits && h->passthrough == b0->hdr.passthrough &&
                 (b + 1 < p->n_blocks || h->row1 == h->rows);
        if (!ok)
            return aq_err_set(err, AQ_E_VALUE,
                              "tensor %lld: row block %d does not fit its siblings",
                              (long long)p->tensor, b);
        w->hdr.seconds += h->seconds;
        if (b > 0 && h->gptq > 1) w->hdr.gptq += h->gptq - 1; /* factorizations of every owner */
    }
    const int n = p->n_blocks;
    const void **parts = malloc((size_t)n * sizeof *parts);
    uint64_t *bytes = malloc((size_t)n * sizeof *bytes);
    double *sums = malloc((size_t)w->hdr.rows * AQ_QF_ROW_SUMS * sizeof *sums + 1);
    aq_status st =
        parts && bytes && sums
            ? AQ_OK
            : aq_err_set(err, AQ_E_NOMEM, "tensor %lld: out of memory joining row blocks",
                         (long long)p->tensor);
    for (int i = 0; st == AQ_OK && i < b0->hdr.n_arrays; ++i) {
        w->hdr.array_bytes[i] = w->hdr.wire_bytes[i] = 0;
        for (int b = 0; b < n; ++b) {
            parts[b] = p->blocks[b].arr[i];
            bytes[b] = aq_qresult_held_bytes(&p->blocks[b], i);
            w->hdr.array_bytes[i] += p->blocks[b].hdr.array_bytes[i];
        }
        if (b0->hdr.filtered) {
            st = aq_h5_blob_concat(parts, bytes, n, &w->arr[i], &w->hdr.wire_bytes[i], err);
            continue;
        }
        char *raw = malloc(w->hdr.array_bytes[i] + 1);
        if (!raw) {
            st = aq_err_set(err, AQ_E_NOMEM, "tensor %lld: out of memory joining row blocks",
                            (long long)p->tensor);
            break;
        }
        for (uint64_t b = 0, off = 0; b < (uint64_t)n; off += bytes[b], ++b)
            memcpy(raw + off, parts[b], bytes[b]);
        w->arr[i] = raw;
    }
    if (st == AQ_OK && !b0->hdr.passthrough) { /* passthrough: no metrics */
        double *s = sums;
        for (int b = 0; b < n; ++b) {
            const uint64_t k = aq_qresult_sums_bytes(&p->blocks[b]);
            memcpy(s, p->blocks[b].sums, k);
            s += k / sizeof *s;
        }
        aq_qf_metrics_from_row_sums(sums, w->hdr.rows, &w->hdr.metrics);
    }
    free(parts);
    free(bytes);
    free(sums);
    if (st != AQ_OK) aq_qresult_free(w);
    return st;
}

aq_status aq_assembly_add(aq_assembly **a, aq_qresult *r, aq_qresult *whole, int *complete,
                          aq_err *err) {
    *complete = 0;
    if (!*a && !(*a = calloc(1, sizeof **a)))
        return aq_err_set(err, AQ_E_NOMEM, "out of memory for row blocks");
    pieces *p = find(*a, r->hdr.tensor);
    if (!p && !(p = add_entry(*a, &r->hdr)))
        return aq_err_set(err, AQ_E_NOMEM, "out of memory for row blocks");
    const int b = r->hdr.block;
    if (r->hdr.n_blocks != p->n_blocks || b < 0 || b >= p->n_blocks || p->blocks[b].hdr.kind)
        return aq_err_set(err, AQ_E_VALUE, "tensor %lld: unexpected row block %d of %d",
                          (long long)r->hdr.tensor, b, r->hdr.n_blocks);
    p->blocks[b] = *r; /* moved */
    memset(r, 0, sizeof *r);
    if (++p->got < p->n_blocks) return AQ_OK;
    aq_status st = join(p, whole, err);
    drop(*a, p);
    *complete = st == AQ_OK;
    return st;
}

size_t aq_assembly_pending(const aq_assembly *a, int64_t *tensor) {
    if (!a || !a->n) return 0;
    if (tensor) *tensor = a->v[0].tensor;
    return a->n;
}

void aq_assembly_free(aq_assembly *a) {
    if (!a) return;
    while (a->n)
        drop(a, &a->v[a->n - 1]);
    free(a->v);
    free(a);
}
