/* Passthrough tensors filtered by the rank that owns them (issue 16): a 2-D tensor stored
 * unquantized (embeddings and lm_head with quant.embeddings = false, rows no ggml block fits)
 * is checked and cut into the chunks its dataset will have on the owner rank, zstd and
 * Fletcher32 applied there (aq_h5_prefilter_rows), and sent to rank 0 like a quantized
 * result; rank 0 only stores the chunks.  Row blocks of the plan cover whole chunks. */
#include <math.h>
#include <string.h>

#include "aq/dtype.h"
#include "job_internal.h"

/* Non-finite values among the flat elements [e0, e1) of t: the error names the first. */
static aq_status check_finite_range(const aq_tensor *t, uint64_t e0, uint64_t e1, aq_err *err) {
    float buf[4096];
    const size_t es = aq_dtype_size(t->dtype);
    for (uint64_t i = e0; i < e1; i += 4096) {
        size_t n = e1 - i < 4096 ? (size_t)(e1 - i) : 4096;
        aq_convert_to_f32(t->dtype, (const char *)t->data + i * es, n, buf);
        for (size_t k = 0; k < n; ++k)
            if (!isfinite(buf[k]))
                return aq_err_set(err, AQ_E_VALUE,
                                  "tensor %s (%s): non-finite value %g at flat index %llu", t->name,
                                  t->file, buf[k], (unsigned long long)(i + k));
    }
    return AQ_OK;
}

aq_status aq_qresult_passthrough(const aq_job *j, int64_t index, const aq_plan_item *it,
                                 aq_qresult *r, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, (size_t)index);
    const double t0 = MPI_Wtime();
    memset(r, 0, sizeof *r);
    aq_msg_hdr *h = &r->hdr;
    h->kind = MSG_RESULT;
    h->tensor = index;
    h->rank = j->rank;
    h->rows = t->shape[0];
    h->cols = t->shape[1];
    const int block = it && it->n_blocks > 1;
    h->row0 = block ? it->row0 : 0;
    h->row1 = block ? it->row1 : h->rows;
    h->block = block ? it->block : 0;
    h->n_blocks = block ? it->n_blocks : 1;
    h->n_arrays = 1;
    h->passthrough = 1;
    h->from_kl = NAN;
    const size_t es = aq_dtype_size(t->dtype);
    const uint64_t e0 = (uint64_t)h->row0 * (uint64_t)h->cols,
                   e1 = (uint64_t)h->row1 * (uint64_t)h->cols;
    h->array_bytes[0] = (e1 - e0) * es;
    aq_status st = check_finite_range(t, e0, e1, err);
    if (st == AQ_OK)
        st = aq_h5_prefilter_rows(h->rows, h->row0, h->row1, h->cols, es,
                                  (const char *)t->data + e0 * es, j->cfg->compression_level,
                                  &r->arr[0], &h->wire_bytes[0], err);
    aq_tensor_release(t); /* resident memory stays near one tensor */
    if (st == AQ_OK) h->filtered = 1;
    h->seconds = MPI_Wtime() - t0;
    return st;
}
