/*
 * aq-bench dq — double-quantized group parameters (include/aq/dq.h) on the docs/DESIGN.md §7
 * test tensors: the three k-quant-sized default layouts (2, 3, 4 bits) next to the plain
 * mse 2-bit g16/g32 f16 layouts and ggml's k-quant figures, with the issue 8 targets
 * evaluated from the measured numbers.
 *
 *   aq-bench dq [--seed S] [--scale F] [--threads N] [--simd 0..3]
 *
 * Pooled SQNR over the four tensors (sum of squared errors / sum of squared weights); speed
 * in Mweights/s per thread from the process CPU time of the quantize calls alone (weight
 * generation excluded); --scale F keeps that fraction of each tensor's rows (quick runs).
 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aq/dq.h"
#include "aq/quant.h"
#include "aq/synth.h"
#include "bench.h"

typedef struct {
    const char *name;
    int64_t rows, cols;
} dq_tensor;

static const dq_tensor k_dq_tensors[] = {
    {"model.layers.0.self_attn.q_proj.weight", 3584, 3584},
    {"model.layers.0.self_attn.k_proj.weight", 512, 3584},
    {"model.layers.0.mlp.gate_proj.weight", 18944, 3584},
    {"model.layers.0.mlp.down_proj.weight", 3584, 18944},
};
#define DQ_N_TENSORS 4

/* The ggml figure a dq layout is compared with and the issue 8 target (docs/DESIGN.md §7). */
typedef struct {
    const char *type;
    double bpw, sqnr_db, mw_s; /* ggml's bits/weight, SQNR, Mweights/s/thread */
    double min_db;             /* target: SQNR >= min_db (> when strict) */
    int strict;
    double min_mw_s; /* target: speed >= min_mw_s */
} dq_ref;

/* One configuration: a dq layout (dq = 1) or mse bits/group with f16 parameters. */
typedef struct {
    int dq;
    aq_dq_layout L;
    int group;         /* mse only */
    const dq_ref *ref; /* dq only */
    double err2, w2, cpu, weights, bits;
} dq_conf;

static const dq_ref k_ref2 = {"Q2_K", 2.625, 9.47, 16.4, 11.0, 0, 100.0};
static const dq_ref k_ref3 = {"Q3_K", 3.4375, 14.79, 86.0, 14.79, 1, 100.0};
static const dq_ref k_ref4 = {"Q4_K", 4.5, 21.07, 14.6, 21.07, 1, 100.0};
#define DQ_N_CONF 5

typedef struct {
    uint64_t seed;
    int threads, simd;
    double scale;
} dq_opts;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int dq_parse(int argc, char **argv, dq_opts *o) {
    *o = (dq_opts){42, omp_get_max_threads(), 0, 1.0};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        errno = 0;
        if (v && !strcmp(a, "--seed"))
            o->seed = strtoull(v, &end, 0);
        else if (v && !strcmp(a, "--threads"))
            o->threads = (int)strtol(v, &end, 10);
        else if (v && !strcmp(a, "--simd"))
            o->simd = (int)strtol(v, &end, 10);
        else if (v && !strcmp(a, "--scale"))
            o->scale = strtod(v, &end);
        else
            end = NULL;
        if (!end || *end || errno || o->threads < 1 || o->simd < 0 || o->simd > 3 ||
            !(o->scale > 0.0 && o->scale <= 1.0)) {
            fprintf(stderr, "usage: aq-bench dq [--seed S] [--scale F (0,1]] [--threads N] "
                            "[--simd 0..3 (auto, scalar, avx2, avx512)]\n");
            return -1;
        }
    }
    return 0;
}

/* Output buffers big enough for every configuration. */
typedef struct {
    uint8_t *codes, *sub;
    uint16_t *d, *dmin, *s, *m;
} dq_bufs;

