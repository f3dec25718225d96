/*
 * aq-mpi — GPTQ's tensor driver (aq_gptq_quantize_tensor(), include/aq/gptq.h): panels of
 * rows in processing order, Algorithm 1 of the paper per panel, the format's aq_qf_gptq
 * operations for parameters, rounding and storage.
 *
 * Every row writes only its own slices and its own row_stats; a row's arithmetic involves only
 * its own weights, h and U (aq_gptq_update() is row-wise with a fixed order), so the result of a
 * row does not depend on which panel or thread it is in.  Per-row error sums are added in row
 * order, as in the format table's driver (tensor.c).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aq/gptq.h"
#include "quant_impl.h"

/* Per-row sums and first problems, as tensor.c's. */
typedef struct {
    double l[AQ_ES_N];
    int64_t bad_col, bad_over;
    float bad_val;
} grow_stats;

/* Read-only description of one call. */
typedef struct {
    const aq_gptq_hinv *hv;
    const float *U;
    const int64_t *perm;
    const aq_qformat *f;
    const aq_qf_gptq *g;
    const aq_kernels_t *k;
    const aq_quant_params *p;
    aq_dtype dt;
    const unsigned char *src; /* row 0 of the rows quantized (row `row0` of the tensor) */
    int64_t rows, cols;       /* rows quantized here */
    int64_t row0;             /* tensor row of local row 0 (messages only) */
    const float *h;           /* original order, NULL: all 1 */
    const float *hp;          /* processing order (h when there is no permutation) */
    const float *negT;        /* LDL, natural order: [nblk][bc][bc] -(I + A_gg)^-1 per block */
    int64_t bc, nblk;         /* parameter block columns, blocks per row */
    size_t pbytes;            /* bytes of one block's parameters */
    int64_t B;                /* lazy block (columns) */
    int64_t S;                /* sub-block inside it (columns; see run_panel) */
    int P, act_order;
    int ldl; /* form LDL (include/aq/gptq.h): U holds I + A */
    int n;
    unsigned char *arr[AQ_QF_MAX_ARRAYS];
    size_t row_bytes[AQ_QF_MAX_ARRAYS];
    grow_stats *rs;
} gjob;

/* Per-thread buffers of one panel. */
typedef struct {
    float *W;           /* [P, cols] working rows, processing order */
    float *orig;        /* [P, cols] original rows (f32, original order) */
    float *E;           /* [P, B] scaled errors of the current block */
    float *deq;         /* [cols] one row decoded, original order */
    uint8_t *codes;     /* [P, cols] codes, original order */
    unsigned char *par; /* [P, nblk * pbytes] */
    float *ws;          /* aq_gptq_update_ws() workspace for P rows */
    float *w0;          /* LDL: [P, cols] the rows before any update, processing order */
    float *Y;           /* LDL: [P, bc] a parameter block's fit input */
    float *C;           /* LDL: [P, bc] its corrections so far */
} gbufs;

static void bufs_free(gbufs *b) {
    free(b->W);
    free(b->orig);
    free(b->E);
    free(b->deq);
    free(b->codes);
    free(b->par);
    free(b->ws);
    free(b->w0);
    free(b->Y);
    free(b->C);
}

static int bufs_alloc(const gjob *t, gbufs *b) {
    const size_t pc = (size_t)t->P * (size_t)t->cols;
    b->W = malloc(pc * sizeof *b->W);
    b->orig = malloc(pc * sizeof *b->orig);
    b->E = malloc((size_t)t->P * (size_t)t->B * sizeof *b->E);
    b->deq = malloc((size_t)t->cols * sizeof *b->deq);
    b->codes = malloc(pc);
    b->par = calloc((size_t)t->P * (size_t)t->nblk, t->pbytes);
    b->ws = malloc(aq_gptq_update_ws_floats(t->P) * sizeof *b->ws);
    if (t->ldl) {
        b->w0 = malloc(pc * sizeof *b->w0);
        b->Y = malloc((size_t)t->P * (size_t)t->bc * sizeof *b->Y);
        b->C = malloc((size_t)t->P * (size_t)t->bc * sizeof *b->C);
        if (!b->w0 || !b->Y || !b->C) return -1;
    }
    return b->W && b->orig && b->E && b->deq && b->codes && b->par && b->ws ? 0 : -1;
}

