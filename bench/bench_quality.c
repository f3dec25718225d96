/*
 * aq-bench quality — measurements behind the numbers the project quotes (docs/DESIGN.md §7).
 *
 *   aq-bench quality [--seed S] [--threads N] [--scale F] [--json OUT]
 *
 * Generates the section 7 test tensors (Dream-7B shapes, Student-t nu=5 weights with 1e-3
 * outliers, std 0.02) one at a time, quantizes each with every bits x method x group size
 * (f16 scale/min) and reports the pooled SQNR over the four tensors and the quantization
 * speed, with ggml's figures on the same recipe printed beside for reference.
 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dtype.h"
#include "aq/quant.h"
#include "aq/synth.h"
#include "bench.h"

typedef struct {
    const char *name;
    int64_t rows, cols;
} bench_tensor;

/* Dream-7B (Qwen2.5-7B) layer shapes, [out, in]. */
static const bench_tensor k_tensors[] = {
    {"model.layers.0.self_attn.q_proj.weight", 3584, 3584},
    {"model.layers.0.self_attn.k_proj.weight", 512, 3584},
    {"model.layers.0.mlp.gate_proj.weight", 18944, 3584},
    {"model.layers.0.mlp.down_proj.weight", 3584, 18944},
};
#define N_TENSORS 4

#define N_CONFIGS 18

/* ggml on the same recipe, docs/DESIGN.md §7 (pooled SQNR, single thread). */
typedef struct {
    const char *type;
    double bpw, sqnr_db, mw_s;
} ggml_ref;
static const ggml_ref k_ggml[] = {
    {"Q8_0", 8.5, 41.96, 238.0}, {"Q4_0", 4.5, 18.08, 573.0}, {"Q4_1", 5.0, 20.43, 656.0},
    {"Q4_K", 4.5, 21.07, 14.6},  {"Q3_K", 3.44, 14.79, 86.0}, {"Q2_K", 2.625, 9.47, 16.4},
};
#define N_GGML 6

typedef struct {
    uint64_t seed;
    int threads;
    double scale;
    const char *json;
} quality_opts;

/* Accumulated over the tensors for one configuration. */
typedef struct {
    aq_quant_params p;
    double err2, w2, seconds, weights, cpu;
} config_acc;

static int parse_opts(int argc, char **argv, quality_opts *o) {
    *o = (quality_opts){42, omp_get_max_threads(), 1.0, NULL};
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        errno = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            aq_bench_usage(stdout);
            exit(0);
        } else if (v && !strcmp(a, "--seed")) {
            o->seed = strtoull(v, &end, 0);
        } else if (v && !strcmp(a, "--threads")) {
            long t = strtol(v, &end, 10);
            if (t < 1 || t > 4096) errno = ERANGE;
            o->threads = (int)t;
        } else if (v && !strcmp(a, "--scale")) {
            o->scale = strtod(v, &end);
            if (!(o->scale > 0.0 && o->scale <= 1.0)) errno = ERANGE;
        } else if (v && !strcmp(a, "--json")) {
            o->json = v;
            end = strchr(v, '\0'); /* the whole value was consumed */
        } else {
            fprintf(stderr, "aq-bench quality: unknown or incomplete option '%s'\n", a);
            return -1;
        }
        if (errno || !end || *end || end == v) {
            fprintf(stderr, "aq-bench quality: bad value '%s' for %s\n", v, a);
            return -1;
        }
        ++i;
    }
    return 0;
}

static int64_t scaled_rows(const bench_tensor *t, double scale) {
    int64_t r = (int64_t)((double)t->rows * scale);
    return r > 0 ? r : 1;
}

/* Quantizes one tensor with every configuration, adding to the accumulators. */
static int bench_tensor_all(const bench_tensor *t, int64_t rows, const float *w, double w2,
                            config_acc *acc) {
    out_bufs b;
    if (alloc_bufs(&b, rows, t->cols) != 0) {
        fprintf(stderr, "aq-bench: out of memory for %s\n", t->name);
        free_bufs(&b);
        return -1;
    }
    for (int c = 0; c < N_CONFIGS; ++c) {
        aq_quant_metrics m;
        aq_err err = {0};
        double t0 = now_s(), c0 = cpu_s();
        aq_status st = aq_quantize_tensor(&acc[c].p, AQ_DT_F32, w, rows, t->cols, NULL, t->name,
                                          b.codes, b.scale, b.min, &m, &err);
        double dt = now_s() - t0;
        acc[c].cpu += cpu_s() - c0;
        if (st != AQ_OK) {
            fprintf(stderr, "aq-bench: %s\n", err.msg);
            free_bufs(&b);
            return -1;
        }
        acc[c].err2 += m.rel_mse * w2; /* back to |W-W^|^2 for pooling */
        acc[c].w2 += w2;
        acc[c].seconds += dt;
        acc[c].weights += (double)rows * (double)t->cols;
        fprintf(stderr, "  %-40s %d-bit %s g%-3d %7.2f dB %8.2f s\n", t->name, acc[c].p.bits,
                aq_method_name(acc[c].p.method), acc[c].p.group_size, m.sqnr_db, dt);
    }
    free_bufs(&b);
    return 0;
}

static void init_configs(config_acc *acc) {
    int c = 0;
    for (int b = 0; b < 3; ++b)
        for (int m = 0; m < 2; ++m)
            for (int g = 0; g < 3; ++g)
                acc[c++] = (config_acc){{k_bits[b], k_groups[g], k_methods[m], AQ_SCALE_F16, 0, 0},
                                        0.0,
                                        0.0,
                                        0.0,
                                        0.0,
                                        0.0};
}

