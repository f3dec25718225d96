/*
 * aq-mpi — the one tensor driver of every format (aq_qformat_quantize_tensor(),
 * include/aq/qformat.h): input checks, OpenMP over rows, non-finite checks, error metrics.
 *
 * Every row writes only its own slice of the arrays and its own row_stats, and the per-row
 * sums are added in row order after the parallel loop, so arrays and metrics are
 * bit-identical for any thread count and schedule.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "aq/dq.h"
#include "quant_impl.h"

/* Per-row partial sums and the first problems found in the row. */
typedef struct {
    double l[AQ_ES_N]; /* the row's error sums, AQ_ES_* order */
    int64_t bad_col;   /* first non-finite weight, -1 if none */
    int64_t bad_over;  /* first column of a block whose stored parameters overflow, -1 none */
    float bad_val;
} row_stats;

/* Read-only description of one call, shared by the threads. */
typedef struct {
    const aq_qformat *f;
    const aq_kernels_t *k;
    const aq_quant_params *p;
    aq_dtype dt;
    const unsigned char *src; /* row 0 of the tensor */
    int64_t row0;             /* first row quantized: rs[i], arr rows i are row row0 + i */
    int64_t cols;
    const float *h;
    int n; /* arrays */
    unsigned char *arr[AQ_QF_MAX_ARRAYS];
    size_t row_bytes[AQ_QF_MAX_ARRAYS]; /* bytes per row of each array */
    size_t scratch;                     /* bytes of row scratch per thread */
    row_stats *rs;
} tensor_job;

static aq_status check_inputs(const tensor_job *t, int64_t rows, const char *name, aq_err *err) {
    aq_err e = {0};
    if (aq_quant_params_check(t->p, &e) != AQ_OK)
        return aq_err_set(err, AQ_E_CONFIG, "tensor %s: %s", name, e.msg);
    const int64_t cols = t->cols;
    if (rows < 0 || cols < 0 || cols > INT64_MAX / 8 / (rows > 0 ? rows : 1))
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: bad shape [%lld, %lld]", name,
                          (long long)rows, (long long)cols);
    if (cols % t->f->row_multiple != 0)
        return aq_err_set(err, AQ_E_VALUE,
                          "tensor %s: row length %lld is not a multiple of %lld (format %s)", name,
                          (long long)cols, (long long)t->f->row_multiple, t->f->name);
    for (int64_t j = 0; t->h && j < cols; ++j)
        if (!(t->h[j] >= 0.0f) || !isfinite(t->h[j]))
            return aq_err_set(err, AQ_E_VALUE,
                              "tensor %s: importance h[%lld] = %g is negative or non-finite", name,
                              (long long)j, (double)t->h[j]);
    return AQ_OK;
}

/* Per-thread row buffers. */
typedef struct {
    float *w;
    void *scratch;
} row_bufs;

/* The row as float32: the source itself when it already is aligned little-endian f32. */
static const float *row_f32(const tensor_job *t, int64_t r, float *buf) {
    const unsigned char *p =
        t->src + (size_t)(t->row0 + r) * (size_t)t->cols * aq_dtype_size(t->dt);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (t->dt == AQ_DT_F32 && (uintptr_t)p % _Alignof(float) == 0) return (const float *)p;
#endif
    t->k->convert(t->dt, p, (size_t)t->cols, buf);
    return buf;
}

/* One row; `stop` is raised at the first bad weight so later rows only get checked. */
static void process_row(const tensor_job *t, int64_t r, const row_bufs *b, int *stop) {
    row_stats *st = &t->rs[r];
    *st = (row_stats){{0.0}, -1, -1, 0.0f};
    const float *w = row_f32(t, r, b->w);
    st->bad_col = t->k->first_nonfinite(w, t->cols);
    if (st->bad_col >= 0) {
        st->bad_val = w[st->bad_col];
#pragma omp atomic write
        *stop = 1;
        return;
    }
    int stopped;
#pragma omp atomic read
    stopped = *stop;
    if (stopped) return;
    void *arr[AQ_QF_MAX_ARRAYS] = {NULL};
    for (int i = 0; i < t->n; ++i)
        arr[i] = t->arr[i] + (size_t)r * t->row_bytes[i];
    const aq_qf_env env = {t->f, t->p, t->k, b->scratch};
    aq_qf_sums sums = {{{0}}};
    st->bad_over = t->f->quantize_row(&env, w, t->h, t->cols, arr, &sums);
    for (int i = 0; i < AQ_ES_N; ++i)
        st->l[i] = aq_lanes_sum(sums.lanes[i]);
}

