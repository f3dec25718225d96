/*
 * aq-bench-gptq — GPTQ speed on Dream-7B shapes with SYNTHETIC Hessians (issue 15, item 4).
 *
 * Shapes (Dream 7B = Qwen2.5-7B geometry: hidden 3584, 28 heads of 128, 4 KV heads, MLP
 * 18944, 28 layers), one row per Hessian (q/k/v share their input and its factorization):
 *   qkv      rows 3584 + 512 + 512 = 4608, cols 3584
 *   o        rows 3584,  cols 3584
 *   gate/up  rows 2 x 18944 = 37888, cols 3584
 *   down     rows 3584,  cols 18944  (an 18944^2 Cholesky)
 * The Hessian is SYNTHETIC, labelled as such: H = D C D with C_ij = rho^|i - j| (rho 0.9,
 * AR(1) channels) and log-normal channel scales D; it is dense and positive definite, so the
 * factorization does its full work.  Weights are Gaussian.  Format: dq 4-bit (default layout).
 *
 * Per shape: the factorization (aq_gptq_hinv_create: tiled Cholesky [+ triangular inverse],
 * include/aq/gptq_factor.h, n^3/3 flops in the LDL form (default), n^3/3 + n^3/3 in the U
 * form (--form u), --threads OpenMP threads), the GPTQ pass (rows x
 * cols^2 flops of updates, one FMA per (row, i < j) pair, plus the format's fits), the dq search
 * alone on the same rows, and the BLAS rate of sgemm on the update's shape (the "floor" our own
 * fixed-order kernel is compared to).  The GPTQ pass and the dq search are timed on `--rows` rows
 * (default 1024) and scaled linearly to the full row count (rows are independent and cost the
 * same), which is printed. Then a projection of the whole 28-layer model: sequential on this
 * machine, and at 28 and 64 ranks (longest-processing-time bound: max(largest task, total /
 * ranks)), each rank with the same cores as this run.
 *
 * With --compare, the same Hessian is also factorized by the tiled path on 1 thread and by the
 * LAPACK path (spotrf + strtri, 1 OpenBLAS thread: the code before the tiled path); the three
 * times are printed, the tiled U of 1 and N threads must be bit-identical (else exit 1), and
 * the largest |U_tiled - U_lapack| / max |U_lapack| is printed; first, OpenBLAS's own sgemm
 * on 1 and on N threads shows how much parallel capacity the machine gives this run.  The
 * projection is then also given with the LAPACK 1-thread factorization (the "before" of the same
 * run).
 *
 * Usage: aq-bench-gptq [--rows R] [--only qkv|o|gateup|down] [--threads N (factorization;
 *        default: OpenMP's)] [--panel P (rows per GPTQ panel; default the library's)]
 *        [--form u|ldl (GPTQ's form, include/aq/gptq.h; default the library's)] [--compare]
 *        [--json FILE]
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aq/gptq.h"
#include "aq/gptq_factor.h"
#include "aq/qformat.h"
#include "aq/quant.h"

typedef struct {
    const char *name;
    int64_t rows, cols;
    int per_layer; /* tensors of this shape per layer (for the listing only) */
} shape;

static const shape SHAPES[] = {{"qkv", 4608, 3584, 3},
                               {"o", 3584, 3584, 1},
                               {"gateup", 37888, 3584, 2},
                               {"down", 3584, 18944, 1}};
#define N_SHAPES 4
#define LAYERS 28

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static double unif(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) {
    return sqrt(-2.0 * log(unif())) * cos(6.283185307179586 * unif());
}

/* SYNTHETIC H = D C D, C_ij = rho^|i-j|: O(n^2). */
static float *synthetic_hessian(int64_t n) {
    float *H = malloc((size_t)n * (size_t)n * sizeof *H);
    double *d = malloc((size_t)n * sizeof *d), *pw = malloc((size_t)n * sizeof *pw);
    if (!H || !d || !pw) return NULL;
    for (int64_t j = 0; j < n; ++j)
        d[j] = exp(0.7 * gauss());
    pw[0] = 1.0;
    for (int64_t k = 1; k < n; ++k)
        pw[k] = pw[k - 1] * 0.9;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
            H[i * n + j] = (float)(d[i] * d[j] * pw[i > j ? i - j : j - i]);
    free(d);
    free(pw);
    return H;
}

typedef struct {
    double t_factor, f_factor; /* seconds, flops */
    double t_tiled1, t_lapack; /* --compare: tiled on 1 thread, LAPACK on 1 thread (0: not run) */
    double u_reldiff;          /* --compare: max |U_tiled - U_lapack| / max |U_lapack| */
    double t_gptq, f_update;   /* scaled to all rows */
    double t_dq;               /* dq search, scaled */
    double sgemm_gflops;
    int64_t measured_rows;
} result;