static double pooled_sqnr(const config_acc *a) {
    return -10.0 * log10(a->err2 / a->w2);
}

/* Per thread from CPU time (all threads' CPU seconds). */
static double mw_per_thread(const config_acc *a, int threads) {
    (void)threads;
    return a->weights / a->cpu / 1e6;
}

static double mw_per_thread_wall(const config_acc *a, int threads) {
    return a->weights / a->seconds / 1e6 / threads;
}

static void print_table(const quality_opts *o, const config_acc *acc, double total_w) {
    printf("aq-bench quality: seed %llu, threads %d, scale %g, %.1f Mweights "
           "(q, k, gate, down), scale/min f16\n",
           (unsigned long long)o->seed, o->threads, o->scale, total_w / 1e6);
    printf("bits  method    g  bits/w  SQNR dB  Mweights/s/thread (CPU time)  (wall)\n");
    for (int c = 0; c < N_CONFIGS; ++c)
        printf("%4d  %-6s  %3d  %6.3f  %7.2f  %28.2f  %7.2f\n", acc[c].p.bits,
               aq_method_name(acc[c].p.method), acc[c].p.group_size, bits_per_weight(&acc[c].p),
               pooled_sqnr(&acc[c]), mw_per_thread(&acc[c], o->threads),
               mw_per_thread_wall(&acc[c], o->threads));
    printf("\nggml reference (docs/DESIGN.md §7, same recipe, pooled, single thread):\n");
    printf("type  bits/w  SQNR dB  Mweights/s/thread\n");
    for (int i = 0; i < N_GGML; ++i)
        printf("%-4s  %6.3f  %7.2f  %17.1f\n", k_ggml[i].type, k_ggml[i].bpw, k_ggml[i].sqnr_db,
               k_ggml[i].mw_s);
}

static int write_json(const quality_opts *o, const config_acc *acc) {
    FILE *f = fopen(o->json, "w");
    if (!f) {
        fprintf(stderr, "aq-bench: cannot write %s: %s\n", o->json, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n  \"seed\": %llu, \"threads\": %d, \"scale\": %g,\n  \"tensors\": [",
            (unsigned long long)o->seed, o->threads, o->scale);
    for (int i = 0; i < N_TENSORS; ++i)
        fprintf(f, "%s\n    {\"name\": \"%s\", \"rows\": %lld, \"cols\": %lld}", i ? "," : "",
                k_tensors[i].name, (long long)scaled_rows(&k_tensors[i], o->scale),
                (long long)k_tensors[i].cols);
    fprintf(f, "\n  ],\n  \"results\": [");
    for (int c = 0; c < N_CONFIGS; ++c)
        fprintf(f,
                "%s\n    {\"bits\": %d, \"method\": \"%s\", \"group_size\": %d, "
                "\"scale_dtype\": \"f16\", \"bits_per_weight\": %.4f, \"sqnr_db\": %.4f, "
                "\"seconds\": %.4f, \"cpu_seconds\": %.4f, \"mweights_per_s_per_thread\": %.4f, "
                "\"mweights_per_s_per_thread_wall\": %.4f, \"simd\": \"%s\"}",
                c ? "," : "", acc[c].p.bits, aq_method_name(acc[c].p.method), acc[c].p.group_size,
                bits_per_weight(&acc[c].p), pooled_sqnr(&acc[c]), acc[c].seconds, acc[c].cpu,
                mw_per_thread(&acc[c], o->threads), mw_per_thread_wall(&acc[c], o->threads),
                aq_kernels_name(aq_kernels_select(0)));
    fprintf(f, "\n  ],\n  \"ggml_reference\": [");
    for (int i = 0; i < N_GGML; ++i)
        fprintf(f,
                "%s\n    {\"type\": \"%s\", \"bits_per_weight\": %g, \"sqnr_db\": %g, "
                "\"mweights_per_s_per_thread\": %g}",
                i ? "," : "", k_ggml[i].type, k_ggml[i].bpw, k_ggml[i].sqnr_db, k_ggml[i].mw_s);
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* One tensor in memory at a time: the largest is 18944 x 3584 f32, 272 MB. */
static int run_quality(const quality_opts *o) {
    config_acc acc[N_CONFIGS];
    init_configs(acc);
    omp_set_num_threads(o->threads);
    double total_w = 0.0;
    for (int i = 0; i < N_TENSORS; ++i) {
        const bench_tensor *t = &k_tensors[i];
        const int64_t rows = scaled_rows(t, o->scale);
        const size_t n = (size_t)rows * (size_t)t->cols;
        float *w = malloc(n * sizeof *w);
        if (!w) {
            fprintf(stderr, "aq-bench: out of memory for %s\n", t->name);
            return -1;
        }
        aq_synth_weights_f32(o->seed, t->name, w, n, 0.02f);
        double w2 = 0.0;
        for (size_t k = 0; k < n; ++k)
            w2 += (double)w[k] * w[k];
        fprintf(stderr, "%s [%lld, %lld]\n", t->name, (long long)rows, (long long)t->cols);
        int rc = bench_tensor_all(t, rows, w, w2, acc);
        free(w);
        if (rc != 0) return -1;
        total_w += (double)n;
    }
    print_table(o, acc, total_w);
    return o->json ? write_json(o, acc) : 0;
}

int aq_bench_quality(int argc, char **argv) {
    quality_opts o;
    if (parse_opts(argc, argv, &o) != 0) return 2;
    return run_quality(&o) == 0 ? 0 : 1;
}
