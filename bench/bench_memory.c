/*-*********************************************
 *  aq-bench memory  (run under mpirun)
 ***********************************************/

/* Runs the real job (aq_job_run, quiet) on a model directory --repeat times (the first run
 * also warms the page cache; the fastest counts) and reports, per rank, the peak resident
 * set (getrusage ru_maxrss, which includes touched pages of the mapped model) and the peak
 * anonymous resident memory (sampled) against the streaming bound 2 x (largest tensor in
 * f32) + allowance; on rank 0 also the wall time and
 * the fraction of the read floor (model bytes / single-core read bandwidth). */
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "aq/config.h"
#include "aq/job.h"
#include "aq/safetensors.h"
#include "bench.h"

typedef struct {
    const char *model, *out_dir, *json, *sets[8];
    int repeat, nsets;
    double allowance_mb;
} memory_opts;

static int memory_parse(int argc, char **argv, memory_opts *o) {
    *o = (memory_opts){NULL, "/tmp", NULL, {NULL}, 2, 0, 256.0};
    for (int i = 1; i < argc; ++i) {
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

int aq_bench_memory(int argc, char **argv) {
    memory_opts mo;
    if (memory_parse(argc, argv, &mo) != 0) {
        fprintf(stderr, "aq-bench memory: --model DIR is required (see --help)\n");
        return 2;
    }
    return run_memory(&mo);
}