static void conf_label(const dq_conf *c, char *buf, size_t n) {
    if (c->dq)
        snprintf(buf, n, "dq {%d, %d, %d}", c->L.bits, c->L.group_size, c->L.sub_bits);
    else
        snprintf(buf, n, "mse %d-bit g%d f16", c->L.bits, c->group);
}

static double conf_bits(const dq_conf *c, int64_t cols) {
    if (c->dq) return aq_dq_bits_per_weight(cols, &c->L);
    return 8.0 * (double)aq_packed_row_bytes(cols, c->L.bits) / (double)cols +
           32.0 * (double)aq_groups_per_row(cols, c->group) / (double)cols;
}

static int run_conf(const dq_opts *o, dq_conf *c, const dq_tensor *t, int64_t rows, const float *w,
                    double w2, dq_bufs *b) {
    const aq_kernels *k = aq_kernels_select(o->simd);
    aq_quant_metrics m;
    aq_err err = {0};
    aq_status st;
    const double c0 = cpu_now();
    if (c->dq) {
        st = aq_dq_quantize_tensor(k, &c->L, AQ_DT_F32, w, rows, t->cols, NULL, t->name, b->codes,
                                   b->sub, b->d, b->dmin, &m, &err);
    } else {
        aq_quant_params p = {.bits = c->L.bits,
                             .group_size = c->group,
                             .method = AQ_METHOD_MSE,
                             .scale_dtype = AQ_SCALE_F16};
        st = aq_quantize_tensor_ex(&p, k, AQ_DT_F32, w, rows, t->cols, NULL, t->name, b->codes,
                                   b->s, b->m, &m, &err);
    }
    c->cpu += cpu_now() - c0;
    if (st != AQ_OK) {
        fprintf(stderr, "aq-bench dq: %s\n", err.msg);
        return -1;
    }
    c->err2 += m.rel_mse * w2;
    c->w2 += w2;
    c->weights += (double)rows * (double)t->cols;
    c->bits += (double)rows * (double)t->cols * conf_bits(c, t->cols);
    char lbl[48];
    conf_label(c, lbl, sizeof lbl);
    fprintf(stderr, "  %-40s %-18s %7.2f dB\n", t->name, lbl, m.sqnr_db);
    return 0;
}

static int run_tensor(const dq_opts *o, const dq_tensor *t, dq_conf *conf) {
    int64_t rows = (int64_t)((double)t->rows * o->scale);
    rows = rows > 0 ? rows : 1;
    const size_t n = (size_t)rows * (size_t)t->cols, r = (size_t)rows;
    const aq_dq_layout widest = {8, 16, 8};
    const size_t supers = r * (size_t)aq_dq_supers(t->cols);
    const size_t groups16 = r * (size_t)aq_groups_per_row(t->cols, 16);
    float *w = malloc(n * sizeof *w);
    dq_bufs b = {malloc(r * aq_packed_row_bytes(t->cols, 4)),
                 malloc(r * aq_dq_sub_row_bytes(t->cols, &widest)),
                 malloc(supers * sizeof(uint16_t)),
                 malloc(supers * sizeof(uint16_t)),
                 malloc(groups16 * sizeof(uint16_t)),
                 malloc(groups16 * sizeof(uint16_t))};
    int rc = -1;
    if (w && b.codes && b.sub && b.d && b.dmin && b.s && b.m) {
        aq_synth_weights_f32(o->seed, t->name, w, n, 0.02f);
        double w2 = 0.0;
        for (size_t k = 0; k < n; ++k)
            w2 += (double)w[k] * w[k];
        rc = 0;
        for (int c = 0; c < DQ_N_CONF && rc == 0; ++c)
            rc = run_conf(o, &conf[c], t, rows, w, w2, &b);
    } else {
        fprintf(stderr, "aq-bench dq: out of memory for %s\n", t->name);
    }
    free(w);
    free(b.codes);
    free(b.sub);
    free(b.d);
    free(b.dmin);
    free(b.s);
    free(b.m);
    return rc;
}

