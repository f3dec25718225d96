/*
 * aq-calib — activation statistics of every quantized linear layer's input, per diffusion
 * time step (mask-ratio bin), written as the calibration file of docs/DESIGN.md §6.3.
 *
 *   mpirun -n N aq-calib --model DIR --out STATS.h5 [--timesteps T] [--sequences N]
 *                        [--length L] [--seed S] [--clean] [--hessian [--schedule S]
 *                        [--time-weight W] [--t-ref N]]
 * Every sequence is corrupted at every time step t (aq_mask_sequence) and run through the
 * pipeline; each rank records the layers it holds, rank 0 gathers and writes.  --clean is for
 * autoregressive models, which never see the mask token: one step (T = 1), every sequence run
 * as it is, no token masked (docs/CALIBRATION.md "Clean calibration").
 * --hessian: also the time-weighted layer-input Hessians H = sum_t w_t E[x x^T | t] for GPTQ
 * (include/aq/hessian.h), with w_t = aq_time_weights(schedule, time weight, T, t_ref) — the
 * job's [timegroups] schedule, time_weight and t_ref must be the same (it refuses a
 * mismatch).  Statistics and Hessians go into "<out>.partial", renamed to <out> once both
 * are complete.
 */
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/calib.h"
#include "aq/hessian.h"
#include "aq/model.h"
#include "aq/phases.h"

typedef struct {
    aq_run_opts run;
    const char *out;
    int T;
    int hessian;                /* --hessian */
    aq_schedule schedule;       /* --schedule (job: timegroups.schedule) */
    aq_time_weight time_weight; /* --time-weight (job: timegroups.time_weight) */
    int t_ref;                  /* --t-ref (job: timegroups.t_ref) */
    int clean;                  /* 1: no token masked, T = 1 */
    int T_set;                  /* --timesteps given */
} calib_opts;

static const char *const SCHEDULES[] = {"linear", "cosine", "mask"}; /* aq_schedule order */
static const char *const TWEIGHTS[] = {"alphabar", "uniform"};       /* aq_time_weight order */

static int pick(const char *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) return i;
    return -1;
}

static void usage(FILE *f) {
    fprintf(f, "usage: aq-calib --model DIR --out STATS.h5 [options]\n"
               "  --timesteps T     mask-ratio bins, u_t = (t+1/2)/T (default 8)\n"
               "  --sequences N     calibration sequences (default 8)\n"
               "  --length L        tokens per sequence (default 64)\n"
               "  --seed S          sampling and masking seed (default 1234; aq-eval uses 4321)\n"
               "  --tokens FILE     read sequences (one per line, token ids) instead of sampling\n"
               "  --temperature X   sampling temperature (default 1)\n"
               "  --mask-token ID   mask token (default: config mask_token_id, else 0)\n"
               "  --causal | --bidirectional   override the attention mode of config.json\n"
               "  --hessian         also store the time-weighted layer-input Hessians (GPTQ)\n"
               "  --schedule S      linear | cosine | mask (default mask; = timegroups.schedule)\n"
               "  --time-weight W   alphabar | uniform (default alphabar; = "
               "timegroups.time_weight)\n"
               "  --t-ref N         linear schedule horizon (default 1000; = timegroups.t_ref)\n"
               "  --clean           autoregressive models: no token masked, one step (T = 1);\n"
               "                    excludes --timesteps other than 1\n");
}

