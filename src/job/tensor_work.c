/* What happens to one tensor on the rank that owns it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <mpi.h>

#include "aq/job.h"
#include "aq/phases.h"
#include "aq/qformat.h"
#include "job_internal.h"

/* Importance h_j = sum_t w_t E[x_tj^2] of tensor t's input channels, or NULL (all 1). */
aq_status aq_job_importance(const aq_job *j, const aq_tensor *t, int64_t cols, float **h,
                            aq_err *err) {
    *h = NULL;
    if (!j->act.enabled) return AQ_OK;
    aq_layer_stats s;
    memset(&s, 0, sizeof s);
    aq_status st = aq_act_load_stats(j, t, &s, err);
    if (st == AQ_OK && s.T > 0) {
        *h = malloc((size_t)cols * sizeof **h);
        if (*h)
            aq_importance(&s, j->act.w, *h);
        else
            st = aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory for importance", t->name);
    }
    aq_layer_stats_free(&s);
    return st;
}

static double fallback_threshold(const aq_config *c, int bits) {
    return bits == 2 ? c->fallback_2bit : bits == 4 ? c->fallback_4bit : INFINITY;
}

/* The layer's KL from aq-eval --layer-kl when it was measured at this width, else NaN. */
static double layer_kl(const aq_job *j, const char *name, int bits) {
    double kl = NAN;
    return aq_kl_table_find(&j->kl, name, bits, &kl) ? kl : NAN;
}

/* Per-layer fallback (issue 8): too lossy at this width by weighted_rel_err, or by KL. */
static int too_lossy(const aq_job *j, const char *name, int bits, double werr, double *kl) {
    *kl = layer_kl(j, name, bits);
    return werr > fallback_threshold(j->cfg, bits) || *kl > j->cfg->fallback_kl;
}

aq_status aq_quantize_at(const aq_job *j, const aq_tensor *t, int bits, const float *h,
                         aq_qresult *r, aq_err *err) {
    aq_quant_params p = j->cfg->quant;
    p.bits = bits;
    p.format = r->hdr.format;
    r->hdr.bits = bits;
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    r->hdr.n_arrays = aq_qformat_arrays(&p, r->hdr.cols, a);
    for (int i = 0; i < r->hdr.n_arrays; ++i)
        r->hdr.array_bytes[i] =
            (uint64_t)r->hdr.rows * (uint64_t)a[i].row_elems * aq_elem_size(a[i].elem);
    aq_status st = aq_qresult_alloc(r, t->name, err);
    int done = 0;
    if (st == AQ_OK && j->gptq) st = aq_job_gptq_quantize(j, t, &p, h, NULL, r, &done, err);
    if (st == AQ_OK && !done)
        st = aq_qformat_quantize_tensor(&p, j->kernels, t->dtype, t->data, r->hdr.rows, r->hdr.cols,
                                        h, t->name, r->arr, &r->hdr.metrics, err);
    if (st != AQ_OK) aq_qresult_free(r);
    return st;
}

/* Rows [it->row0, it->row1) of t at `bits`: the block's arrays and row sums. */
static aq_status quantize_block(const aq_job *j, const aq_tensor *t, int bits, const float *h,
                                const aq_plan_item *it, aq_qresult *r, aq_err *err) {
    aq_quant_params p = j->cfg->quant;
    p.bits = bits;
    p.format = r->hdr.format; /* quant.format's row, or its row-length fallback */
    r->hdr.bits = bits;
    r->hdr.row0 = it->row0;
    r->hdr.row1 = it->row1;
    r->hdr.block = it->block;
    r->hdr.n_blocks = it->n_blocks;
    const int64_t n = it->row1 - it->row0;
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    r->hdr.n_arrays = aq_qformat_arrays(&p, r->hdr.cols, a);
    for (int i = 0; i < r->hdr.n_arrays; ++i)
        r->hdr.array_bytes[i] = (uint64_t)n * (uint64_t)a[i].row_elems * aq_elem_size(a[i].elem);
    aq_status st = aq_qresult_alloc(r, t->name, err);
    int done = 0;
    if (st == AQ_OK && j->gptq) st = aq_job_gptq_quantize(j, t, &p, h, it, r, &done, err);
    if (st == AQ_OK && !done)
        st = aq_qformat_quantize_rows(&p, j->kernels, t->dtype, t->data, r->hdr.rows, it->row0,
                                      it->row1, r->hdr.cols, h, t->name, r->arr, r->sums, err);
    if (st != AQ_OK) aq_qresult_free(r);
    return st;
}

