/* One quantized tensor's result (aq_qresult): its buffers and stored size. */
#include <stdlib.h>

#include "job_internal.h"

uint64_t aq_qresult_bytes(const aq_qresult *r) {
    return r->hdr.codes_bytes + 2 * r->hdr.param_bytes + r->hdr.sub_bytes;
}

aq_status aq_qresult_alloc(aq_qresult *r, const char *name, aq_err *err) {
    r->codes = malloc(r->hdr.codes_bytes ? r->hdr.codes_bytes : 1);
    r->scale = malloc(r->hdr.param_bytes ? r->hdr.param_bytes : 1);
    r->min = malloc(r->hdr.param_bytes ? r->hdr.param_bytes : 1);
    r->sub = r->hdr.sub_bytes ? malloc(r->hdr.sub_bytes) : NULL;
    if (r->codes && r->scale && r->min && (r->sub || !r->hdr.sub_bytes)) return AQ_OK;
    aq_qresult_free(r);
    return aq_err_set(err, AQ_E_NOMEM, "tensor %s: cannot allocate %llu bytes of results", name,
                      (unsigned long long)aq_qresult_bytes(r));
}

void aq_qresult_free(aq_qresult *r) {
    free(r->codes);
    free(r->scale);
    free(r->min);
    free(r->sub);
    r->codes = r->sub = NULL;
    r->scale = r->min = NULL;
}
