/*
 * aq-bench dq — double-quantized group parameters (include/aq/dq.h) on the DESIGN section 7
 * test tensors, next to the mse 2-bit g16/g32 layouts and ggml's k-quant figures.
 *
 *   aq-bench dq [--seed S] [--scale F] [--threads N]
 *
 * Pooled SQNR over the four tensors; speed in Mweights/s per thread from process CPU time.
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

/* Configurations: dq bits (group 0) or mse bits/group. */
typedef struct {
    int dq, bits, group;
    double err2, w2, cpu, weights, bpw_bits;
} dq_conf;
#define DQ_N_CONF 4

typedef struct {
    uint64_t seed;
    int threads;
    double scale;
} dq_opts;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int dq_parse(int argc, char **argv, dq_opts *o) {
    *o = (dq_opts){42, omp_get_max_threads(), 1.0};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        errno = 0;
        if (v && !strcmp(a, "--seed")) o->seed = strtoull(v, &end, 0);
        else if (v && !strcmp(a, "--threads")) o->threads = (int)strtol(v, &end, 10);
        else if (v && !strcmp(a, "--scale")) o->scale = strtod(v, &end);
        else end = NULL;
        if (!end || *end || errno || o->threads < 1 || !(o->scale > 0.0 && o->scale <= 1.0)) {
            fprintf(stderr, "usage: aq-bench dq [--seed S] [--scale F (0,1]] [--threads N]\n");
            return -1;
        }
    }
    return 0;
}

/* Output buffers big enough for every configuration (4-bit codes, g16 params). */
typedef struct {
    uint8_t *codes, *sub;
    uint16_t *super, *s, *m;
} dq_bufs;

static int run_conf(dq_conf *c, const dq_tensor *t, int64_t rows, const float *w, double w2,
                    dq_bufs *b) {
    aq_quant_metrics m;
    aq_err err = {0};
    aq_status st;
    const double c0 = cpu_now();
    if (c->dq) {
        st = aq_dq_quantize_tensor(AQ_DT_F32, w, rows, t->cols, c->bits, NULL, t->name,
                                   b->codes, b->sub, b->super, &m, &err);
    } else {
        aq_quant_params p = {c->bits, c->group, AQ_METHOD_MSE, AQ_SCALE_F16};
        st = aq_quantize_tensor(&p, AQ_DT_F32, w, rows, t->cols, NULL, t->name, b->codes, b->s,
                                b->m, &m, &err);
    }
    c->cpu += cpu_now() - c0;
    if (st != AQ_OK) {
        fprintf(stderr, "aq-bench dq: %s\n", err.msg);
        return -1;
    }
    c->err2 += m.rel_mse * w2;
    c->w2 += w2;
    c->weights += (double)rows * (double)t->cols;
    c->bpw_bits += (double)rows * (double)t->cols *
                   (c->dq ? aq_dq_bits_per_weight(t->cols, c->bits)
                          : c->bits + 32.0 * (double)aq_groups_per_row(t->cols, c->group) /
                                          (double)t->cols);
    fprintf(stderr, "  %-40s %s %d-bit %s %7.2f dB\n", t->name, c->dq ? "dq " : "mse",
            c->bits, c->dq ? "" : (c->group == 16 ? "g16" : "g32"), m.sqnr_db);
    return 0;
}

static int run_tensor(const dq_opts *o, const dq_tensor *t, dq_conf *conf) {
    int64_t rows = (int64_t)((double)t->rows * o->scale);
    rows = rows > 0 ? rows : 1;
    const size_t n = (size_t)rows * (size_t)t->cols;
    float *w = malloc(n * sizeof *w);
    dq_bufs b = {malloc(n / 2 + (size_t)rows), malloc(n / 16 + (size_t)rows),
                 malloc((n / 256 + (size_t)rows) * 2 * sizeof(uint16_t)),
                 malloc((n / 16 + (size_t)rows) * sizeof(uint16_t)),
                 malloc((n / 16 + (size_t)rows) * sizeof(uint16_t))};
    int rc = -1;
    if (w && b.codes && b.sub && b.super && b.s && b.m) {
        aq_synth_weights_f32(o->seed, t->name, w, n, 0.02f);
        double w2 = 0.0;
        for (size_t k = 0; k < n; ++k) w2 += (double)w[k] * w[k];
        rc = 0;
        for (int c = 0; c < DQ_N_CONF && rc == 0; ++c) rc = run_conf(&conf[c], t, rows, w, w2, &b);
    } else {
        fprintf(stderr, "aq-bench dq: out of memory for %s\n", t->name);
    }
    free(w);
    free(b.codes);
    free(b.sub);
    free(b.super);
    free(b.s);
    free(b.m);
    return rc;
}

static void print_dq(const dq_opts *o, const dq_conf *conf) {
    printf("aq-bench dq: seed %llu, threads %d, scale %g (q, k, gate, down; pooled)\n",
           (unsigned long long)o->seed, o->threads, o->scale);
    printf("layout                          bits/w  SQNR dB  Mweights/s/thread (CPU)\n");
    for (int c = 0; c < DQ_N_CONF; ++c) {
        char lbl[64];
        if (conf[c].dq)
            snprintf(lbl, sizeof lbl, "dq %d-bit (16x16, 4-bit sc/mc)", conf[c].bits);
        else
            snprintf(lbl, sizeof lbl, "mse %d-bit g%d f16", conf[c].bits, conf[c].group);
        printf("%-31s %6.3f  %7.2f  %10.1f\n", lbl, conf[c].bpw_bits / conf[c].weights,
               -10.0 * log10(conf[c].err2 / conf[c].w2), conf[c].weights / conf[c].cpu / 1e6);
    }
    printf("ggml Q2_K (DESIGN 7)             2.625     9.47        16.4\n");
    printf("ggml Q3_K (DESIGN 7)             3.438    14.79        86.0\n");
    printf("ggml Q4_K (DESIGN 7)             4.500    21.07        14.6\n");
}

int aq_bench_dq(int argc, char **argv) {
    dq_opts o;
    if (dq_parse(argc, argv, &o) != 0) return 2;
    omp_set_num_threads(o.threads);
    dq_conf conf[DQ_N_CONF] = {
        {1, 2, 0, 0, 0, 0, 0, 0}, {0, 2, 16, 0, 0, 0, 0, 0},
        {0, 2, 32, 0, 0, 0, 0, 0}, {1, 4, 0, 0, 0, 0, 0, 0}};
    for (int i = 0; i < DQ_N_TENSORS; ++i)
        if (run_tensor(&o, &k_dq_tensors[i], conf) != 0) return 1;
    print_dq(&o, conf);
    return 0;
}