/* Runs all rows; returns 0, or -1 when a thread could not get its row buffers. */
static int run_rows(const tensor_job *t, int64_t rows) {
    int nomem = 0, stop = 0;
#pragma omp parallel
    {
        row_bufs b = {malloc((size_t)t->cols * sizeof *b.w),
                      t->scratch ? malloc(t->scratch) : NULL};
        const int ok = b.w && (b.scratch || !t->scratch);
        if (!ok) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t r = 0; r < rows; ++r)
            if (ok) process_row(t, r, &b, &stop);
        free(b.w);
        free(b.scratch);
    }
    return nomem ? -1 : 0;
}

/* The lowest flat index wins: rows are scanned in order, each row recorded its first. */
static aq_status report_problems(const tensor_job *t, int64_t rows, const char *name, aq_err *err) {
    for (int64_t r = 0; r < rows; ++r)
        if (t->rs[r].bad_col >= 0)
            return aq_err_set(err, AQ_E_VALUE, "tensor %s: non-finite weight %g at [%lld, %lld]",
                              name, (double)t->rs[r].bad_val, (long long)(t->row0 + r),
                              (long long)t->rs[r].bad_col);
    for (int64_t r = 0; r < rows; ++r)
        if (t->rs[r].bad_over >= 0) {
            char what[AQ_ERR_MSG_MAX / 2];
            t->f->overflow_msg(t->p, t->rs[r].bad_over, what, sizeof what);
            return aq_err_set(err, AQ_E_VALUE, "tensor %s: row %lld, %s", name,
                              (long long)(t->row0 + r), what);
        }
    return AQ_OK;
}

/* Ratio with the header's conventions: 0/0 is 0 (W^ = W = 0), x/0 is +Inf. */
static double safe_ratio(double num, double den) {
    if (den > 0.0) return num / den;
    return num == 0.0 ? 0.0 : INFINITY;
}

void aq_qf_metrics_from_row_sums(const double *row_sums, int64_t rows, aq_quant_metrics *m) {
    double s[AQ_ES_N] = {0};
    for (int64_t r = 0; r < rows; ++r) /* row order: the result is thread-count free */
        for (int i = 0; i < AQ_ES_N; ++i)
            s[i] += row_sums[r * AQ_QF_ROW_SUMS + i];
    aq_qf_metrics_from_sums(s, m);
}

void aq_qf_metrics_from_sums(const double s[AQ_ES_N], aq_quant_metrics *m) {
    const double w2 = s[AQ_ES_W2], v2 = s[AQ_ES_V2];
    m->rel_mse = safe_ratio(s[AQ_ES_E2], w2);
    m->sqnr_db = m->rel_mse == 0.0 ? INFINITY : -10.0 * log10(m->rel_mse);
    if (w2 == 0.0 && v2 == 0.0)
        m->cosine = 1.0;
    else if (w2 == 0.0 || v2 == 0.0)
        m->cosine = 0.0;
    else
        m->cosine = s[AQ_ES_WV] / sqrt(w2 * v2);
    m->weighted_rel_err = safe_ratio(s[AQ_ES_HE2], s[AQ_ES_HW2]);
}

/* The format's arrays for the row length, their row sizes and the row scratch. */
static int describe(tensor_job *t, void *const *arr) {
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    t->n = t->f->arrays(t->f, t->p, t->cols, a);
    for (int i = 0; i < t->n; ++i) {
        t->arr[i] = arr ? arr[i] : NULL;
        t->row_bytes[i] = (size_t)a[i].row_elems * aq_elem_size(a[i].elem);
        if (!t->arr[i]) return -1;
    }
    t->scratch = t->f->scratch_bytes ? t->f->scratch_bytes(t->p, t->cols) : 0;
    return 0;
}

_Static_assert(AQ_QF_ROW_SUMS == AQ_ES_N, "aq/qformat.h row sums are the AQ_ES_N sums");

aq_status aq_qformat_quantize_rows(const aq_quant_params *p, const aq_kernels *k,
                                   aq_dtype src_dtype, const void *src, int64_t rows, int64_t row0,
                                   int64_t row1, int64_t cols, const float *h, const char *name,
                                   void *const *arr, double *row_sums, aq_err *err) {
    if (!name) name = "(unnamed)";
    tensor_job t = {.f = aq_qformat_of(p),
                    .k = k ? k : aq_kernels_select(0),
                    .p = p,
                    .dt = src_dtype,
                    .src = src,
                    .row0 = row0,
                    .cols = cols,
                    .h = h};
    aq_status st = check_inputs(&t, rows, name, err);
    if (st != AQ_OK) return st;
    if (row0 < 0 || row1 < row0 || row1 > rows)
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: rows [%lld, %lld) outside [0, %lld)", name,
                          (long long)row0, (long long)row1, (long long)rows);
    const int64_t n = row1 - row0;
    if (n == 0 || cols == 0) { /* nothing stored, an exact (empty) result */
        for (int64_t i = 0; row_sums && i < n * AQ_QF_ROW_SUMS; ++i)
            row_sums[i] = 0.0;
        return AQ_OK;
    }
    if (!src || describe(&t, arr) != 0)
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: missing input or output buffer", name);
    t.rs = malloc((size_t)n * sizeof *t.rs);
    if (!t.rs || run_rows(&t, n) != 0) {
        free(t.rs);
        return aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory for %lld x %lld rows", name,
                          (long long)n, (long long)cols);
    }
    st = report_problems(&t, n, name, err);
    for (int64_t r = 0; st == AQ_OK && row_sums && r < n; ++r)
        for (int i = 0; i < AQ_ES_N; ++i)
            row_sums[r * AQ_QF_ROW_SUMS + i] = t.rs[r].l[i];
    free(t.rs);
    return st;
}