static int parse(int argc, char **argv, calib_opts *o) {
    static const struct option lo[] = {
        {"model", 1, 0, 'm'},   {"out", 1, 0, 'o'},           {"sequences", 1, 0, 'n'},
        {"length", 1, 0, 'L'},  {"seed", 1, 0, 's'},          {"timesteps", 1, 0, 'T'},
        {"tokens", 1, 0, 'k'},  {"temperature", 1, 0, 'x'},   {"mask-token", 1, 0, 'M'},
        {"causal", 0, 0, 'c'},  {"bidirectional", 0, 0, 'b'}, {"help", 0, 0, 'h'},
        {"hessian", 0, 0, 'H'}, {"schedule", 1, 0, 'S'},      {"time-weight", 1, 0, 'W'},
        {"t-ref", 1, 0, 'R'},   {"clean", 0, 0, 'C'},         {0, 0, 0, 0}};
    *o = (calib_opts){.run = {NULL, NULL, 8, 64, 1234, 1.0, -1, -1},
                      .T = 8,
                      .schedule = AQ_SCHED_MASK,
                      .time_weight = AQ_TW_ALPHABAR,
                      .t_ref = 1000};
    int bad = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->run.model = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'n':
            o->run.n_seq = atoi(optarg);
            break;
        case 'L':
            o->run.L = atoi(optarg);
            break;
        case 's':
            o->run.seed = strtoull(optarg, NULL, 10);
            break;
        case 'T':
            o->T = atoi(optarg);
            o->T_set = 1;
            break;
        case 'C':
            o->clean = 1;
            break;
        case 'k':
            o->run.tokens = optarg;
            break;
        case 'x':
            o->run.temperature = atof(optarg);
            break;
        case 'M':
            o->run.mask_token = atoll(optarg);
            break;
        case 'c':
            o->run.causal = 1;
            break;
        case 'b':
            o->run.causal = 0;
            break;
        case 'H':
            o->hessian = 1;
            break;
        case 'S': {
            int v = pick(optarg, SCHEDULES, 3);
            bad |= v < 0;
            o->schedule = (aq_schedule)(v < 0 ? 0 : v);
            break;
        }
        case 'W': {
            int v = pick(optarg, TWEIGHTS, 2);
            bad |= v < 0;
            o->time_weight = (aq_time_weight)(v < 0 ? 0 : v);
            break;
        }
        case 'R':
            o->t_ref = atoi(optarg);
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o->run.model || !o->out || o->T < 1 || o->run.n_seq < 1 || o->run.L < 2 || bad ||
        o->t_ref < 1) {
        fprintf(stderr, "aq-calib: --model and --out are required; T, N, t-ref >= 1, L >= 2; "
                        "--schedule linear|cosine|mask, --time-weight alphabar|uniform\n");
        return 2;
    }
    if (o->clean) {
        if (o->T_set && o->T != 1) {
            fprintf(stderr, "aq-calib: --clean has one step; --timesteps %d is not 1\n", o->T);
            return 2;
        }
        o->T = 1;
    }
    return 0;
}

/* Both recorders behind one forward hook (statistics, then Hessians). */
typedef struct {
    aq_llm_hook stats, hess;
} both_hooks;

static void both_record(void *ctx, int layer, aq_linear lin, float *x, int64_t rows, int64_t cols) {
    both_hooks *b = ctx;
    b->stats.linear_input(b->stats.ctx, layer, lin, x, rows, cols);
    if (b->hess.linear_input) b->hess.linear_input(b->hess.ctx, layer, lin, x, rows, cols);
}

static aq_status collect(const calib_opts *o, const aq_run *r, aq_act_stats *s, aq_act_hess *hs,
                         aq_err *err) {
    int L = o->run.L;
    int32_t *tok = malloc((size_t)L * sizeof *tok);
    uint8_t *masked = malloc((size_t)L);
    float *logits = r->pipe.last ? malloc((size_t)L * (size_t)r->cfg.vocab * sizeof *logits) : NULL;
    aq_status st = tok && masked && (logits || !r->pipe.last)
                       ? AQ_OK
                       : aq_err_set(err, AQ_E_NOMEM, "out of memory");
    st = aq_agree(r->pipe.comm, st, "allocation", err);
    both_hooks both = {aq_act_stats_hook(s), {NULL, NULL}};
    if (hs) both.hess = aq_act_hess_hook(hs);
    aq_llm_hook hook = {&both, both_record};
    for (int q = 0; q < o->run.n_seq && st == AQ_OK; q++)
        for (int t = 0; t < o->T && st == AQ_OK; t++) {
            if (o->clean) /* the sequence as an autoregressive model sees it */
                memcpy(tok, r->seqs + (int64_t)q * L, (size_t)L * sizeof *tok);
            else
                aq_mask_sequence(r->seqs + (int64_t)q * L, L, t, o->T, o->run.seed, q,
                                 r->mask_token, r->cfg.logits_shift, tok, masked);
            aq_act_stats_set_step(s, t);
            if (hs) aq_act_hess_set_step(hs, t);
            st = aq_pipe_forward(&r->pipe, &r->fp, tok, L, logits, &hook, err);
        }
    free(tok);
    free(masked);
    free(logits);
    return st;
}

static aq_status write_file(const calib_opts *o, const char *path, const aq_run *r,
                            aq_layer_stats *layers, size_t n, aq_err *err) {
    char source[2048];
    snprintf(source, sizeof source,
             "aq-calib on %s (%s, %s attention): %d sequences x %d tokens %s%s, seed %llu, "
             "%s, inputs of every linear layer over all positions",
             o->run.model, r->cfg.arch, r->cfg.causal ? "causal" : "bidirectional", o->run.n_seq,
             o->run.L, o->run.tokens ? "from " : "sampled from the model",
             o->run.tokens ? o->run.tokens : "", (unsigned long long)o->run.seed,
             o->clean ? "clean (no token masked)" : "masked");
    if (!o->clean) {
        size_t k = strlen(source);
        snprintf(source + k, sizeof source - k, " with token %d", r->mask_token);
    }
    return aq_calib_write(path, source,
                          o->clean ? "clean: one step, no token masked (mask ratio 0)"
                                   : "mask ratio bin centre u_t = (t + 1/2)/T; exactly "
                                     "round(u_t * n) eligible positions masked by a seeded shuffle",
                          layers, n, err);
}