static void *arrays_alloc(const aq_quant_params *p, int64_t rows, int64_t cols, void **arr) {
    aq_qarray a[AQ_QF_MAX_ARRAYS];
    const int n = aq_qformat_arrays(p, cols, a);
    for (int i = 0; i < n; ++i)
        arr[i] = malloc((size_t)rows * (size_t)a[i].row_elems * aq_elem_size(a[i].elem));
    return arr[0];
}

/* OpenBLAS's thread control (libopenblas). */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

/* The machine's parallel capacity right now (other jobs share the cores): OpenBLAS's own
 * sgemm, n = 2048, on 1 and on `threads` threads, GF/s; the ratio bounds what any
 * `threads`-thread factorization can gain in this run. */
static void capacity(int threads, double *g1, double *gn) {
    const int n = 2048, saved = openblas_get_num_threads();
    float *A = malloc((size_t)n * n * sizeof *A), *C = calloc((size_t)n * n, sizeof *C);
    for (int64_t i = 0; i < (int64_t)n * n; ++i)
        A[i] = (float)gauss();
    for (int k = 0; k < 2; ++k) {
        openblas_set_num_threads(k ? threads : 1);
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, A, n, 0.0f, C,
                    n); /* warm-up */
        const double t0 = now();
        for (int r = 0; r < 3; ++r)
            cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, A, n, 0.0f,
                        C, n);
        *(k ? gn : g1) = 3 * 2.0 * n * (double)n * n / (now() - t0) / 1e9;
    }
    openblas_set_num_threads(saved);
    free(A);
    free(C);
}

static double sgemm_rate(int64_t rows, int64_t cols, int B) {
    float *A = malloc((size_t)rows * B * sizeof *A), *Bm = malloc((size_t)B * cols * sizeof *Bm),
          *C = calloc((size_t)rows * (size_t)cols, sizeof *C);
    for (int64_t i = 0; i < rows * B; ++i)
        A[i] = (float)gauss();
    for (int64_t i = 0; i < B * cols; ++i)
        Bm[i] = (float)gauss();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, B, -1.0f, A, B, Bm,
                (int)cols, 1.0f, C, (int)cols); /* warm-up */
    const int reps = 3;
    const double t0 = now();
    for (int r = 0; r < reps; ++r)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, B, -1.0f, A, B,
                    Bm, (int)cols, 1.0f, C, (int)cols);
    const double t = now() - t0;
    free(A);
    free(Bm);
    free(C);
    return 2.0 * (double)rows * (double)cols * B * reps / t / 1e9;
}

/* Time aq_gptq_hinv_create on H with the form of `base`, `factor` and `threads`; *hv set. */
static int timed_factor(const float *H, int64_t n, const aq_gptq_opts *base, int factor,
                        int threads, const char *name, aq_gptq_hinv **hv, double *t) {
    aq_gptq_opts o = *base;
    o.threads = threads;
    o.factor = factor;
    aq_err err = {0};
    const double t0 = now();
    if (aq_gptq_hinv_create(H, n, &o, name, hv, &err) != AQ_OK) {
        fprintf(stderr, "aq-bench-gptq: %s\n", err.msg);
        return -1;
    }
    *t = now() - t0;
    return 0;
}

/* The tiled path on 1 thread (must equal `hv` bit for bit) and the LAPACK path. */
static int compare(const float *H, int64_t n, const aq_gptq_opts *base, const char *name,
                   const aq_gptq_hinv *hv, result *r) {
    aq_gptq_hinv *h1 = NULL, *hl = NULL;
    if (timed_factor(H, n, base, AQ_GPTQ_FACTOR_TILED, 1, name, &h1, &r->t_tiled1) != 0 ||
        timed_factor(H, n, base, AQ_GPTQ_FACTOR_LAPACK, 1, name, &hl, &r->t_lapack) != 0)
        return -1;
    const float *u = aq_gptq_hinv_u(hv), *u1 = aq_gptq_hinv_u(h1), *ul = aq_gptq_hinv_u(hl);
    const size_t nn = (size_t)n * (size_t)n;
    const int same = memcmp(u, u1, nn * sizeof *u) == 0;
    double dmax = 0.0, umax = 0.0;
    for (size_t i = 0; i < nn; ++i) {
        const double d = fabs((double)u[i] - (double)ul[i]), a = fabs((double)ul[i]);
        dmax = d > dmax ? d : dmax;
        umax = a > umax ? a : umax;
    }
    r->u_reldiff = dmax / umax;
    aq_gptq_hinv_free(h1);
    aq_gptq_hinv_free(hl);
    if (!same) fprintf(stderr, "aq-bench-gptq: %s: tiled U differs between thread counts\n", name);
    return same ? 0 : -1;
}