/* Rows [r0, r0 + R) as f32 into b->orig; 0, or -1 when one has a non-finite weight (its
 * first recorded in its row_stats). */
static int load_panel(const gjob *t, int64_t r0, int R, gbufs *b) {
    int bad = 0;
    const size_t rb = (size_t)t->cols * aq_dtype_size(t->dt);
    for (int r = 0; r < R; ++r) {
        grow_stats *st = &t->rs[r0 + r];
        *st = (grow_stats){{0.0}, -1, -1, 0.0f};
        float *o = b->orig + (size_t)r * (size_t)t->cols;
        t->k->convert(t->dt, t->src + (size_t)(r0 + r) * rb, (size_t)t->cols, o);
        st->bad_col = t->k->first_nonfinite(o, t->cols);
        if (st->bad_col >= 0) {
            st->bad_val = o[st->bad_col];
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* Working rows in processing order, dead columns 0. */
static void init_work(const gjob *t, int R, gbufs *b, const unsigned char *is_dead) {
    for (int r = 0; r < R; ++r) {
        const float *o = b->orig + (size_t)r * (size_t)t->cols;
        float *w = b->W + (size_t)r * (size_t)t->cols;
        for (int64_t i = 0; i < t->cols; ++i) {
            const int64_t j = t->perm[i];
            w[i] = is_dead[j] ? 0.0f : o[j];
        }
    }
    if (t->ldl) memcpy(b->w0, b->W, (size_t)R * (size_t)t->cols * sizeof *b->W);
}

/* LDL form: the fit input of the parameter block at columns [i, i + n) (natural order), into
 * b->Y [R, n].  The form U's rows hold, when column i comes, w0 + x with x the optimal
 * compensation of the errors so far (OBS); the LDL rows hold w0 + c, c = x (I + A_gg) with
 * A_gg the block's diagonal block of A (both from Hd = V V^T, V = (I + A) S: x = d V_12 V_22^-1
 * and c = d V_12 S_g^-1 for the errors d of the columns before i; V_22^-1's leading block is
 * V_gg^-1).  So x = c T, T = (I + A_gg)^-1 (upper, precomputed: block_inverses()): with the
 * update kernel, Y = w0 - c (-T) in 64-column chunks (T's zeros below the diagonal skipped). */
static void ldl_fit_input(const gjob *t, int R, gbufs *b, int64_t i, int64_t n) {
    const int64_t cols = t->cols;
    float *Y = b->Y, *C = b->C;
    for (int r = 0; r < R; ++r) {
        const float *w = b->W + (size_t)r * (size_t)cols + i,
                    *w0 = b->w0 + (size_t)r * (size_t)cols + i;
        for (int64_t j = 0; j < n; ++j) {
            C[r * n + j] = w[j] - w0[j];
            Y[r * n + j] = w0[j];
        }
    }
    const float *nT = t->negT + (size_t)(i / t->bc) * (size_t)t->bc * (size_t)t->bc;
    for (int64_t c0 = 0; c0 < n; c0 += 64) {
        const int64_t nc = n - c0 < 64 ? n - c0 : 64;
        aq_gptq_update_ws((const aq_kernels *)t->k, R, (int)(c0 + nc), nc, C, n, nT + c0, t->bc,
                          Y + c0, n, b->ws);
    }
}

/* LDL, natural order: -(I + A_gg)^-1 of every parameter block (the last one may be short),
 * [nblk][bc][bc] row-major, by back substitution in double; NULL out of memory. */
static float *block_inverses(const gjob *t) {
    const int64_t bc = t->bc, cols = t->cols;
    float *nT = calloc((size_t)t->nblk * (size_t)(bc * bc), sizeof *nT);
    double *row = malloc((size_t)bc * sizeof *row);
    if (!nT || !row) {
        free(nT);
        free(row);
        return NULL;
    }
    for (int64_t blk = 0; blk < t->nblk; ++blk) {
        const int64_t g0 = blk * bc, n = cols - g0 < bc ? cols - g0 : bc;
        const float *A = t->U + g0 * cols + g0;
        float *T = nT + (size_t)blk * (size_t)(bc * bc);
        for (int64_t r = n - 1; r >= 0; --r) { /* T_rj = [r == j] - sum_{r<m<=j} A_rm T_mj */
            for (int64_t j = r; j < n; ++j)
                row[j] = r == j ? 1.0 : 0.0;
            for (int64_t m = r + 1; m < n; ++m) { /* rows of T below: stored negated */
                const double a = (double)A[r * cols + m];
                const float *tm = T + m * bc;
                for (int64_t j = m; j < n; ++j)
                    row[j] += a * (double)tm[j];
            }
            for (int64_t j = r; j < n; ++j)
                T[r * bc + j] = (float)-row[j];
        }
    }
    free(row);
    return nT;
}

/* Records the first overflowing block of row r (original column c0). */
static void note_overflow(const gjob *t, int64_t r, int64_t c0) {
    grow_stats *st = &t->rs[r];
    if (st->bad_over < 0 || c0 < st->bad_over) st->bad_over = c0;
}

/* Static groups (act_order): every block fitted from the dead-zeroed original row. */
static void fit_static(const gjob *t, const aq_qf_env *env, int64_t r0, int R, gbufs *b,
                       const unsigned char *is_dead) {
    for (int r = 0; r < R; ++r) {
        const float *o = b->orig + (size_t)r * (size_t)t->cols;
        for (int64_t j = 0; j < t->cols; ++j)
            b->deq[j] = is_dead[j] ? 0.0f : o[j];
        unsigned char *par = b->par + (size_t)r * (size_t)t->nblk * t->pbytes;
        for (int64_t blk = 0; blk < t->nblk; ++blk) {
            const int64_t c0 = blk * t->bc, n = t->cols - c0 < t->bc ? t->cols - c0 : t->bc;
            if (t->g->fit(env, b->deq + c0, t->h ? t->h + c0 : NULL, n, par + blk * t->pbytes))
                note_overflow(t, r0 + r, c0);
        }
    }
}

/* Column i (processing order) of every row of the panel: parameters when its block starts
 * (natural order), the code, the scaled error, and its updates of columns (i, i2) (the rest
 * of its sub-block). */
static void do_column(const gjob *t, const aq_qf_env *env, int64_t r0, int R, gbufs *b, int64_t i,
                      int64_t i1, int64_t i2) {
    const int64_t cols = t->cols, o = t->perm[i], blk = o / t->bc, jj = o % t->bc;
    const size_t prow = (size_t)t->nblk * t->pbytes;
    if (!t->act_order && i % t->bc == 0) {
        const int64_t n = cols - i < t->bc ? cols - i : t->bc;
        if (t->ldl) ldl_fit_input(t, R, b, i, n);
        for (int r = 0; r < R; ++r)
            if (t->g->fit(env,
                          t->ldl ? b->Y + (size_t)r * (size_t)n
                                 : b->W + (size_t)r * (size_t)cols + i,
                          t->hp ? t->hp + i : NULL, n,
                          b->par + (size_t)r * prow + (size_t)blk * t->pbytes))
                note_overflow(t, r0 + r, i);
    }
    const float d = t->U[i * cols + i];
    for (int r = 0; r < R; ++r) {
        float *w = b->W + (size_t)r * (size_t)cols;
        const float x = w[i];
        const float q = t->g->round(t->p, b->par + (size_t)r * prow + (size_t)blk * t->pbytes, jj,
                                    x, b->codes + (size_t)r * (size_t)cols + o);
        /* U: e = (w' - q) / U_ii, w_j -= e U_ij;  LDL: w_j += (w0 - q) A_ij (LDL form) */
        b->E[(size_t)r * (size_t)t->B + (size_t)(i - i1)] =
            t->ldl ? q - b->w0[(size_t)r * (size_t)cols + i] : (x - q) / d;
        w[i] = q;
    }
    if (i + 1 < i2)
        aq_gptq_update_ws((const aq_kernels *)t->k, R, 1, i2 - i - 1, b->E + (i - i1), t->B,
                          t->U + i * cols + i + 1, cols, b->W + i + 1, cols, b->ws);
}

/* Stored arrays and error sums of each row of the panel. */
static void finish_panel(const gjob *t, const aq_qf_env *env, int64_t r0, int R, gbufs *b) {
    const int64_t cols = t->cols;
    for (int r = 0; r < R; ++r) {
        void *arr[AQ_QF_MAX_ARRAYS] = {NULL};
        for (int a = 0; a < t->n; ++a)
            arr[a] = t->arr[a] + (size_t)(r0 + r) * t->row_bytes[a];
        t->g->emit(env, b->codes + (size_t)r * (size_t)cols,
                   b->par + (size_t)r * (size_t)t->nblk * t->pbytes, cols, arr);
        const float *w = b->W + (size_t)r * (size_t)cols;
        for (int64_t i = 0; i < cols; ++i)
            b->deq[t->perm[i]] = w[i];
        aq_qf_sums s = {{{0}}};
        t->k->err_sums(b->orig + (size_t)r * (size_t)cols, b->deq, t->h, cols, s.lanes);
        for (int a = 0; a < AQ_ES_N; ++a)
            t->rs[r0 + r].l[a] = aq_lanes_sum(s.lanes[a]);
    }
}

static void run_panel(const gjob *t, int64_t r0, int R, gbufs *b, const unsigned char *is_dead) {
    const aq_qf_env env = {t->f, t->p, (const aq_kernels *)t->k, NULL};
    init_work(t, R, b, is_dead);
    if (t->act_order) fit_static(t, &env, r0, R, b, is_dead);
    const int64_t cols = t->cols;
    for (int64_t i1 = 0; i1 < cols; i1 += t->B) {
        const int64_t i2 = cols - i1 < t->B ? cols : i1 + t->B;
        /* Inside the block, sub-blocks of S columns: a column updates the rest of its
         * sub-block at once (rank 1), each sub-block the rest of the block when it is done
         * (rank S, like the lazy update).  Every w_j still gets fmaf(-e_k, U_kj, .) for k < j
         * ascending, so the bits are those of rank-1 updates over the whole block; S is such
         * that a parameter block's columns are fully updated when its first column comes
         * (describe()). */
        for (int64_t s1 = i1; s1 < i2; s1 += t->S) {
            const int64_t s2 = i2 - s1 < t->S ? i2 : s1 + t->S;
            for (int64_t i = s1; i < s2; ++i)
                do_column(t, &env, r0, R, b, i, i1, s2);
            if (s2 < i2)
                aq_gptq_update_ws((const aq_kernels *)t->k, R, (int)(s2 - s1), i2 - s2,
                                  b->E + (s1 - i1), t->B, t->U + s1 * cols + s2, cols, b->W + s2,
                                  cols, b->ws);
        }
        if (i2 < cols) /* the lazy update of the trailing columns (paper, eq. 4 batched) */
            aq_gptq_update_ws((const aq_kernels *)t->k, R, (int)(i2 - i1), cols - i2, b->E, t->B,
                              t->U + i1 * cols + i2, cols, b->W + i2, cols, b->ws);
    }
    finish_panel(t, &env, r0, R, b);
}

static int run_all(const gjob *t) {
    const int64_t panels = (t->rows + t->P - 1) / t->P;
    const unsigned char *is_dead = aq_gptq_hinv_dead_mask(t->hv);
    int nomem = 0, stop = 0;
#pragma omp parallel
    {
        gbufs b = {0};
        const int ok = bufs_alloc(t, &b) == 0;
        if (!ok) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t pi = 0; pi < panels; ++pi) {
            const int64_t r0 = pi * t->P;
            const int R = (int)(t->rows - r0 < t->P ? t->rows - r0 : t->P);
            if (!ok) continue;
            if (load_panel(t, r0, R, &b) != 0) {
#pragma omp atomic write
                stop = 1;
            }
            int stopped;
#pragma omp atomic read
            stopped = stop;
            if (!stopped) run_panel(t, r0, R, &b, is_dead);
        }
        bufs_free(&b);
    }
    return nomem ? -1 : 0;
}

static aq_status report(const gjob *t, const char *name, aq_err *err) {
    for (int64_t r = 0; r < t->rows; ++r)
        if (t->rs[r].bad_col >= 0)
            return aq_err_set(err, AQ_E_VALUE, "tensor %s: non-finite weight %g at [%lld, %lld]",
                              name, (double)t->rs[r].bad_val, (long long)(t->row0 + r),
                              (long long)t->rs[r].bad_col);
    for (int64_t r = 0; r < t->rows; ++r)
        if (t->rs[r].bad_over >= 0) {
            char what[AQ_ERR_MSG_MAX / 2];
            t->f->overflow_msg(t->p, t->rs[r].bad_over, what, sizeof what);
            return aq_err_set(err, AQ_E_VALUE, "tensor %s: row %lld, %s", name,
                              (long long)(t->row0 + r), what);
        }
    return AQ_OK;
}

static aq_status check(gjob *t, const aq_gptq_opts *o, const char *name, aq_err *err) {
    aq_err e = {0};
    if (aq_quant_params_check(t->p, &e) != AQ_OK || aq_gptq_opts_check(o, &e) != AQ_OK)
        return aq_err_set(err, AQ_E_CONFIG, "tensor %s: %s", name, e.msg);
    if (!t->f->gptq)
        return aq_err_set(err, AQ_E_CONFIG, "tensor %s: format %s has no GPTQ operations", name,
                          t->f->name);
    if (t->rows < 0 || t->cols < 1 || t->cols > INT64_MAX / 8 / (t->rows > 0 ? t->rows : 1))
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: bad shape [%lld, %lld]", name,
                          (long long)t->rows, (long long)t->cols);
    if (!t->hv || aq_gptq_hinv_cols(t->hv) != t->cols)
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: %lld columns, its Hessian is %lld x %lld",
                          name, (long long)t->cols,
                          (long long)(t->hv ? aq_gptq_hinv_cols(t->hv) : 0),
                          (long long)(t->hv ? aq_gptq_hinv_cols(t->hv) : 0));
    if (t->cols % t->f->row_multiple != 0)
        return aq_err_set(err, AQ_E_VALUE,
                          "tensor %s: row length %lld is not a multiple of %lld (format %s)", name,
                          (long long)t->cols, (long long)t->f->row_multiple, t->f->name);
    for (int64_t j = 0; t->h && j < t->cols; ++j)
        if (!(t->h[j] >= 0.0f) || !isfinite(t->h[j]))
            return aq_err_set(err, AQ_E_VALUE,
                              "tensor %s: importance h[%lld] = %g is negative or non-finite", name,
                              (long long)j, (double)t->h[j]);
    return AQ_OK;
}

