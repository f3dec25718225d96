/*
 * aq-bench — measurements behind the numbers the project quotes (DESIGN section 7).
 *
 *   aq-bench quality [--seed S] [--threads N] [--scale F] [--json OUT]
 *
 * Generates the section 7 test tensors (Dream-7B shapes, Student-t nu=5 weights with 1e-3
 * outliers, std 0.02) one at a time, quantizes each with every bits x method x group size
 * (f16 scale/min) and reports the pooled SQNR over the four tensors and the quantization
 * speed, with ggml's figures on the same recipe printed beside for reference.
 */
#include "bench.h"
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aq/config.h"
#include "aq/dtype.h"
#include "aq/job.h"
#include "aq/safetensors.h"
#include "aq/quant.h"
#include "aq/synth.h"

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

static const int k_bits[] = {2, 4, 8};
static const aq_method k_methods[] = {AQ_METHOD_RTN, AQ_METHOD_MSE};
static const int k_groups[] = {32, 64, 128};
#define N_CONFIGS 18

/* ggml on the same recipe, DESIGN section 7 (pooled SQNR, single thread). */
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Process CPU seconds (all threads).  On a shared machine the rates are computed from CPU
 * time, which time spent waiting for a core does not inflate; wall time is kept beside. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *f) {
    fputs(
        "usage: aq-bench quality [--seed S] [--threads N] [--scale F] [--json OUT]\n"
        "       aq-bench kernels [--threads N] [--simd all|auto|scalar|avx2|avx512] [--min-seconds "
        "S] [--json OUT]\n"
        "       mpirun -n R aq-bench scaling [--threads T] [--mweights M] [--weak] [--repeat N] "
        "[--bits B]\n"
        "                                     [--method rtn|mse] [--group-size G] [--simd S] "
        "[--json OUT (appends)]\n"
        "       mpirun -n R aq-bench memory --model DIR [--set key=value]... [--repeat N] "
        "[--allowance-mb A]\n"
        "                                    [--out-dir DIR] [--json OUT (appends)]\n"
        "       aq-bench phases --model DIR [--out-dir DIR] [--repeat N] [--bits B] [--calib "
        "FILE]\n"
        "\n"
        "  kernels   Mweights/s per thread of every bits x method x group size per kernel set\n"
        "            (SIMD vs scalar ratio) and the read bandwidth measured in the same run\n"
        "  scaling   in-memory model quantized over ranks x threads, gathered to rank 0\n"
        "  memory    the real job on a model: peak RSS per rank vs the streaming bound, wall time\n"
        "  quality   pooled SQNR and quantization speed of bits {2,4,8} x method {rtn,mse}\n"
        "            x group size {32,64,128} (f16 scale/min) on the DESIGN section 7 test\n"
        "            tensors (Dream-7B shapes q, k, gate, down; Student-t nu=5 weights,\n"
        "            std 0.02, 1e-3 outliers), with ggml's reference figures beside\n"
        "\n"
        "  --seed S      weight generator seed (default 42)\n"
        "  --threads N   OpenMP threads (default: all); speed is reported per thread\n"
        "  --scale F     0 < F <= 1: multiply the row counts by F for a quick run (default 1)\n"
        "  --json OUT    also write the results as JSON to OUT\n"
        "  -h, --help    this text\n",
        f);
}