static int run_shape(const shape *s, int64_t mrows, const aq_gptq_opts *base, int cmp, result *r) {
    const int64_t n = s->cols, R = mrows < s->rows ? mrows : s->rows;
    r->measured_rows = R;
    float *H = synthetic_hessian(n);
    float *W = malloc((size_t)R * (size_t)n * sizeof *W);
    if (!H || !W) return -1;
    for (int64_t i = 0; i < R * n; ++i)
        W[i] = (float)(0.02 * gauss());
    const aq_gptq_opts o = *base;
    aq_err err = {0};
    aq_gptq_hinv *hv = NULL;
    if (timed_factor(H, n, &o, AQ_GPTQ_FACTOR_TILED, o.threads, s->name, &hv, &r->t_factor) != 0)
        return -1;
    /* Cholesky n^3/3, plus the triangular inverse n^3/3 in the U form */
    r->f_factor = (o.form == AQ_GPTQ_FORM_U ? 2.0 : 1.0) * (double)n * (double)n * (double)n / 3.0;
    if (cmp && compare(H, n, &o, s->name, hv, r) != 0) return -1;
    free(H);
    const aq_quant_params p = {4, 32, AQ_METHOD_MSE, AQ_SCALE_DQ, 0, 0};
    void *arr[AQ_QF_MAX_ARRAYS] = {NULL};
    arrays_alloc(&p, R, n, arr);
    double t0 = now();
    if (aq_gptq_quantize_tensor(hv, &o, &p, NULL, AQ_DT_F32, W, R, n, NULL, s->name, arr, NULL,
                                &err) != AQ_OK) {
        fprintf(stderr, "aq-bench-gptq: %s\n", err.msg);
        return -1;
    }
    const double scale = (double)s->rows / (double)R;
    r->t_gptq = (now() - t0) * scale;
    r->f_update = (double)s->rows * (double)n * (double)n;
    t0 = now();
    if (aq_qformat_quantize_tensor(&p, NULL, AQ_DT_F32, W, R, n, NULL, s->name, arr, NULL, &err) !=
        AQ_OK)
        return -1;
    r->t_dq = (now() - t0) * scale;
    aq_gptq_hinv_free(hv);
    for (int i = 0; i < AQ_QF_MAX_ARRAYS; ++i)
        free(arr[i]);
    free(W);
    r->sgemm_gflops = sgemm_rate(R < 1024 ? R : 1024, n, 128);
    return 0;
}