static int describe(gjob *t, const aq_gptq_opts *o, void *const *arr) {
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    t->n = t->f->arrays(t->f, t->p, t->cols, a);
    for (int i = 0; i < t->n; ++i) {
        t->arr[i] = arr ? arr[i] : NULL;
        t->row_bytes[i] = (size_t)a[i].row_elems * aq_elem_size(a[i].elem);
        if (!t->arr[i]) return -1;
    }
    t->g = t->f->gptq;
    t->bc = t->g->block_cols(t->p);
    t->nblk = (t->cols + t->bc - 1) / t->bc;
    t->pbytes = t->g->param_bytes(t->p);
    t->act_order = o->act_order;
    /* natural order: a block is fitted when its first column comes, from fully updated
     * weights only if the lazy block is a multiple of it */
    t->B = o->act_order ? o->block : (o->block + t->bc - 1) / t->bc * t->bc;
    if (t->B > t->cols) t->B = t->cols;
    /* sub-blocks: a parameter block must not straddle two (natural order: its fit reads its
     * columns when its first one comes); else one sub-block = the lazy block */
    t->S = o->act_order || t->bc % 16 == 0 || 16 % t->bc == 0 ? 16 : t->B;
    t->P = o->panel;
    t->ldl = aq_gptq_hinv_form(t->hv) == AQ_GPTQ_FORM_LDL;
    t->U = aq_gptq_hinv_u(t->hv);
    t->perm = aq_gptq_hinv_perm(t->hv);
    return 0;
}

