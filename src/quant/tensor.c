/*
 * aq-mpi — tensor driver: OpenMP over rows, non-finite checks, error metrics.
 *
 * Every row writes only its own slice of the outputs and its own row_stats, and the
 * per-row sums are added in row order after the parallel loop, so codes, parameters and
 * metrics are bit-identical for any thread count and schedule.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "quant_impl.h"

/* Per-row partial sums (double) and the first problems found in the row. */
typedef struct {
    double e2, w2, wv, v2, he2, hw2; /* |W-W^|^2, |W|^2, <W,W^>, |W^|^2, h-weighted two */
    int64_t bad_col;                 /* first non-finite weight, -1 if none */
    int64_t bad_group;               /* first group with a non-finite stored scale/min */
    float bad_val;
} row_stats;

/* Read-only description of one call, shared by the threads. */
typedef struct {
    const aq_kernels_t *k;
    const aq_quant_params *p;
    aq_dtype dt;
    const unsigned char *src;
    int64_t cols, groups;
    size_t row_bytes, psize;
    const float *h;
    uint8_t *codes;
    unsigned char *scale, *min;
    row_stats *rs;
} tensor_job;

static aq_status check_inputs(const aq_quant_params *p, const tensor_job *t, int64_t rows,
                              const char *name, aq_err *err) {
    aq_status st = aq_quant_params_check(p, err);
    if (st != AQ_OK) return st;
    if (p->scale_dtype == AQ_SCALE_DQ)
        return aq_err_set(err, AQ_E_CONFIG,
                          "tensor %s: scale_dtype dq is quantized by aq_dq_quantize_tensor()",
                          name);
    const int64_t cols = t->cols;
    const float *h = t->h;
    if (rows < 0 || cols < 0 || cols > INT64_MAX / 8 / (rows > 0 ? rows : 1))
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: bad shape [%lld, %lld]", name,
                          (long long)rows, (long long)cols);
    if (rows > 0 && cols > 0 && (!t->src || !t->codes || !t->scale || !t->min))
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: missing input or output buffer", name);
    for (int64_t j = 0; h && j < cols; ++j)
        if (!(h[j] >= 0.0f) || !isfinite(h[j]))
            return aq_err_set(err, AQ_E_VALUE,
                              "tensor %s: importance h[%lld] = %g is negative or non-finite", name,
                              (long long)j, (double)h[j]);
    return AQ_OK;
}

void aq_err_sums_ref(const float *w, const float *wh, const float *h, int64_t n,
                     double lanes[AQ_ES_N][AQ_LANES]) {
    for (int64_t j = 0; j < n; ++j) {
        double a = w[j], b = wh[j], d = a - b, hj = h ? h[j] : 1.0;
        const int l = (int)(j % AQ_LANES);
        lanes[AQ_ES_E2][l] += d * d;
        lanes[AQ_ES_W2][l] += a * a;
        lanes[AQ_ES_WV][l] += a * b;
        lanes[AQ_ES_V2][l] += b * b;
        lanes[AQ_ES_HE2][l] += hj * d * d;
        lanes[AQ_ES_HW2][l] += hj * a * a;
    }
}

/* Per-thread row buffers. */
typedef struct {
    float *w, *s, *m;
} row_bufs;

/* The row as float32: the source itself when it already is aligned little-endian f32. */
static const float *row_f32(const tensor_job *t, int64_t r, float *buf) {
    const unsigned char *p = t->src + (size_t)r * (size_t)t->cols * aq_dtype_size(t->dt);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (t->dt == AQ_DT_F32 && (uintptr_t)p % _Alignof(float) == 0) return (const float *)p;
#endif
    t->k->convert(t->dt, p, (size_t)t->cols, buf);
    return buf;
}

/* One row; `stop` is raised at the first bad weight so later rows only get checked.
 * Same results as aq_quantize_row() + aq_dequantize_row() + the error sums, fused. */
static void process_row(const tensor_job *t, int64_t r, const row_bufs *b, int *stop) {
    const aq_kernels_t *k = t->k;
    const aq_quant_params *p = t->p;
    row_stats *st = &t->rs[r];
    *st = (row_stats){0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1, -1, 0.0f};
    const float *w = row_f32(t, r, b->w);
    st->bad_col = k->first_nonfinite(w, t->cols);
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
    const int gs = p->group_size;
    k->rtn_params(w, t->cols, gs, p->bits, p->scale_dtype, b->s, b->m);
    if (p->method == AQ_METHOD_MSE) /* each group starts from its rtn parameters */
        for (int64_t g = 0; g < t->groups; ++g) {
            const int64_t off = g * gs;
            const int n = (int)(t->cols - off < gs ? t->cols - off : gs);
            aq_group_params_mse_from_rtn(k, w + off, t->h ? t->h + off : NULL, n, p->bits,
                                         p->scale_dtype, &b->s[g], &b->m[g]);
        }
    /* f16 cannot hold |v| > 65504: such a scale/min is stored as Inf and must not pass. */
    for (int64_t g = 0; g < t->groups && st->bad_group < 0; ++g)
        if (!isfinite(b->s[g]) || !isfinite(b->m[g])) st->bad_group = g;
    unsigned char *sc = t->scale + (size_t)r * (size_t)t->groups * t->psize;
    unsigned char *mn = t->min + (size_t)r * (size_t)t->groups * t->psize;
    k->store_params(b->s, b->m, t->groups, p->scale_dtype, sc, mn);
    double lanes[AQ_ES_N][AQ_LANES] = {{0}};
    k->encode_row(w, t->cols, gs, p->bits, t->h, b->s, b->m, t->codes + (size_t)r * t->row_bytes,
                  lanes);
    st->e2 = aq_lanes_sum(lanes[AQ_ES_E2]);
    st->w2 = aq_lanes_sum(lanes[AQ_ES_W2]);
    st->wv = aq_lanes_sum(lanes[AQ_ES_WV]);
    st->v2 = aq_lanes_sum(lanes[AQ_ES_V2]);
    st->he2 = aq_lanes_sum(lanes[AQ_ES_HE2]);
    st->hw2 = aq_lanes_sum(lanes[AQ_ES_HW2]);
}