/* "met", or "MISSED" with what fell short, from the measured figures. */
static const char *target_status(const dq_ref *r, double bpw, double db, double mw_s) {
    const int q_ok = r->strict ? db > r->min_db : db >= r->min_db;
    const int s_ok = mw_s >= r->min_mw_s, b_ok = bpw <= r->bpw + 1e-9;
    if (q_ok && s_ok && b_ok) return "met";
    if (!b_ok) return "MISSED (bits/w)";
    if (!q_ok && !s_ok) return "MISSED (SQNR, speed)";
    return q_ok ? "MISSED (speed)" : "MISSED (SQNR)";
}

/* The 1-minute load average (the machine may be shared; speeds are CPU-time rates, but a
 * loaded machine still slows them through caches and frequency), -1 when unknown. */
static double load_avg(void) {
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1.0;
        fclose(f);
    }
    return l;
}

static void print_dq(const dq_opts *o, const dq_conf *conf, double load0) {
    printf("aq-bench dq: seed %llu, threads %d, kernels %s, scale %g (q, k, gate, down; "
           "pooled SQNR; Mweights/s per thread from CPU time); load average %.2f before, "
           "%.2f after\n",
           (unsigned long long)o->seed, o->threads, aq_kernels_name(aq_kernels_select(o->simd)),
           o->scale, load0, load_avg());
    printf("%-18s %7s %8s %9s | %-30s | %-14s %s\n", "layout", "bits/w", "SQNR dB", "Mw/s/thr",
           "ggml (docs/DESIGN.md §7): dB @ b/w, Mw/s", "target", "status");
    for (int c = 0; c < DQ_N_CONF; ++c) {
        const dq_conf *x = &conf[c];
        char lbl[48], ref[64] = "", tgt[48] = "";
        conf_label(x, lbl, sizeof lbl);
        const double bpw = x->bits / x->weights, db = -10.0 * log10(x->err2 / x->w2);
        const double mw = x->weights / x->cpu / 1e6; /* CPU time sums the threads */
        const char *status = "";
        if (x->ref) {
            snprintf(ref, sizeof ref, "%s %5.2f @ %.5g, %5.1f", x->ref->type, x->ref->sqnr_db,
                     x->ref->bpw, x->ref->mw_s);
            snprintf(tgt, sizeof tgt, "%s%.2f, >=%.0f", x->ref->strict ? ">" : ">=", x->ref->min_db,
                     x->ref->min_mw_s);
            status = target_status(x->ref, bpw, db, mw);
        }
        printf("%-18s %7.4f %8.3f %9.1f | %-30s | %-14s %s\n", lbl, bpw, db, mw, ref, tgt, status);
    }
}

int aq_bench_dq(int argc, char **argv) {
    dq_opts o;
    if (dq_parse(argc, argv, &o) != 0) return 2;
    if (!aq_kernels_select(o.simd)) {
        fprintf(stderr, "aq-bench dq: --simd %d is not available on this CPU\n", o.simd);
        return 2;
    }
    omp_set_num_threads(o.threads);
    dq_conf conf[DQ_N_CONF] = {
        {1, aq_dq_default_layout(2), 0, &k_ref2, 0, 0, 0, 0, 0},
        {1, aq_dq_default_layout(3), 0, &k_ref3, 0, 0, 0, 0, 0},
        {1, aq_dq_default_layout(4), 0, &k_ref4, 0, 0, 0, 0, 0},
        {0, {2, 16, 0}, 16, NULL, 0, 0, 0, 0, 0},
        {0, {2, 32, 0}, 32, NULL, 0, 0, 0, 0, 0},
    };
    const double load0 = load_avg();
    for (int i = 0; i < DQ_N_TENSORS; ++i)
        if (run_tensor(&o, &k_dq_tensors[i], conf) != 0) return 1;
    print_dq(&o, conf, load0);
    return 0;
}