/* h in processing order (NULL when h is NULL or there is no permutation). */
static float *permuted_h(const gjob *t, int *fail) {
    *fail = 0;
    if (!t->h || !t->act_order) return NULL;
    float *hp = malloc((size_t)t->cols * sizeof *hp);
    if (!hp) {
        *fail = 1;
        return NULL;
    }
    for (int64_t i = 0; i < t->cols; ++i)
        hp[i] = t->h[t->perm[i]];
    return hp;
}

aq_status aq_gptq_quantize_rows(const aq_gptq_hinv *hv, const aq_gptq_opts *o,
                                const aq_quant_params *p, const aq_kernels *k, aq_dtype src_dtype,
                                const void *src, int64_t rows, int64_t row0, int64_t row1,
                                int64_t cols, const float *h, const char *name, void *const *arr,
                                double *row_sums, aq_err *err) {
    if (!name) name = "(unnamed)";
    gjob t = {.hv = hv,
              .f = aq_qformat_of(p),
              .k = k ? k : aq_kernels_select(0),
              .p = p,
              .dt = src_dtype,
              .rows = rows,
              .cols = cols,
              .h = h};
    if (!t.f) return aq_err_set(err, AQ_E_CONFIG, "tensor %s: unknown format", name);
    aq_status st = check(&t, o, name, err);
    if (st != AQ_OK) return st;
    if (row0 < 0 || row1 < row0 || row1 > rows)
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: rows [%lld, %lld) outside [0, %lld)", name,
                          (long long)row0, (long long)row1, (long long)rows);
    t.rows = row1 - row0;
    t.row0 = row0;
    if (t.rows == 0) return AQ_OK;
    if (!src || describe(&t, o, arr) != 0)
        return aq_err_set(err, AQ_E_VALUE, "tensor %s: missing input or output buffer", name);
    t.src = (const unsigned char *)src + (size_t)row0 * (size_t)cols * aq_dtype_size(src_dtype);
    int fail;
    float *hp = permuted_h(&t, &fail);
    t.hp = hp ? hp : h;
    float *negT = t.ldl && !t.act_order ? block_inverses(&t) : NULL;
    t.negT = negT;
    t.rs = malloc((size_t)t.rows * sizeof *t.rs);
    if (fail || (t.ldl && !t.act_order && !negT) || !t.rs || run_all(&t) != 0) {
        free(hp);
        free(negT);
        free(t.rs);
        return aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory for GPTQ of %lld x %lld", name,
                          (long long)t.rows, (long long)cols);
    }
    st = report(&t, name, err);
    for (int64_t r = 0; st == AQ_OK && row_sums && r < t.rows; ++r)
        for (int i = 0; i < AQ_ES_N; ++i)
            row_sums[r * AQ_QF_ROW_SUMS + i] = t.rs[r].l[i];
    free(hp);
    free(negT);
    free(t.rs);
    return st;
}