static int parse_opts(int argc, char **argv, quality_opts *o) {
    *o = (quality_opts){42, omp_get_max_threads(), 1.0, NULL};
    for (int i = 2; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        errno = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
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

/* Output buffers sized for the largest configuration (8 bits, g 32). */
typedef struct {
    uint8_t *codes;
    uint16_t *scale, *min;
} out_bufs;

static int alloc_bufs(out_bufs *b, int64_t rows, int64_t cols) {
    size_t ng = (size_t)rows * (size_t)aq_groups_per_row(cols, 32);
    b->codes = malloc((size_t)rows * aq_packed_row_bytes(cols, 8));
    b->scale = malloc(ng * sizeof *b->scale);
    b->min = malloc(ng * sizeof *b->min);
    return b->codes && b->scale && b->min ? 0 : -1;
}

static void free_bufs(out_bufs *b) {
    free(b->codes);
    free(b->scale);
    free(b->min);
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
                acc[c++] = (config_acc){{k_bits[b], k_groups[g], k_methods[m], AQ_SCALE_F16, 0},
                                        0.0,
                                        0.0,
                                        0.0,
                                        0.0,
                                        0.0};
}

static double pooled_sqnr(const config_acc *a) {
    return -10.0 * log10(a->err2 / a->w2);
}

static double bits_per_weight(const aq_quant_params *p) {
    return p->bits + 32.0 / p->group_size; /* f16 scale + f16 min per group */
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
    printf("\nggml reference (DESIGN section 7, same recipe, pooled, single thread):\n");
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

/*-*********************************************
 *  aq-bench kernels
 ***********************************************/

/* Kernel throughput: every bits x method x group size, per kernel set, one thread per
 * measurement (Mweights/s per thread) on a q_proj-like f32 tensor (section 7 recipe), with
 * metrics; plus the machine's read bandwidth measured in the same run, so the fraction of
 * the memory floor (4 bytes read per f32 weight, 2 per bf16) is printed. */

typedef struct {
    uint64_t seed;
    int threads;
    double min_seconds;
    const char *json, *simd;
} kernels_opts;

/* Read bandwidth (GB/s) of `threads` threads each summing its part of a 512 MiB buffer;
 * best of 5 passes, timed by CPU time per thread.  The sum is returned through *sink so it cannot
 * be optimised away. */
static double read_gbps(int threads, uint64_t *sink) {
    const size_t n = (size_t)512 << 20 >> 3;
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf) return 0.0;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; ++i)
        buf[i] = i * 0x9e3779b97f4a7c15ull;
    double best = 0.0;
    for (int pass = 0; pass < 5; ++pass) {
        uint64_t total = 0;
        double t0 = cpu_s();
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
#pragma omp for schedule(static) nowait
            for (size_t i = 0; i < n; i += 8) {
                a0 += buf[i];
                a1 += buf[i + 1];
                a2 += buf[i + 2];
                a3 += buf[i + 3];
                a4 += buf[i + 4];
                a5 += buf[i + 5];
                a6 += buf[i + 6];
                a7 += buf[i + 7];
            }
            total += a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
        }
        double dt = (cpu_s() - t0) / threads, g = (double)(n * sizeof *buf) / dt / 1e9;
        *sink += total;
        if (g > best) best = g;
    }
    free(buf);
    return best;
}

typedef struct {
    aq_quant_params p;
    aq_dtype src;
    const aq_kernels *k;
    double mw_s, sqnr, bpw, seconds, mw_s_wall;
} kernel_row;

/* Runs one configuration until min_seconds have passed (at least twice); the fastest
 * repetition counts. */
static int time_config(const kernels_opts *o, kernel_row *r, const void *src, int64_t rows,
                       int64_t cols, out_bufs *b) {
    aq_quant_metrics m;
    aq_err err = {0};
    double best = 1e30, best_wall = 1e30, spent = 0.0;
    for (int rep = 0; rep < 2 || spent < o->min_seconds; ++rep) {
        double t0 = now_s(), c0 = cpu_s();
        aq_status st = aq_quantize_tensor_ex(&r->p, r->k, r->src, src, rows, cols, NULL, "bench",
                                             b->codes, b->scale, b->min, &m, &err);
        double wall = now_s() - t0, dt = (cpu_s() - c0) / o->threads;
        if (st != AQ_OK) {
            fprintf(stderr, "aq-bench kernels: %s\n", err.msg);
            return -1;
        }
        spent += wall;
        if (dt < best) best = dt;
        if (wall < best_wall) best_wall = wall;
        if (rep > 50) break;
    }
    r->seconds = best;
    r->mw_s = (double)rows * (double)cols / best / 1e6 / o->threads;
    r->mw_s_wall = (double)rows * (double)cols / best_wall / 1e6 / o->threads;
    r->sqnr = m.sqnr_db;
    r->bpw = bits_per_weight(&r->p);
    return 0;
}

/* Ratio to the scalar row of the same configuration (0 when there is none). */
static double speedup_of(const kernel_row *rows, int nr, int i) {
    for (int j = 0; j < nr; ++j)
        if (!strcmp(aq_kernels_name(rows[j].k), "scalar") && rows[j].src == rows[i].src &&
            rows[j].p.bits == rows[i].p.bits && rows[j].p.method == rows[i].p.method &&
            rows[j].p.group_size == rows[i].p.group_size)
            return rows[i].mw_s / rows[j].mw_s;
    return 0.0;
}

