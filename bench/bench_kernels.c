/*-*********************************************
 *  aq-bench kernels
 ***********************************************/

/* Kernel throughput: every bits x method x group size, per kernel set, one thread per
 * measurement (Mweights/s per thread) on a q_proj-like f32 tensor (section 7 recipe), with
 * metrics; plus the machine's read bandwidth measured in the same run, so the fraction of
 * the memory floor (4 bytes read per f32 weight, 2 per bf16) is printed. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dtype.h"
#include "aq/quant.h"
#include "aq/synth.h"
#include "bench.h"

typedef struct {
    uint64_t seed;
    int threads;
    double min_seconds;
    const char *json, *simd;
} kernels_opts;

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
    for (int i = 1; i < argc; ++i) {
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
                    *r = (kernel_row){{k_bits[bi], k_groups[gi], k_methods[mi], AQ_SCALE_F16, 0, 0},
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
                *r = (kernel_row){{k_bits[bi], k_groups[gi], AQ_METHOD_RTN, AQ_SCALE_F16, 0, 0},
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

int aq_bench_kernels(int argc, char **argv) {
    kernels_opts ko;
    if (kernels_parse(argc, argv, &ko) != 0) return 2;
    return run_kernels(&ko) == 0 ? 0 : 1;
}
