/* Filters a result's arrays on the rank that computed them (issue 16): the HDF5 filter
 * pipeline (zstd, Fletcher32) runs where the tensor was quantized, in parallel over ranks,
 * and rank 0 stores finished chunks instead of compressing every tensor itself. */
#include <stdlib.h>

#include "job_internal.h"

aq_status aq_qresult_prefilter(const aq_job *j, aq_qresult *r, aq_err *err) {
    if (r->hdr.filtered) return AQ_OK;
    aq_quant_params p = j->cfg->quant;
    p.bits = r->hdr.bits;
    p.format = r->hdr.format;
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    int n = aq_qformat_arrays(&p, r->hdr.cols, a);
    if (n != r->hdr.n_arrays) {
        aq_qresult_free(r);
        return aq_err_set(err, AQ_E_VALUE, "tensor %lld: %d arrays, format has %d",
                          (long long)r->hdr.tensor, r->hdr.n_arrays, n);
    }
    double t0 = MPI_Wtime();
    aq_status st = AQ_OK;
    /* Array by array, each raw buffer freed as soon as its chunks exist: the peak is the
     * raw result plus one array's chunks. */
    for (int i = 0; st == AQ_OK && i < n; ++i) {
        void *blob = NULL;
        /* a row block gets the chunks of its rows in the whole array's grid */
        st = aq_h5_prefilter_rows(r->hdr.rows, r->hdr.row0, r->hdr.row1, a[i].row_elems,
                                  aq_elem_size(a[i].elem), r->arr[i], j->cfg->compression_level,
                                  &blob, &r->hdr.wire_bytes[i], err);
        if (st != AQ_OK) break;
        free(r->arr[i]);
        r->arr[i] = blob;
    }
    /* Arrays before i are blobs already: mark the whole result filtered only when all are. */
    if (st == AQ_OK) r->hdr.filtered = 1;
    if (st != AQ_OK) aq_qresult_free(r);
    r->hdr.seconds += MPI_Wtime() - t0;
    return st;
}