static int kernels_parse(int argc, char **argv, kernels_opts *o) {
    *o = (kernels_opts){42, 1, 0.3, NULL, "all"};
    for (int i = 2; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 0);
        else if (v && !strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (v && !strcmp(a, "--min-seconds"))
            o->min_seconds = atof(v);
        else if (v && !strcmp(a, "--json"))
            o->json = v;
        else if (v && !strcmp(a, "--simd"))
            o->simd = v;
        else {
            fprintf(stderr, "aq-bench kernels: unknown or incomplete option '%s'\n", a);
            return -1;
        }
        ++i;
    }
    if (o->threads < 1 || o->threads > 4096 || !(o->min_seconds >= 0.0)) {
        fprintf(stderr, "aq-bench kernels: bad --threads or --min-seconds\n");
        return -1;
    }
    return 0;
}

/* The kernel sets to measure: "all" = scalar and every SIMD set the CPU has. */
static int kernel_sets(const char *want, const aq_kernels **ks) {
    int n = 0;
    for (int s = AQ_SIMD_SCALAR; s < AQ_SIMD_N; ++s) {
        if (strcmp(want, "all") && strcmp(want, aq_simd_names[s]) &&
            !(s == 1 && !strcmp(want, "auto")))
            continue;
        const aq_kernels *k = aq_kernels_select(s);
        if (k) ks[n++] = k;
    }
    if (!strcmp(want, "auto")) ks[n++] = aq_kernels_select(0);
    return n;
}