/* --hessian: the Hessians into `partial` (the statistics file written by write_file), then
 * the rename to the final name on rank 0.  Collective. */
static aq_status store_hessians(const calib_opts *o, const aq_run *r, const aq_act_hess *hs,
                                const double *w, const char *partial, aq_err *err) {
    aq_hessian_schedule sch = {o->T, SCHEDULES[o->schedule], TWEIGHTS[o->time_weight], w};
    aq_status st = aq_act_hess_store(hs, r->pipe.comm, partial, &sch,
                                     (double)o->run.n_seq * (double)o->run.L, err);
    if (r->pipe.rank == 0) {
        if (st == AQ_OK && rename(partial, o->out) != 0)
            st = aq_err_set(err, AQ_E_IO, "cannot rename %s to %s", partial, o->out);
        if (st != AQ_OK) remove(partial);
    }
    return aq_agree(r->pipe.comm, st, "storing the Hessians", err);
}

/* 1 when the model stores lm_head.weight apart from the embedding (not absent, not an alias
 * of it): only then does the head get a Hessian (a tied one is also the embedding lookup). */
static int untied_head(const aq_run *r) {
    const aq_tensor *head = aq_checkpoint_find(r->st, "lm_head.weight");
    return head && head != aq_checkpoint_find(r->st, "model.embed_tokens.weight");
}

static aq_status run(const calib_opts *o, aq_err *err) {
    aq_run r;
    aq_status st = aq_run_open(&o->run, MPI_COMM_WORLD, &r, err);
    if (st != AQ_OK) return st;
    aq_act_stats *s = NULL;
    aq_act_hess *hs = NULL;
    double *w = malloc((size_t)o->T * sizeof *w);
    char *partial = malloc(strlen(o->out) + sizeof ".partial");
    st = w && partial ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "out of memory");
    if (st == AQ_OK) {
        sprintf(partial, "%s.partial", o->out);
        aq_time_weights(o->schedule, o->time_weight, o->T, o->t_ref, w, NULL);
        st = aq_act_stats_create(&r.fp, o->T, &s, err);
    }
    if (st == AQ_OK && o->hessian)
        st = aq_act_hess_create(&r.fp, o->T, w, untied_head(&r), &hs, err);
    st = aq_agree(r.pipe.comm, st, "statistics", err);
    if (st == AQ_OK) st = collect(o, &r, s, hs, err);
    aq_layer_stats *layers = NULL;
    size_t n = 0;
    if (st == AQ_OK) st = aq_act_stats_gather(s, o->T, r.pipe.comm, &layers, &n, err);
    if (st == AQ_OK && r.pipe.rank == 0)
        st = write_file(o, o->hessian ? partial : o->out, &r, layers, n, err);
    st = aq_agree(r.pipe.comm, st, "writing the calibration file", err);
    if (st == AQ_OK && o->hessian) st = store_hessians(o, &r, hs, w, partial, err);
    if (st == AQ_OK && r.pipe.rank == 0)
        printf("aq-calib: wrote %s: %zu layers%s, T = %d%s, %d sequences x %d tokens, %d ranks\n",
               o->out, n, o->hessian ? " with Hessians" : "", o->T, o->clean ? " (clean)" : "",
               o->run.n_seq, o->run.L, r.pipe.size);
    for (size_t i = 0; i < n; i++)
        aq_layer_stats_free(&layers[i]);
    free(layers);
    aq_act_stats_free(s);
    aq_act_hess_free(hs);
    free(w);
    free(partial);
    aq_run_close(&r);
    return st;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    /* MPI calls on the job's communicator return their error instead of aborting, so the
     * checks at the call sites report it (rank, tensor) through the agreed error path. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    calib_opts o;
    int rc = parse(argc, argv, &o);
    if (rc == 0) {
        aq_err e = {0};
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        if (run(&o, &e) != AQ_OK) {
            /* Every rank returns the same agreed error; one line for the user. */
            if (rank == 0) fprintf(stderr, "aq-calib: error: %s\n", e.msg);
            rc = 1;
        }
    }
    MPI_Finalize();
    return rc < 0 ? 0 : rc; /* -1: --help */
}