/* Runs all rows; returns 0, or -1 when a thread could not get its row buffers. */
static int run_rows(const tensor_job *t, int64_t rows) {
    int nomem = 0, stop = 0;
#pragma omp parallel
    {
        row_bufs b = {malloc((size_t)t->cols * sizeof *b.w),
                      malloc((size_t)t->groups * sizeof *b.s),
                      malloc((size_t)t->groups * sizeof *b.m)};
        const int ok = b.w && b.s && b.m;
        if (!ok) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t r = 0; r < rows; ++r)
            if (ok) process_row(t, r, &b, &stop);
        free(b.w);
        free(b.s);
        free(b.m);
    }
    return nomem ? -1 : 0;
}

/* The lowest flat index wins: rows are scanned in order, each row recorded its first. */
static aq_status report_problems(const tensor_job *t, int64_t rows, const char *name, aq_err *err) {
    for (int64_t r = 0; r < rows; ++r)
        if (t->rs[r].bad_col >= 0)
            return aq_err_set(err, AQ_E_VALUE, "tensor %s: non-finite weight %g at [%lld, %lld]",
                              name, (double)t->rs[r].bad_val, (long long)r,
                              (long long)t->rs[r].bad_col);
    for (int64_t r = 0; r < rows; ++r)
        if (t->rs[r].bad_group >= 0)
            return aq_err_set(err, AQ_E_VALUE,
                              "tensor %s: row %lld, group %lld: scale or min does not fit %s "
                              "(weights too large); use quant.scale_dtype=f32",
                              name, (long long)r, (long long)t->rs[r].bad_group,
                              aq_scale_dtype_name(t->p->scale_dtype));
    return AQ_OK;
}

/* Ratio with the header's conventions: 0/0 is 0 (W^ = W = 0), x/0 is +Inf. */
static double safe_ratio(double num, double den) {
    if (den > 0.0) return num / den;
    return num == 0.0 ? 0.0 : INFINITY;
}

static void metrics_from(const row_stats *rs, int64_t rows, aq_quant_metrics *m) {
    double e2 = 0.0, w2 = 0.0, wv = 0.0, v2 = 0.0, he2 = 0.0, hw2 = 0.0;
    for (int64_t r = 0; r < rows; ++r) { /* row order: the result is thread-count free */
        e2 += rs[r].e2;
        w2 += rs[r].w2;
        wv += rs[r].wv;
        v2 += rs[r].v2;
        he2 += rs[r].he2;
        hw2 += rs[r].hw2;
    }
    m->rel_mse = safe_ratio(e2, w2);
    m->sqnr_db = m->rel_mse == 0.0 ? INFINITY : -10.0 * log10(m->rel_mse);
    if (w2 == 0.0 && v2 == 0.0)
        m->cosine = 1.0;
    else if (w2 == 0.0 || v2 == 0.0)
        m->cosine = 0.0;
    else
        m->cosine = wv / sqrt(w2 * v2);
    m->weighted_rel_err = safe_ratio(he2, hw2);
}

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
    if (!name) name = "(unnamed)";
    if (!k) k = aq_kernels_select(0);
    tensor_job t = {k, p, src_dtype, src, cols, 0, 0, 0, h, codes, scale, min, NULL};
    aq_status st = check_inputs(p, &t, rows, name, err);
    if (st != AQ_OK) return st;
    if (rows == 0 || cols == 0) { /* nothing stored, an exact (empty) result */
        if (metrics) metrics_from(NULL, 0, metrics);
        return AQ_OK;
    }
    t.groups = aq_groups_per_row(cols, p->group_size);
    t.row_bytes = aq_packed_row_bytes(cols, p->bits);
    t.psize = aq_scale_dtype_size(p->scale_dtype);
    t.rs = malloc((size_t)rows * sizeof *t.rs);
    if (!t.rs || run_rows(&t, rows) != 0) {
        free(t.rs);
        return aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory for %lld x %lld rows", name,
                          (long long)rows, (long long)cols);
    }
    st = report_problems(&t, rows, name, err);
    if (st == AQ_OK && metrics) metrics_from(t.rs, rows, metrics);
    free(t.rs);
    return st;
}