static int run_kernels(const kernels_opts *o) {
    const aq_kernels *ks[4];
    const int nk = kernel_sets(o->simd, ks);
    if (nk == 0) {
        fprintf(stderr, "aq-bench kernels: --simd %s not available on this CPU\n", o->simd);
        return -1;
    }
    omp_set_num_threads(o->threads);
    uint64_t sink = 0;
    const double bw1 = read_gbps(1, &sink), bwn = read_gbps(omp_get_num_procs(), &sink);
    /* q_proj-like rows: rtn on 2048 x 3584 (29 MB f32, out of cache), mse on fewer. */
    const int64_t cols = 3584, rows_rtn = 2048 * (int64_t)o->threads,
                  rows_mse = 96 * (int64_t)o->threads;
    const size_t n = (size_t)rows_rtn * (size_t)cols;
    float *w = malloc(n * sizeof *w);
    uint16_t *wb = malloc(n * sizeof *wb);
    out_bufs b;
    if (!w || !wb || alloc_bufs(&b, rows_rtn, cols) != 0) {
        fprintf(stderr, "aq-bench kernels: out of memory\n");
        return -1;
    }
    aq_synth_weights_f32(o->seed, "model.layers.0.self_attn.q_proj.weight", w, n, 0.02f);
    for (size_t i = 0; i < n; ++i)
        wb[i] = aq_f32_to_bf16(w[i]);
    enum { MAXR = 3 * 2 * 3 * 4 + 4 * 4 };
    kernel_row rows[MAXR];
    int nr = 0;
    printf("aq-bench kernels: threads %d, read bandwidth %.2f GB/s (1 thread), %.2f GB/s (%d "
           "threads)\n",
           o->threads, bw1, bwn, omp_get_num_procs());
    printf("rates from CPU time; floor %% = share of the 1-thread read bandwidth consumed\n");
    printf("src   bits method   g  simd    bits/w  SQNR dB  Mweights/s/thread  x scalar  "
           "floor %%\n");
    double scalar_mw[3][2][3] = {{{0}}};
    for (int bi = 0; bi < 3; ++bi)
        for (int mi = 0; mi < 2; ++mi)
            for (int gi = 0; gi < 3; ++gi)
                for (int ki = 0; ki < nk; ++ki) {
                    kernel_row *r = &rows[nr];
                    *r = (kernel_row){{k_bits[bi], k_groups[gi], k_methods[mi], AQ_SCALE_F16, 0},
                                      AQ_DT_F32,
                                      ks[ki],
                                      0,
                                      0,
                                      0,
                                      0,
                                      0};
                    const int64_t rr = mi ? rows_mse : rows_rtn;
                    if (time_config(o, r, w, rr, cols, &b) != 0) return -1;
                    if (!strcmp(aq_kernels_name(ks[ki]), "scalar")) scalar_mw[bi][mi][gi] = r->mw_s;
                    const double sp =
                        scalar_mw[bi][mi][gi] > 0 ? r->mw_s / scalar_mw[bi][mi][gi] : 0;
                    printf("f32   %4d  %-6s %3d  %-6s  %6.3f  %7.2f  %17.1f  %8.2f  %6.1f\n",
                           r->p.bits, aq_method_name(r->p.method), r->p.group_size,
                           aq_kernels_name(r->k), r->bpw, r->sqnr, r->mw_s, sp,
                           100.0 * r->mw_s * 1e6 * 4.0 / (bw1 * 1e9));
                    fflush(stdout);
                    ++nr;
                }
    /* bf16 source (what a model file holds), rtn 4 and 8 bits, g 32/128. */
    for (int bi = 1; bi < 3; ++bi)
        for (int gi = 0; gi < 3; gi += 2)
            for (int ki = 0; ki < nk; ++ki) {
                kernel_row *r = &rows[nr];
                *r = (kernel_row){{k_bits[bi], k_groups[gi], AQ_METHOD_RTN, AQ_SCALE_F16, 0},
                                  AQ_DT_BF16,
                                  ks[ki],
                                  0,
                                  0,
                                  0,
                                  0,
                                  0};
                if (time_config(o, r, wb, rows_rtn, cols, &b) != 0) return -1;
                printf("bf16  %4d  %-6s %3d  %-6s  %6.3f  %7.2f  %17.1f  %8s  %6.1f\n", r->p.bits,
                       aq_method_name(r->p.method), r->p.group_size, aq_kernels_name(r->k), r->bpw,
                       r->sqnr, r->mw_s, "", 100.0 * r->mw_s * 1e6 * 2.0 / (bw1 * 1e9));
                fflush(stdout);
                ++nr;
            }
    free(w);
    free(wb);
    free_bufs(&b);
    if (!o->json) return 0;
    FILE *f = fopen(o->json, "w");
    if (!f) {
        fprintf(stderr, "aq-bench: cannot write %s: %s\n", o->json, strerror(errno));
        return -1;
    }
    fprintf(f,
            "{\n  \"machine\": {\"read_gbps_per_thread\": %.3f, \"read_gbps_all\": %.3f, "
            "\"procs\": %d, \"best_simd\": \"%s\"},\n  \"seed\": %llu, \"cols\": %lld, "
            "\"rows_rtn\": %lld, \"rows_mse\": %lld,\n  \"kernels\": [",
            bw1, bwn, omp_get_num_procs(), aq_kernels_name(aq_kernels_select(0)),
            (unsigned long long)o->seed, (long long)cols, (long long)rows_rtn, (long long)rows_mse);
    for (int i = 0; i < nr; ++i) {
        const kernel_row *r = &rows[i];
        const double bytes = r->src == AQ_DT_F32 ? 4.0 : 2.0;
        fprintf(f,
                "%s\n    {\"bits\": %d, \"method\": \"%s\", \"group_size\": %d, \"threads\": %d, "
                "\"simd\": \"%s\", \"src_dtype\": \"%s\", \"mweights_per_s\": %.3f, "
                "\"sqnr_db\": %.4f, \"bits_per_weight\": %.4f, \"memory_floor_fraction\": %.4f, "
                "\"mweights_per_s_wall\": %.3f, \"speedup_vs_scalar\": %.3f}",
                i ? "," : "", r->p.bits, aq_method_name(r->p.method), r->p.group_size, o->threads,
                aq_kernels_name(r->k), aq_dtype_name(r->src), r->mw_s, r->sqnr, r->bpw,
                r->mw_s * 1e6 * bytes / (bw1 * 1e9), r->mw_s_wall, speedup_of(rows, nr, i));
    }
    fprintf(f, "\n  ],\n  \"sink\": %llu\n}\n", (unsigned long long)(sink & 1));
    return fclose(f) == 0 ? 0 : -1;
}

/*-*********************************************
 *  aq-bench scaling  (run under mpirun)
 ***********************************************/

/* An in-memory model of `mweights` million bf16 weights in [rows, 3584] tensors (Dream-7B
 * q_proj width), split over the ranks in contiguous, weight-balanced blocks; each rank
 * generates its tensors (not timed), then all quantize (OpenMP inside each rank) and the
 * packed results (codes + scale + min) go to rank 0 as the job's gathered output mode does:
 * streamed (each tensor sent when finished, rank 0 receiving between its own tensors; the
 * default) or with --bulk one MPI_Gatherv at the end.  --weak multiplies the model by the rank
 * count.  Best of
 * --repeat; one JSON object per run is appended to --json. */

