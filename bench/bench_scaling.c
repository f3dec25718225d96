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
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/dtype.h"
#include "aq/quant.h"
#include "aq/synth.h"
#include "bench.h"

typedef struct {
    double mweights;
    int threads, repeat, weak, bits, gs, bulk;
    aq_method method;
    const char *json, *simd;
} scaling_opts;

static int scaling_parse(int argc, char **argv, scaling_opts *o) {
    *o = (scaling_opts){256.0, 1, 3, 0, 4, 128, 0, AQ_METHOD_RTN, NULL, "auto"};
    for (int i = 1; i < argc; ++i) {
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
    const aq_quant_params p = {o->bits, o->gs, o->method, AQ_SCALE_F16, 0, 0};
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

int aq_bench_scaling(int argc, char **argv) {
    scaling_opts so;
    if (scaling_parse(argc, argv, &so) != 0) {
        fprintf(stderr, "aq-bench scaling: bad options (see --help)\n");
        return 2;
    }
    return run_scaling(&so) == 0 ? 0 : 1;
}