aq_status aq_qresult_compute(const aq_job *j, int64_t index, const aq_plan_item *it, aq_qresult *r,
                             aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, (size_t)index);
    memset(&r->hdr, 0, sizeof r->hdr); /* also hdr.gptq: set by aq_job_gptq_quantize() */
    memset(r->arr, 0, sizeof r->arr);
    r->sums = NULL;
    r->hdr.kind = MSG_RESULT;
    r->hdr.tensor = index;
    r->hdr.rank = j->rank;
    aq_tensor_view(t, &r->hdr.rows, &r->hdr.cols);
    r->hdr.row1 = r->hdr.rows;
    r->hdr.n_blocks = 1;
    const int block = it && it->n_blocks > 1;
    double t0 = MPI_Wtime();
    float *h = NULL;
    int bits = j->bits ? j->bits[index] : j->cfg->quant.bits;
    if (j->cfg->quant.format) { /* a ggml format, or llama-quantize's fallback for the row */
        r->hdr.format = aq_qformat_fallback(j->cfg->quant.format, r->hdr.cols);
        if (r->hdr.format != j->cfg->quant.format) r->hdr.from_format = j->cfg->quant.format;
        if (j->formats && j->formats[index]) /* quant.budget_bits chose it */
            r->hdr.format = j->formats[index], r->hdr.budget = 1;
        if (r->hdr.format) bits = aq_qformat_get(r->hdr.format)->widths[0];
    }
    aq_status st = aq_job_importance(j, t, r->hdr.cols, &h, err);
    if (st == AQ_OK)
        st = block ? quantize_block(j, t, bits, h, it, r, err)
                   : aq_quantize_at(j, t, bits, h, r, err);
    /* Per-layer fallback (issue 8): a layer too lossy at its width moves up, 2 -> 4 -> 8. */
    double kl = NAN;
    r->hdr.from_kl = NAN;
    while (st == AQ_OK && !block && j->cfg->fallback && bits < 8 &&
           too_lossy(j, t->name, bits, r->hdr.metrics.weighted_rel_err, &kl)) {
        if (!r->hdr.from_bits) {
            r->hdr.from_bits = bits;
            r->hdr.from_err = r->hdr.metrics.weighted_rel_err;
            r->hdr.from_kl = kl;
        }
        aq_qresult_free(r);
        bits = bits < 4 ? 4 : 8; /* 2 or 3 (dq) -> 4 -> 8 */
        st = aq_quantize_at(j, t, bits, h, r, err);
    }
    aq_job_test_delay("AQ_TEST_TENSOR_DELAY_MS", 10000); /* tests interrupt or kill mid-run */
    r->hdr.seconds = MPI_Wtime() - t0;
    free(h);
    aq_tensor_release(t); /* resident memory stays near one tensor, not the whole model */
    return st;
}

aq_status aq_check_finite(const aq_tensor *t, aq_err *err) {
    float buf[4096];
    for (uint64_t i = 0; i < t->numel; i += 4096) {
        size_t n = t->numel - i < 4096 ? (size_t)(t->numel - i) : 4096;
        aq_convert_to_f32(t->dtype, (const char *)t->data + i * aq_dtype_size(t->dtype), n, buf);
        for (size_t j = 0; j < n; ++j)
            if (!isfinite(buf[j]))
                return aq_err_set(err, AQ_E_VALUE,
                                  "tensor %s (%s): non-finite value %g at flat index %llu", t->name,
                                  t->file, buf[j], (unsigned long long)(i + j));
    }
    return AQ_OK;
}