typedef struct {
    double mweights;
    int threads, repeat, weak, bits, gs, bulk;
    aq_method method;
    const char *json, *simd;
} scaling_opts;

static int scaling_parse(int argc, char **argv, scaling_opts *o) {
    *o = (scaling_opts){256.0, 1, 3, 0, 4, 128, 0, AQ_METHOD_RTN, NULL, "auto"};
    for (int i = 2; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--weak") || !strcmp(a, "--bulk")) {
            *(a[2] == 'w' ? &o->weak : &o->bulk) = 1;
            continue;
        }
        if (v && !strcmp(a, "--mweights"))
            o->mweights = atof(v);
        else if (v && !strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (v && !strcmp(a, "--repeat"))
            o->repeat = atoi(v);
        else if (v && !strcmp(a, "--bits"))
            o->bits = atoi(v);
        else if (v && !strcmp(a, "--group-size"))
            o->gs = atoi(v);
        else if (v && !strcmp(a, "--method"))
            o->method = strcmp(v, "mse") ? AQ_METHOD_RTN : AQ_METHOD_MSE;
        else if (v && !strcmp(a, "--json"))
            o->json = v;
        else if (v && !strcmp(a, "--simd"))
            o->simd = v;
        else {
            fprintf(stderr, "aq-bench scaling: unknown or incomplete option '%s'\n", a);
            return -1;
        }
        ++i;
    }
    return o->mweights > 0 && o->threads >= 1 && o->repeat >= 1 ? 0 : -1;
}

static int simd_code(const char *name) {
    aq_simd s;
    return aq_simd_parse(name, &s) == 0 ? (int)s : -1;
}