int main(int argc, char **argv) {
    int64_t mrows = 1024;
    int threads = omp_get_max_threads(), cmp = 0, panel = 0, form = aq_gptq_opts_default().form;
    const char *only = NULL, *json = NULL;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            mrows = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--panel") && i + 1 < argc)
            panel = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--form") && i + 1 < argc) {
            ++i;
            form = !strcmp(argv[i], "u")     ? AQ_GPTQ_FORM_U
                   : !strcmp(argv[i], "ldl") ? AQ_GPTQ_FORM_LDL
                                             : -1;
        } else if (!strcmp(argv[i], "--compare"))
            cmp = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else {
            fprintf(stderr, "usage: aq-bench-gptq [--rows R] [--only qkv|o|gateup|down] "
                            "[--threads N] [--panel P] [--form u|ldl] [--compare] [--json FILE]\n");
            return 2;
        }
    }
    if (mrows < 1 || threads < 1 || panel < 0 || panel > 4096 || form < 0) return 2;
    aq_gptq_opts bo = aq_gptq_opts_default();
    bo.threads = threads;
    bo.form = form;
    if (panel > 0) bo.panel = panel;
    printf("# GPTQ on Dream-7B shapes, SYNTHETIC Hessians (H = D C D, C_ij = 0.9^|i-j|), dq "
           "4-bit\n# OpenMP threads %d (updates), %d (tiled factorization, tile %d), kernel set "
           "%s, panel %d rows, form %s\n",
           omp_get_max_threads(), threads, AQ_GPTQ_TILE, aq_kernels_name(aq_kernels_select(0)),
           bo.panel, bo.form == AQ_GPTQ_FORM_U ? "U (Cholesky + inverse)" : "LDL (Cholesky only)");
    if (cmp) {
        double g1 = 0.0, gn = 0.0;
        capacity(threads, &g1, &gn);
        printf("# parallel capacity now: OpenBLAS sgemm 2048^3 1 thread %.1f GF/s, %d threads %.1f "
               "GF/s (%.2fx)\n",
               g1, threads, gn, gn / g1);
    }
    printf("%-7s %6s %6s | %9s %9s %7s | %9s %9s %7s %7s | %8s %8s %6s | rows timed\n", "shape",
           "rows", "cols", "factor s", "GFLOP", "GF/s", "gptq s", "upd GFLOP", "GF/s", "sgemm",
           "dq s", "ns/w gq", "x dq");
    result res[N_SHAPES] = {0};
    int done[N_SHAPES] = {0};
    for (int k = 0; k < N_SHAPES; ++k) {
        const shape *s = &SHAPES[k];
        if (only && strcmp(only, s->name) != 0) continue;
        result *r = &res[k];
        if (run_shape(s, mrows, &bo, cmp, r) != 0) return 1;
        done[k] = 1;
        const double w = (double)s->rows * (double)s->cols;
        printf("%-7s %6lld %6lld | %9.2f %9.0f %7.1f | %9.2f %9.0f %7.1f %7.1f | %8.2f %8.1f "
               "%6.1f | %lld\n",
               s->name, (long long)s->rows, (long long)s->cols, r->t_factor, r->f_factor / 1e9,
               r->f_factor / r->t_factor / 1e9, r->t_gptq, r->f_update / 1e9,
               r->f_update / r->t_gptq / 1e9, r->sgemm_gflops, r->t_dq,
               (r->t_gptq + r->t_factor) / w * 1e9, (r->t_gptq + r->t_factor) / r->t_dq,
               (long long)r->measured_rows);
        if (cmp)
            printf("  %s factor: tiled %d thr %.2f s (%.1f GF/s) | tiled 1 thr %.2f s (%.1f GF/s, "
                   "same bits) | LAPACK 1 thr %.2f s (%.1f GF/s) | speed-up vs LAPACK %.2fx | "
                   "max|dU|/max|U| %.1e\n",
                   s->name, threads, r->t_factor, r->f_factor / r->t_factor / 1e9, r->t_tiled1,
                   r->f_factor / r->t_tiled1 / 1e9, r->t_lapack, r->f_factor / r->t_lapack / 1e9,
                   r->t_lapack / r->t_factor, r->u_reldiff);
        fflush(stdout);
    }
    int all = 1;
    for (int k = 0; k < N_SHAPES; ++k)
        all &= done[k];
    if (all) {
        /* per layer: one factorization per shape, gptq of its rows (gate/up, q/k/v included) */
        double total = 0.0;
        for (int ref = 0; ref <= cmp; ++ref) {
            double layer = 0.0, biggest = 0.0, dq = 0.0;
            for (int k = 0; k < N_SHAPES; ++k) {
                const double task = (ref ? res[k].t_lapack : res[k].t_factor) + res[k].t_gptq;
                layer += task;
                dq += res[k].t_dq;
                biggest = task > biggest ? task : biggest;
            }
            const double tot = LAYERS * layer;
            if (!ref) total = tot;
            printf("\n# projection, 28 layers (each rank with this run's cores), factorization: "
                   "%s:\n",
                   ref ? "LAPACK, 1 OpenBLAS thread (before)" : "tiled");
            printf("one rank (this machine): %.0f s = %.1f min (dq search alone: %.0f s); target "
                   "45 min %s\n",
                   tot, tot / 60.0, LAYERS * dq, tot <= 45.0 * 60.0 ? "met" : "MISSED");
            const int ranks[2] = {28, 64};
            for (int i = 0; i < 2; ++i) {
                const double per = tot / ranks[i];
                const double wall = per > biggest ? per : biggest;
                printf("%d ranks: max(largest task %.0f s, total / ranks %.0f s) = %.0f s = %.1f "
                       "min\n",
                       ranks[i], biggest, per, wall, wall / 60.0);
            }
        }
        if (json) {
            FILE *f = fopen(json, "w");
            if (f) {
                fprintf(f,
                        "{\"synthetic_hessian\": true, \"layers\": %d, \"total_s\": %.3f, "
                        "\"factor_threads\": %d, \"tile\": %d, \"shapes\": [",
                        LAYERS, total, threads, AQ_GPTQ_TILE);
                for (int k = 0; k < N_SHAPES; ++k)
                    fprintf(f,
                            "%s{\"name\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"factor_s\": "
                            "%.3f, \"factor_tiled1_s\": %.3f, \"factor_lapack1_s\": %.3f, "
                            "\"u_reldiff\": %.3g, \"gptq_s\": %.3f, \"dq_s\": %.3f, "
                            "\"sgemm_gflops\": %.1f}",
                            k ? ", " : "", SHAPES[k].name, (long long)SHAPES[k].rows,
                            (long long)SHAPES[k].cols, res[k].t_factor, res[k].t_tiled1,
                            res[k].t_lapack, res[k].u_reldiff, res[k].t_gptq, res[k].t_dq,
                            res[k].sgemm_gflops);
                fprintf(f, "]}\n");
                fclose(f);
            }
        }
    }
    return 0;
}
