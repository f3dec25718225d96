/* aq-mpi: command line front end of the main job. */
#include <getopt.h>
#include <mpi.h>
#include <omp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/config.h"
#include "aq/job.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 3 };

/* The one piece of process-wide state: what a signal handler may touch (C17 7.14.1.1). */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) {
    stop_signal = sig;
}

/* SIGUSR1 (Slurm's warning before the time limit, forwarded by mpirun) and SIGTERM: finish
 * the tensor in flight, keep the partial file, exit 3. */
static void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void usage(FILE *f) {
    fprintf(f, "Usage: mpirun -n N aq-mpi --config FILE [--set section.key=value ...] [--dry-run]\n"
               "\n"
               "Quantizes the weights of a safetensors model to 2/3/4/8 bits across MPI ranks and\n"
               "writes one HDF5 file (format aq-mpi/1, see docs/FORMAT.md).\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE        job configuration (INI; see jobs/ and docs/CONFIG.md)\n"
               "  -s, --set SEC.KEY=VALUE  override one key after the file (repeatable)\n"
               "  -n, --dry-run            print the plan (unit -> rank, row blocks, bytes per\n"
               "                           rank) and stop\n"
               "  -p, --ranks N            with --dry-run: the plan for N ranks (no need to\n"
               "                           launch them)\n"
               "  -r, --resume             continue <output.path>.partial of an interrupted run\n"
               "                           (same job and overrides; ranks/threads may differ)\n"
               "  -h, --help               this text\n"
               "  -V, --version            print the version\n"
               "\n"
               "Exit status: 0 success; 1 the job failed (bad model, data or output; nothing is\n"
               "left under the output name); 2 bad command line or configuration; 3 interrupted\n"
               "by SIGUSR1 or SIGTERM after the tensor in flight (<output.path>.partial is kept:\n"
               "run the same command with --resume).\n"
               "Threads per rank: run.threads (0 = OMP_NUM_THREADS or all cores of the rank);\n"
               "give each rank its cores (mpirun --map-by slot:PE=T, srun --cpus-per-task=T).\n");
}

typedef struct {
    const char *config;
    int dry_run, help, version, resume;
    long plan_ranks;
    int n_sets;
    const char **sets;
} args;

static int parse_args(int argc, char **argv, args *a, aq_err *err) {
    static const struct option LONG[] = {
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"dry-run", no_argument, 0, 'n'},      {"resume", no_argument, 0, 'r'},
        {"ranks", required_argument, 0, 'p'},  {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},      {0, 0, 0, 0}};
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    if (!a->sets) return aq_err_set(err, AQ_E_NOMEM, "out of memory");
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":c:s:p:nrhV", LONG, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 's':
            a->sets[a->n_sets++] = optarg;
            break;
        case 'n':
            a->dry_run = 1;
            break;
        case 'r':
            a->resume = 1;
            break;
        case 'p': {
            char *end;
            a->plan_ranks = strtol(optarg, &end, 10);
            if (*end || a->plan_ranks < 1 || a->plan_ranks > 1 << 20)
                return aq_err_set(err, AQ_E_CONFIG, "--ranks %s: must be 1..1048576", optarg);
            break;
        }
        case 'h':
            a->help = 1;
            break;
        case 'V':
            a->version = 1;
            break;
        case ':':
            return aq_err_set(err, AQ_E_CONFIG, "option %s needs a value", argv[optind - 1]);
        default:
            return aq_err_set(err, AQ_E_CONFIG, "unknown option %s (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return aq_err_set(err, AQ_E_CONFIG, "unexpected argument '%s' (see --help)", argv[optind]);
    if (a->plan_ranks && !a->dry_run)
        return aq_err_set(err, AQ_E_CONFIG, "--ranks only goes with --dry-run");
    return AQ_OK;
}

static aq_status build_config(const args *a, aq_config *cfg, aq_err *err) {
    aq_config_defaults(cfg);
    aq_status st = a->config ? aq_config_load(cfg, a->config, err) : AQ_OK;
    for (int i = 0; st == AQ_OK && i < a->n_sets; ++i)
        st = aq_config_set(cfg, a->sets[i], err);
    if (st == AQ_OK && a->dry_run && !cfg->output_path[0]) strcpy(cfg->output_path, "(dry run)");
    if (st == AQ_OK) st = aq_config_check(cfg, err);
    return st;
}

/* mpirun binds each rank to one core by default when there are at most two ranks; OpenMP
 * threads beyond the CPUs a rank may use then only take turns (measured: 1 rank x 2 threads
 * as fast as 1 x 1).  Say so rather than run slow. */
static void warn_thread_binding(int rank) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    const int cpus = CPU_COUNT(&set), threads = omp_get_max_threads();
    if (threads > cpus)
        fprintf(stderr,
                "aq-mpi: warning: rank %d runs %d OpenMP threads on %d CPU%s (its binding); "
                "give each rank its cores: mpirun --map-by slot:PE=%d (or --bind-to none), "
                "srun --cpus-per-task=%d\n",
                rank, threads, cpus, cpus == 1 ? "" : "s", threads, threads);
}

static int exit_code(aq_status st) {
    if (st == AQ_OK) return 0;
    if (st == AQ_E_INTERRUPTED) return EXIT_INTERRUPTED;
    return st == AQ_E_CONFIG || st == AQ_E_UNSUPPORTED ? EXIT_USAGE : EXIT_RUNTIME;
}

static int run(int rank, const args *a) {
    aq_err err = {0};
    aq_config cfg;
    /* Every rank parses the same files, so they fail (or not) together without talking. */
    aq_status st = build_config(a, &cfg, &err);
    if (st != AQ_OK) {
        if (rank == 0) fprintf(stderr, "aq-mpi: error: %s\n", err.msg);
        return exit_code(st);
    }
    if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
    warn_thread_binding(rank);
    char *ini = aq_config_to_ini(&cfg);
    aq_job_opts opts = {.dry_run = a->dry_run,
                        .plan_ranks = (int)a->plan_ranks,
                        .config_text = ini ? ini : "",
                        .resume = a->resume,
                        .stop = &stop_signal};
    st = aq_job_run(&cfg, &opts, MPI_COMM_WORLD, &err);
    free(ini);
    if (st != AQ_OK && rank == 0) fprintf(stderr, "aq-mpi: error: %s\n", err.msg);
    if (st == AQ_OK && rank == 0 && !a->dry_run) printf("wrote %s\n", cfg.output_path);
    return exit_code(st);
}

int main(int argc, char **argv) {
    int provided, rank;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    /* MPI calls on the job's communicator return their error instead of aborting, so the
     * checks at the call sites report it (rank, tensor) through the agreed error path. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    install_signal_handlers(); /* after MPI_Init, which may install its own */
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    args a = {0};
    aq_err err = {0};
    int code;
    if (parse_args(argc, argv, &a, &err) != AQ_OK) {
        if (rank == 0) fprintf(stderr, "aq-mpi: error: %s\n", err.msg);
        code = EXIT_USAGE;
    } else if (a.help || a.version) {
        if (rank == 0 && a.help) usage(stdout);
        if (rank == 0 && a.version) printf("aq-mpi %s\n", AQ_VERSION);
        code = 0;
    } else if (!a.config && a.n_sets == 0) {
        if (rank == 0) usage(stderr);
        code = EXIT_USAGE;
    } else {
        code = run(rank, &a);
    }
    free(a.sets);
    MPI_Finalize();
    return code;
}