static int run_scaling(const scaling_opts *o) {
    int provided, rank, size;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    omp_set_num_threads(o->threads);
    const aq_kernels *k = aq_kernels_select(simd_code(o->simd));
    const aq_quant_params p = {o->bits, o->gs, o->method, AQ_SCALE_F16, 0};
    const int64_t cols = 3584, rows_per = 1024; /* 3.67 Mweights per tensor */
    const double total = o->mweights * 1e6 * (o->weak ? size : 1);
    const int ntens = (int)(total / ((double)cols * rows_per) + 0.5) > 0
                          ? (int)(total / ((double)cols * rows_per) + 0.5)
                          : 1;
    const int t0 = (int)((int64_t)ntens * rank / size),
              t1 = (int)((int64_t)ntens * (rank + 1) / size);
    const size_t n = (size_t)rows_per * (size_t)cols;
    const size_t nb = (size_t)rows_per * aq_packed_row_bytes(cols, p.bits);
    const size_t ng = (size_t)rows_per * (size_t)aq_groups_per_row(cols, p.group_size);
    const int mine = t1 - t0;
    uint16_t *w = malloc((size_t)(mine > 0 ? mine : 1) * n * sizeof *w);
    unsigned char *out = malloc((size_t)(mine > 0 ? mine : 1) * (nb + 4 * ng));
    float *tmp = malloc(n * sizeof *tmp);
    if (!k || !w || !out || !tmp) {
        fprintf(stderr, "aq-bench scaling: rank %d: no memory or --simd %s unsupported\n", rank,
                o->simd);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int t = 0; t < mine; ++t) {
        char name[64];
        snprintf(name, sizeof name, "scaling.%d", t0 + t);
        aq_synth_weights_f32(42, name, tmp, n, 0.02f);
        for (size_t i = 0; i < n; ++i)
            w[(size_t)t * n + i] = aq_f32_to_bf16(tmp[i]);
    }
    free(tmp);
    /* rank 0 receives everything: its buffer is the whole model's packed size */
    int *counts = malloc(sizeof *counts * (size_t)size),
        *displs = malloc(sizeof *displs * (size_t)size);
    const size_t per = nb + 4 * ng;
    size_t all = 0;
    for (int r = 0; r < size; ++r) {
        const int a = (int)((int64_t)ntens * r / size), b = (int)((int64_t)ntens * (r + 1) / size);
        counts[r] = (int)((size_t)(b - a) * per);
        displs[r] = (int)all;
        all += (size_t)counts[r];
    }
    unsigned char *gathered = rank == 0 ? malloc(all ? all : 1) : NULL;
    double best = 1e30, best_c = 0, best_g = 0, best_cpu = 0;
    for (int rep = 0; rep < o->repeat; ++rep) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double a = MPI_Wtime(), ca = cpu_s();
        double lc, lg;
        if (!o->bulk) { /* streamed: rank 0 receives each remote tensor as it is finished */
            const int nreq = rank == 0 ? ntens - mine : mine;
            MPI_Request *req = malloc(sizeof *req * (size_t)(nreq > 0 ? nreq : 1));
            int q = 0;
            if (rank == 0)
                for (int r = 1; r < size; ++r)
                    for (int t = (int)((int64_t)ntens * r / size);
                         t < (int)((int64_t)ntens * (r + 1) / size); ++t)
                        MPI_Irecv(gathered + (size_t)t * per, (int)per, MPI_BYTE, r, t,
                                  MPI_COMM_WORLD, &req[q++]);
            for (int t = 0; t < mine; ++t) {
                unsigned char *dst = out + (size_t)t * per;
                aq_err err = {0};
                if (aq_quantize_tensor_ex(&p, k, AQ_DT_BF16, w + (size_t)t * n, rows_per, cols,
                                          NULL, "scaling", dst, dst + nb, dst + nb + 2 * ng, NULL,
                                          &err) != AQ_OK) {
                    fprintf(stderr, "aq-bench scaling: %s\n", err.msg);
                    MPI_Abort(MPI_COMM_WORLD, 1);
                }
                if (rank == 0) {
                    int flag;
                    memcpy(gathered + (size_t)(t0 + t) * per, dst, per);
                    if (q) MPI_Testall(q, req, &flag, MPI_STATUSES_IGNORE);
                } else {
                    MPI_Isend(dst, (int)per, MPI_BYTE, 0, t0 + t, MPI_COMM_WORLD, &req[q++]);
                }
            }
            const double b = MPI_Wtime();
            MPI_Waitall(q, req, MPI_STATUSES_IGNORE);
            free(req);
            lc = b - a;
            lg = MPI_Wtime() - b; /* what was not hidden behind the computation */
        } else {
            for (int t = 0; t < mine; ++t) {
                unsigned char *dst = out + (size_t)t * per;
                aq_err err = {0};
                if (aq_quantize_tensor_ex(&p, k, AQ_DT_BF16, w + (size_t)t * n, rows_per, cols,
                                          NULL, "scaling", dst, dst + nb, dst + nb + 2 * ng, NULL,
                                          &err) != AQ_OK) {
                    fprintf(stderr, "aq-bench scaling: %s\n", err.msg);
                    MPI_Abort(MPI_COMM_WORLD, 1);
                }
            }
            lc = MPI_Wtime() - a;
            const double g0 = MPI_Wtime();
            MPI_Gatherv(out, counts[rank], MPI_BYTE, gathered, counts, displs, MPI_BYTE, 0,
                        MPI_COMM_WORLD);
            lg = MPI_Wtime() - g0;
        }
        double tot = lc + lg, tmax, cmax, gmax, lcpu = cpu_s() - ca, cpu;
        MPI_Allreduce(&tot, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&lc, &cmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&lg, &gmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(&lcpu, &cpu, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (tmax < best) best = tmax, best_c = cmax, best_g = gmax, best_cpu = cpu;
    }
    if (rank == 0) {
        const double mw = (double)ntens * (double)n / 1e6;
        printf("aq-bench scaling: %s ranks %d x threads %d, %.1f Mweights bf16 (%d tensors), "
               "%d-bit %s g%d, simd %s: "
               "%.3f s (quantize %.3f s, gather %.3f s, %.1f MB), %.1f Mweights/s\n",
               o->weak ? "weak" : "strong", size, o->threads, mw, ntens, p.bits,
               aq_method_name(p.method), p.group_size, aq_kernels_name(k), best, best_c, best_g,
               (double)all / 1e6, mw / best);
        if (o->json) {
            FILE *f = fopen(o->json, "a");
            if (f) {
                fprintf(f,
                        "{\"mode\": \"%s\", \"gather\": \"%s\", \"ranks\": %d, \"threads\": %d, "
                        "\"mweights\": %.3f, \"tensors\": %d, "
                        "\"bits\": %d, \"method\": \"%s\", \"group_size\": %d, \"simd\": \"%s\", "
                        "\"seconds\": %.4f, "
                        "\"quantize_s\": %.4f, \"gather_s\": %.4f, \"gather_bytes\": %zu, "
                        "\"mweights_per_s\": %.2f, "
                        "\"cpu_s\": %.4f}\n",
                        o->weak ? "weak" : "strong", o->bulk ? "bulk" : "streamed", size,
                        o->threads, mw, ntens, p.bits, aq_method_name(p.method), p.group_size,
                        aq_kernels_name(k), best, best_c, best_g, all, mw / best, best_cpu);
                fclose(f);
            }
        }
    }
    free(w);
    free(out);
    free(gathered);
    free(counts);
    free(displs);
    MPI_Finalize();
    return 0;
}

/*-*********************************************
 *  aq-bench memory  (run under mpirun)
 ***********************************************/

/* Runs the real job (aq_job_run, quiet) on a model directory --repeat times (the first run
 * also warms the page cache; the fastest counts) and reports, per rank, the peak resident
 * set (getrusage ru_maxrss, which includes touched pages of the mapped model) and the peak
 * anonymous resident memory (sampled) against the streaming bound 2 x (largest tensor in
 * f32) + allowance; on rank 0 also the wall time and
 * the fraction of the read floor (model bytes / single-core read bandwidth). */

typedef struct {
    const char *model, *out_dir, *json, *sets[8];
    int repeat, nsets;
    double allowance_mb;
} memory_opts;

static int memory_parse(int argc, char **argv, memory_opts *o) {
    *o = (memory_opts){NULL, "/tmp", NULL, {NULL}, 2, 0, 256.0};
    for (int i = 2; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--model"))
            o->model = v;
        else if (v && !strcmp(a, "--out-dir"))
            o->out_dir = v;
        else if (v && !strcmp(a, "--json"))
            o->json = v;
        else if (v && !strcmp(a, "--repeat"))
            o->repeat = atoi(v);
        else if (v && !strcmp(a, "--allowance-mb"))
            o->allowance_mb = atof(v);
        else if (v && !strcmp(a, "--set") && o->nsets < 8)
            o->sets[o->nsets++] = v;
        else {
            fprintf(stderr, "aq-bench memory: unknown or incomplete option '%s'\n", a);
            return -1;
        }
        ++i;
    }
    return o->model && o->repeat >= 1 ? 0 : -1;
}

/* Peak anonymous resident memory, sampled from /proc/self/status (RssAnon) every 2 ms by a
 * helper thread: ru_maxrss also counts the touched pages of the mmapped model, which are
 * file-backed and reclaimable, so it grows with the model even when the job streams. */
typedef struct {
    volatile int stop;
    double peak_anon;
} anon_sampler;

static double rss_anon_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = 0.0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "RssAnon:", 8)) v = atof(line + 8) * 1024.0;
    if (f) fclose(f);
    return v;
}