aq_status aq_gptq_quantize_tensor(const aq_gptq_hinv *hv, const aq_gptq_opts *o,
                                  const aq_quant_params *p, const aq_kernels *k, aq_dtype src_dtype,
                                  const void *src, int64_t rows, int64_t cols, const float *h,
                                  const char *name, void *const *arr, aq_quant_metrics *metrics,
                                  aq_err *err) {
    double *rs = NULL;
    if (metrics && rows > 0 && cols > 0) {
        rs = malloc((size_t)rows * AQ_QF_ROW_SUMS * sizeof *rs);
        if (!rs)
            return aq_err_set(err, AQ_E_NOMEM, "tensor %s: out of memory for GPTQ of %lld x %lld",
                              name ? name : "(unnamed)", (long long)rows, (long long)cols);
    }
    aq_status st = aq_gptq_quantize_rows(hv, o, p, k, src_dtype, src, rows, 0, rows, cols, h, name,
                                         arr, rs, err);
    /* the one reduction of every driver: whole and row-block results agree bit for bit */
    if (st == AQ_OK && metrics) aq_qf_metrics_from_row_sums(rs, rs ? rows : 0, metrics);
    free(rs);
    return st;
}

aq_status aq_gptq_quantize(const float *H, const aq_gptq_opts *o, const aq_quant_params *p,
                           const aq_kernels *k, const float *W, int64_t rows, int64_t cols,
                           const float *h, const char *name, void *const *arr,
                           aq_quant_metrics *metrics, aq_err *err) {
    aq_gptq_hinv *hv = NULL;
    aq_status st = aq_gptq_hinv_create(H, cols, o, name, &hv, err);
    if (st == AQ_OK)
        st = aq_gptq_quantize_tensor(hv, o, p, k, AQ_DT_F32, W, rows, cols, h, name, arr, metrics,
                                     err);
    aq_gptq_hinv_free(hv);
    return st;
}
