/* aq-bench phases: the overhead of Phase 1, 1+2 and 1+2+3 over the baseline job, measured in
 * one process on the same model (issue 3 targets: < 1 %, < 10 %, < 25 %).  Each configuration
 * runs --repeat times and the fastest run counts, which damps the noise of a shared machine.
 * Baseline = the same job with the same (synthetic or given) statistics and importance
 * weights, phases off, so the ratios isolate the phases; a run without any calibration is
 * printed for reference.  Ratios use the process CPU time (all threads), which other load on
 * a shared machine disturbs far less than wall time; wall time is printed beside it. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aq/config.h"
#include "aq/job.h"
#include "bench.h"

typedef struct {
    const char *model, *out_dir, *calib;
    int repeat, bits;
} phases_opts;

typedef struct {
    const char *name;
    int calib, p1, p2, p3;
    double target; /* max overhead vs baseline; < 0: none */
} run_def;

static const run_def RUNS[] = {
    {"no-calibration", 0, 0, 0, 0, -1}, {"baseline", 1, 0, 0, 0, -1},
    {"phase1", 1, 1, 0, 0, 0.01},       {"phase1+2", 1, 1, 1, 0, 0.10},
    {"phase1+2+3", 1, 1, 1, 1, 0.25},
};
#define N_RUNS (sizeof RUNS / sizeof RUNS[0])

static int parse(int argc, char **argv, phases_opts *o) {
    *o = (phases_opts){NULL, "/tmp", NULL, 3, 4};
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--model"))
            o->model = v;
        else if (v && !strcmp(a, "--out-dir"))
            o->out_dir = v;
        else if (v && !strcmp(a, "--calib"))
            o->calib = v;
        else if (v && !strcmp(a, "--repeat"))
            o->repeat = atoi(v);
        else if (v && !strcmp(a, "--bits"))
            o->bits = atoi(v);
        else {
            fprintf(stderr, "aq-bench phases: bad argument '%s' (see aq-bench --help)\n", a);
            return -1;
        }
        ++i;
    }
    if (!o->model || o->repeat < 1) {
        fprintf(stderr, "aq-bench phases: --model DIR is required, --repeat >= 1\n");
        return -1;
    }
    return 0;
}

static aq_status make_config(const phases_opts *o, const run_def *r, aq_config *c, aq_err *err) {
    char set[4200];
    aq_config_defaults(c);
    snprintf(c->model_path, sizeof c->model_path, "%s", o->model);
    snprintf(c->output_path, sizeof c->output_path, "%s/aq_bench_%s.h5", o->out_dir, r->name);
    snprintf(set, sizeof set, "quant.bits=%d", o->bits);
    aq_status st = aq_config_set(c, set, err);
    if (r->calib && o->calib) snprintf(c->calib_path, sizeof c->calib_path, "%s", o->calib);
    c->calib_synthetic = r->calib && !o->calib;
    c->tg_boundaries = AQ_BOUND_OPTIMIZED;
    c->p1_enabled = r->p1;
    c->p2_enabled = r->p2;
    c->p3_enabled = r->p3;
    return st == AQ_OK ? aq_config_check(c, err) : st;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Cheapest of `repeat` runs in CPU seconds (its wall seconds in *wall and the activation
 * stage's wall seconds in *act); < 0 on failure. */
static double time_run(const phases_opts *o, const run_def *r, double *wall, double *act) {
    aq_config c;
    aq_err err = {0};
    if (make_config(o, r, &c, &err) != AQ_OK) {
        fprintf(stderr, "aq-bench phases: %s\n", err.msg);
        return -1.0;
    }
    aq_job_stats js = {0, 0};
    aq_job_opts jo = {.dry_run = 0, .config_text = "", .quiet = 1, .stats = &js};
    double best = -1.0;
    for (int k = 0; k < o->repeat; ++k) {
        double t0 = MPI_Wtime(), c0 = cpu_seconds();
        if (aq_job_run(&c, &jo, MPI_COMM_WORLD, &err) != AQ_OK) {
            fprintf(stderr, "aq-bench phases: %s: %s\n", r->name, err.msg);
            return -1.0;
        }
        double t = cpu_seconds() - c0;
        if (best < 0 || t < best) best = t, *wall = MPI_Wtime() - t0, *act = js.seconds_act;
        remove(c.output_path);
    }
    return best;
}

/* Two views of the overhead: the whole run's CPU time against the baseline's (noisy on a
 * shared machine), and the extra activation-stage time over the baseline's, as a share of
 * the baseline's wall time (precise: the phases run inside that stage and nowhere else). */
static void print_row(const run_def *r, double t, double wall, double act, double base,
                      double base_wall, double base_act) {
    double over = base > 0 ? t / base - 1.0 : 0.0;
    double stage = base_wall > 0 ? (act - base_act) / base_wall : 0.0;
    printf("%-16s %9.3f %9.3f %9.3f %+9.2f %% %+9.2f %%", r->name, t, wall, act, 100.0 * over,
           100.0 * stage);
    if (r->target >= 0)
        printf("   target < %4.0f %%   %s\n", 100.0 * r->target,
               stage < r->target ? "met" : "MISSED");
    else
        printf("\n");
}

int aq_bench_phases(int argc, char **argv) {
    phases_opts o;
    if (parse(argc, argv, &o) != 0) return 2;
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    double t[N_RUNS], wall[N_RUNS], act[N_RUNS];
    int rc = 0;
    for (size_t i = 0; i < N_RUNS && rc == 0; ++i) {
        t[i] = time_run(&o, &RUNS[i], &wall[i], &act[i]);
        if (t[i] < 0)
            rc = 1;
        else
            printf("aq-bench phases: %-16s best of %d: %.3f CPU s (%.3f wall s)\n", RUNS[i].name,
                   o.repeat, t[i], wall[i]);
        fflush(stdout);
    }
    if (rc == 0) {
        printf("\nphase overhead on %s (%d-bit mse, %s statistics, one process, best of %d)\n",
               o.model, o.bits, o.calib ? o.calib : "synthetic", o.repeat);
        printf("%-16s %9s %9s %9s %11s %11s\n", "run", "CPU s", "wall s", "act s", "CPU vs base",
               "act stage");
        for (size_t i = 0; i < N_RUNS; ++i)
            print_row(&RUNS[i], t[i], wall[i], act[i], t[1], wall[1], act[1]);
        printf("targets are judged on the activation-stage column (the phases' own cost)\n");
    }
    MPI_Finalize();
    return rc;
}