aq_status aq_qformat_quantize_tensor(const aq_quant_params *p, const aq_kernels *k,
                                     aq_dtype src_dtype, const void *src, int64_t rows,
                                     int64_t cols, const float *h, const char *name,
                                     void *const *arr, aq_quant_metrics *metrics, aq_err *err) {
    double *sums = NULL;
    if (metrics && rows > 0 && cols > 0 && rows <= INT64_MAX / 8 / AQ_QF_ROW_SUMS) {
        sums = malloc((size_t)rows * AQ_QF_ROW_SUMS * sizeof *sums);
        if (!sums)
            return aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory for %lld row sums",
                              name ? name : "(unnamed)", (long long)rows);
    }
    aq_status st = aq_qformat_quantize_rows(p, k, src_dtype, src, rows, 0, rows < 0 ? 0 : rows,
                                            cols, h, name, arr, sums, err);
    /* the same reduction as a row-sharded tensor's (aq_qf_metrics_from_row_sums) */
    if (st == AQ_OK && metrics) aq_qf_metrics_from_row_sums(sums, sums ? rows : 0, metrics);
    free(sums);
    return st;
}

void aq_qformat_dequantize_rows(const aq_quant_params *p, const void *const *arr, int64_t rows,
                                int64_t cols, float *dst) {
    const aq_qformat *f = aq_qformat_of(p);
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    const int n = f ? f->arrays(f, p, cols, a) : 0;
    size_t rb[AQ_QF_MAX_ARRAYS];
    for (int i = 0; i < n; ++i)
        rb[i] = (size_t)a[i].row_elems * aq_elem_size(a[i].elem);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const void *row[AQ_QF_MAX_ARRAYS] = {NULL};
        for (int i = 0; i < n; ++i)
            row[i] = (const unsigned char *)arr[i] + (size_t)r * rb[i];
        f->dequantize_row(f, p, row, cols, dst + r * cols);
    }
}

/*-*********************************************
 *  The entry points with named arrays (include/aq/quant.h, include/aq/dq.h)
 ***********************************************/

aq_status aq_quantize_tensor(const aq_quant_params *p, aq_dtype src_dtype, const void *src,
                             int64_t rows, int64_t cols, const float *h, const char *name,
                             uint8_t *codes, void *scale, void *min, aq_quant_metrics *metrics,
                             aq_err *err) {
    return aq_quantize_tensor_ex(p, NULL, src_dtype, src, rows, cols, h, name, codes, scale, min,
                                 metrics, err);
}

aq_status aq_quantize_tensor_ex(const aq_quant_params *p, const aq_kernels *k, aq_dtype src_dtype,
                                const void *src, int64_t rows, int64_t cols, const float *h,
                                const char *name, uint8_t *codes, void *scale, void *min,
                                aq_quant_metrics *metrics, aq_err *err) {
    if (p && p->scale_dtype == AQ_SCALE_DQ)
        return aq_err_set(err, AQ_E_CONFIG,
                          "tensor %s: scale_dtype dq is quantized by aq_dq_quantize_tensor()",
                          name ? name : "(unnamed)");
    void *const arr[AQ_QF_MAX_ARRAYS] = {codes, scale, min, NULL};
    return aq_qformat_quantize_tensor(p, k, src_dtype, src, rows, cols, h, name, arr, metrics, err);
}

aq_status aq_dq_quantize_tensor(const aq_kernels *k, const aq_dq_layout *L, aq_dtype src_dtype,
                                const void *src, int64_t rows, int64_t cols, const float *h,
                                const char *name, uint8_t *codes, uint8_t *sub, uint16_t *d,
                                uint16_t *dmin, aq_quant_metrics *metrics, aq_err *err) {
    aq_err e = {0};
    if (aq_dq_layout_check(L, &e) != AQ_OK)
        return aq_err_set(err, AQ_E_CONFIG, "tensor %s: %s", name ? name : "(unnamed)", e.msg);
    const aq_quant_params p = {L->bits, L->group_size, AQ_METHOD_MSE, AQ_SCALE_DQ, L->sub_bits, 0};
    void *const arr[AQ_QF_MAX_ARRAYS] = {codes, sub, d, dmin};
    return aq_qformat_quantize_tensor(&p, k, src_dtype, src, rows, cols, h, name, arr, metrics,
                                      err);
}
