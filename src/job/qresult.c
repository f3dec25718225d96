/* One quantized tensor's result (aq_qresult): its buffers (one per array of its format) and
 * stored size. */
#include <stdlib.h>

#include "job_internal.h"

uint64_t aq_qresult_bytes(const aq_qresult *r) {
    uint64_t n = 0;
    for (int i = 0; i < r->hdr.n_arrays; ++i)
        n += r->hdr.array_bytes[i];
    return n;
}

uint64_t aq_qresult_held_bytes(const aq_qresult *r, int i) {
    return r->hdr.filtered ? r->hdr.wire_bytes[i] : r->hdr.array_bytes[i];
}

uint64_t aq_qresult_sums_bytes(const aq_qresult *r) {
    if (r->hdr.n_blocks <= 1 || r->hdr.row1 < r->hdr.row0 || r->hdr.passthrough) return 0;
    return (uint64_t)(r->hdr.row1 - r->hdr.row0) * AQ_QF_ROW_SUMS * sizeof(double);
}

aq_status aq_qresult_alloc(aq_qresult *r, const char *name, aq_err *err) {
    int ok = r->hdr.n_arrays >= 0 && r->hdr.n_arrays <= AQ_QF_MAX_ARRAYS;
    r->sums = NULL;
    if (ok && aq_qresult_sums_bytes(r)) ok = (r->sums = malloc(aq_qresult_sums_bytes(r))) != NULL;
    for (int i = 0; ok && i < r->hdr.n_arrays; ++i) {
        const uint64_t n = aq_qresult_held_bytes(r, i);
        ok = (r->arr[i] = malloc(n ? n : 1)) != NULL;
    }
    if (ok) return AQ_OK;
    aq_qresult_free(r);
    return aq_err_set(err, AQ_E_NOMEM, "tensor %s: cannot allocate %llu bytes of results", name,
                      (unsigned long long)aq_qresult_bytes(r));
}

void aq_qresult_free(aq_qresult *r) {
    for (int i = 0; i < AQ_QF_MAX_ARRAYS; ++i) {
        free(r->arr[i]);
        r->arr[i] = NULL;
    }
    free(r->sums);
    r->sums = NULL;
}