static void *sample_anon(void *arg) {
    anon_sampler *a = arg;
    while (!a->stop) {
        double v = rss_anon_bytes();
        if (v > a->peak_anon) a->peak_anon = v;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int run_memory(const memory_opts *o) {
    int provided, rank, size;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    aq_err err = {0};
    aq_checkpoint *m = NULL;
    if (aq_checkpoint_open(o->model, &m, &err) != AQ_OK) {
        fprintf(stderr, "aq-bench memory: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double model_bytes = 0.0, largest_f32 = 0.0;
    for (size_t i = 0; i < aq_checkpoint_count(m); ++i) {
        const aq_tensor *t = aq_checkpoint_tensor(m, i);
        model_bytes += (double)t->nbytes;
        if (4.0 * (double)t->numel > largest_f32) largest_f32 = 4.0 * (double)t->numel;
    }
    aq_checkpoint_close(m);
    aq_config c;
    aq_config_defaults(&c);
    snprintf(c.model_path, sizeof c.model_path, "%s", o->model);
    snprintf(c.output_path, sizeof c.output_path, "%s/aq_bench_memory_%d.h5", o->out_dir,
             (int)getpid());
    for (int i = 0; i < o->nsets; ++i)
        if (aq_config_set(&c, o->sets[i], &err) != AQ_OK) {
            fprintf(stderr, "aq-bench memory: %s\n", err.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    if (aq_config_check(&c, &err) != AQ_OK) {
        fprintf(stderr, "aq-bench memory: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    aq_job_opts jo = {.dry_run = 0, .config_text = "", .quiet = 1};
    double best = 1e30;
    anon_sampler samp = {0, 0.0};
    pthread_t sampler;
    const int sampling = pthread_create(&sampler, NULL, sample_anon, &samp) == 0;
    for (int k = 0; k < o->repeat; ++k) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = MPI_Wtime();
        if (aq_job_run(&c, &jo, MPI_COMM_WORLD, &err) != AQ_OK) {
            if (rank == 0) fprintf(stderr, "aq-bench memory: %s\n", err.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        const double t = MPI_Wtime() - t0;
        if (t < best) best = t;
    }
    if (rank == 0) remove(c.output_path);
    if (sampling) {
        samp.stop = 1;
        pthread_join(sampler, NULL);
    }
    double anon = samp.peak_anon, *anons = rank == 0 ? malloc(sizeof *anons * (size_t)size) : NULL;
    MPI_Gather(&anon, 1, MPI_DOUBLE, anons, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss * 1024.0,
           *all = rank == 0 ? malloc(sizeof *all * (size_t)size) : NULL;
    MPI_Gather(&rss, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        uint64_t sink = 0;
        const double bw = read_gbps(1, &sink);
        const double bound = 2.0 * largest_f32 + o->allowance_mb * 1e6;
        printf("aq-bench memory: %s, %d ranks: model %.1f MB, largest tensor %.1f MB as f32, "
               "wall %.3f s, %.2f GB/s = %.1f %% of the 1-core read bandwidth (%.2f GB/s)\n",
               o->model, size, model_bytes / 1e6, largest_f32 / 1e6, best, model_bytes / best / 1e9,
               100.0 * model_bytes / best / (bw * 1e9), bw);
        FILE *f = o->json ? fopen(o->json, "a") : NULL;
        if (f)
            fprintf(
                f,
                "{\"model\": \"%s\", \"ranks\": %d, \"model_bytes\": %.0f, "
                "\"largest_tensor_f32_bytes\": %.0f, "
                "\"seconds\": %.4f, \"read_gbps_per_thread\": %.3f, \"read_floor_fraction\": %.4f, "
                "\"bound_bytes\": %.0f, \"peak_rss_bytes\": [",
                o->model, size, model_bytes, largest_f32, best, bw, model_bytes / best / (bw * 1e9),
                bound);
        for (int r = 0; r < size; ++r) {
            printf("  rank %d: peak RSS %.1f MB, of it anonymous %.1f MB (bound 2 x %.1f + %.0f = "
                   "%.1f MB): %s\n",
                   r, all[r] / 1e6, anons[r] / 1e6, largest_f32 / 1e6, o->allowance_mb, bound / 1e6,
                   anons[r] <= bound ? "within" : "ABOVE");
            if (f) fprintf(f, "%s%.0f", r ? ", " : "", all[r]);
        }
        if (f) {
            fprintf(f, "], \"peak_anon_bytes\": [");
            for (int r = 0; r < size; ++r)
                fprintf(f, "%s%.0f", r ? ", " : "", anons[r]);
            fprintf(f, "]}\n");
            fclose(f);
        }
        free(all);
        free(anons);
    }
    MPI_Finalize();
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "phases") == 0) return aq_bench_phases(argc - 1, argv + 1);
    if (strcmp(argv[1], "memory") == 0) {
        memory_opts mo;
        if (memory_parse(argc, argv, &mo) != 0) {
            fprintf(stderr, "aq-bench memory: --model DIR is required (see --help)\n");
            return 2;
        }
        return run_memory(&mo);
    }
    if (strcmp(argv[1], "scaling") == 0) {
        scaling_opts so;
        if (scaling_parse(argc, argv, &so) != 0) {
            fprintf(stderr, "aq-bench scaling: bad options (see --help)\n");
            return 2;
        }
        return run_scaling(&so) == 0 ? 0 : 1;
    }
    if (strcmp(argv[1], "dq") == 0) return aq_bench_dq(argc - 1, argv + 1);
    if (strcmp(argv[1], "kernels") == 0) {
        kernels_opts ko;
        if (kernels_parse(argc, argv, &ko) != 0) return 2;
        return run_kernels(&ko) == 0 ? 0 : 1;
    }
    if (strcmp(argv[1], "quality") != 0) {
        fprintf(stderr, "aq-bench: unknown subcommand '%s' (try --help)\n", argv[1]);
        return 2;
    }
    quality_opts o;
    if (parse_opts(argc, argv, &o) != 0) return 2;
    return run_quality(&o) == 0 ? 0 : 1;
}
