/*
 * aq-eval — how far a quantized model's predictions drift from the full-precision model's,
 * per diffusion time step (mask-ratio bin).  See include/aq/model.h for the conventions.
 *
 *   mpirun -n N aq-eval --model DIR --result A.h5 [--result B.h5 ...] [--sequences N]
 *                       [--length L] [--seed S] [--timesteps T] [--json OUT.json]
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/h5in.h"
#include "aq/model.h"
#include "aq_eval.h"

typedef struct {
    aq_h5in *h;
    aq_llm q;
    aq_actq *actq;
} quantized;

static void usage(FILE *f) {
    fprintf(f, "usage: aq-eval --model DIR [--result A.h5 [--result B.h5 ...]] [options]\n"
               "  without --result: the full-precision model's masked-token NLL and accuracy\n"
               "  --sequences N     held-out sequences (default 8)\n"
               "  --length L        tokens per sequence (default 64)\n"
               "  --seed S          sampling and masking seed (default 4321; aq-calib uses 1234)\n"
               "  --timesteps T     mask-ratio bins, u_t = (t+1/2)/T (default 8)\n"
               "  --tokens FILE     read sequences (one per line, token ids) instead of sampling\n"
               "  --temperature X   sampling temperature (default 1)\n"
               "  --mask-token ID   mask token (default: config mask_token_id, else 0)\n"
               "  --causal | --bidirectional   override the attention mode of config.json\n"
               "  --clean           autoregressive models: score the text as it is (no token\n"
               "                    masked, one step T = 1): KL, NLL and accuracy of the next\n"
               "                    token at every predicted position\n"
               "  --weights-only    ignore /act (no activation fake-quantization) in every result\n"
               "  --json OUT.json   also write the results as JSON\n"
               "  --layer-kl OUT.json  per-layer sensitivity: for each result and each of its\n"
               "                    quantized weights (embedding and lm_head included), the KL\n"
               "                    with only that weight quantized, and its ggml format (for\n"
               "                    aq-mpi's quant.fallback_kl_path and, with results at every\n"
               "                    width or format, quant.budget_kl_path)\n"
               "  --print-samples K print the first K sequences (decoded with tokenizer.json)\n"
               "  --dump-logits F   write the full-precision logits, float32 [N, T, L, vocab]\n");
}

static int parse(int argc, char **argv, eval_opts *o) {
    static const struct option lo[] = {{"model", 1, 0, 'm'},
                                       {"result", 1, 0, 'r'},
                                       {"sequences", 1, 0, 'n'},
                                       {"length", 1, 0, 'L'},
                                       {"seed", 1, 0, 's'},
                                       {"timesteps", 1, 0, 'T'},
                                       {"tokens", 1, 0, 'k'},
                                       {"temperature", 1, 0, 'x'},
                                       {"mask-token", 1, 0, 'M'},
                                       {"causal", 0, 0, 'c'},
                                       {"bidirectional", 0, 0, 'b'},
                                       {"json", 1, 0, 'j'},
                                       {"print-samples", 1, 0, 'p'},
                                       {"dump-logits", 1, 0, 'D'},
                                       {"weights-only", 0, 0, 'W'},
                                       {"layer-kl", 1, 0, 'K'},
                                       {"clean", 0, 0, 'C'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    *o = (eval_opts){.run = {NULL, NULL, 8, 64, 4321, 1.0, -1, -1}, .T = 8};
    int c, T_given = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->run.model = optarg;
            break;
        case 'r':
            if (o->n_results == MAX_RESULTS)
                return fprintf(stderr, "aq-eval: at most %d --result\n", MAX_RESULTS), 2;
            o->results[o->n_results++] = optarg;
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
            T_given = 1;
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
        case 'j':
            o->json = optarg;
            break;
        case 'p':
            o->print_samples = atoi(optarg);
            break;
        case 'D':
            o->dump_logits = optarg;
            break;
        case 'W':
            o->weights_only = 1;
            break;
        case 'K':
            o->layer_kl = optarg;
            break;
        case 'C':
            o->clean = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o->clean && T_given && o->T != 1)
        return fprintf(stderr, "aq-eval: --clean has one step; --timesteps %d is not 1\n", o->T), 2;
    if (o->clean) o->T = 1;
    if (!o->run.model || (o->layer_kl && !o->n_results) || o->T < 1 || o->run.n_seq < 1 ||
        o->run.L < 2) {
        fprintf(stderr, "aq-eval: --model is required (and --result with --layer-kl); T, N >= 1, "
                        "L >= 2\n");
        return 2;
    }
    return 0;
}

static aq_status open_quantized(const aq_run *r, const char *path, int T, int weights_only,
                                quantized *q, aq_err *err) {
    memset(q, 0, sizeof *q);
    aq_status st = aq_h5in_open(path, &q->h, err);
    if (st == AQ_OK) {
        aq_llm_source src = aq_llm_source_result(q->h);
        st = aq_pipe_load(&r->pipe, &r->cfg, &src, &q->q, err);
    }
    if (st == AQ_OK && !weights_only) st = aq_actq_load(q->h, &q->q, T, &q->actq, err);
    return st;
}

static void close_quantized(quantized *q) {
    aq_actq_free(q->actq);
    aq_llm_free(&q->q);
    aq_h5in_close(q->h);
}

/* Every (sequence, step): the full-precision logits, then each result's, scored on the last
 * rank into acc[k * T + t]; without results, acc[t] holds the full-precision terms alone. */
static aq_status eval_all(const eval_opts *o, const aq_run *r, quantized *qs, aq_eval_acc *acc,
                          FILE *dump, aq_err *err) {
    int L = o->run.L, T = o->T;
    const aq_llm_config *c = &r->cfg;
    aq_eval_bufs b;
    aq_status st = aq_eval_bufs_alloc(r, L, &b, err);
    for (int s = 0; s < o->run.n_seq && st == AQ_OK; s++) {
        const int32_t *orig = r->seqs + (int64_t)s * L;
        for (int t = 0; t < T && st == AQ_OK; t++) {
            aq_eval_input(o, r, s, t, &b);
            st = aq_pipe_forward(&r->pipe, &r->fp, b.tok, L, b.lf, NULL, err);
            if (st == AQ_OK && dump && fwrite(b.lf, sizeof *b.lf, b.nl, dump) != b.nl)
                st = aq_err_set(err, AQ_E_IO, "%s: write failed", o->dump_logits);
            if (st == AQ_OK && !o->n_results && r->pipe.last)
                aq_eval_score(c, orig, b.masked, L, b.lf, NULL, &acc[t]);
            for (int k = 0; k < o->n_results && st == AQ_OK; k++) {
                aq_actq_set_step(qs[k].actq, t);
                aq_llm_hook hook = aq_actq_hook(qs[k].actq);
                st = aq_pipe_forward(&r->pipe, &qs[k].q, b.tok, L, b.lq, qs[k].actq ? &hook : NULL,
                                     err);
                if (st == AQ_OK && r->pipe.last)
                    aq_eval_score(c, orig, b.masked, L, b.lf, b.lq, &acc[k * T + t]);
            }
        }
    }
    aq_eval_bufs_free(&b);
    return st;
}

static json_t *num(double v) {
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *metrics_json(aq_eval_metrics m) {
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "kl", num(m.kl), "nll_fp", num(m.nll_fp),
                     "nll_q", num(m.nll_q), "top1", num(m.top1), "acc_fp", num(m.acc_fp), "acc_q",
                     num(m.acc_q));
}

static void print_row(const char *label, aq_eval_metrics m, const aq_eval_acc *a) {
    printf("  %-8s %12.6g %10.4f %10.4f %8.4f %8.4f %8.4f %8.0f %8.0f\n", label, m.kl, m.nll_fp,
           m.nll_q, m.top1, m.acc_fp, m.acc_q, a ? a->n_kl : NAN, a ? a->n_nll : NAN);
}

static void print_row_fp(const char *label, aq_eval_metrics m, const aq_eval_acc *a) {
    printf("  %-8s %10.4f %10.4f %8.4f %8.0f\n", label, m.nll_fp, m.nll_fp_se, m.acc_fp,
           a ? a->n_nll : NAN);
}

/* No --result: the full-precision model alone (masked-token NLL and accuracy per step). */
static void report_fp(const eval_opts *o, const aq_eval_acc *a, json_t *root) {
    printf("\nfull precision: masked-token NLL (nats) and accuracy (argmax = original token)\n"
           "  %-8s %10s %10s %8s %8s\n",
           "t (u)", "NLL fp", "(s.e.)", "acc fp", "n_nll");
    json_t *steps = json_array();
    for (int t = 0; t < o->T; t++) {
        char label[32];
        snprintf(label, sizeof label, "%d (%.2f)", t, aq_mask_ratio(t, o->T));
        aq_eval_metrics m = aq_eval_finish(&a[t]);
        print_row_fp(label, m, &a[t]);
        json_array_append_new(steps, json_pack("{s:i, s:f, s:o, s:o, s:o, s:f}", "t", t,
                                               "mask_ratio", aq_mask_ratio(t, o->T), "nll_fp",
                                               num(m.nll_fp), "nll_fp_se", num(m.nll_fp_se),
                                               "acc_fp", num(m.acc_fp), "n_nll", a[t].n_nll));
    }
    aq_eval_metrics m = aq_eval_overall(a, o->T);
    print_row_fp("overall", m, NULL);
    json_object_set_new(root, "full_precision",
                        json_pack("{s:{s:o, s:o}, s:o}", "overall", "nll_fp", num(m.nll_fp),
                                  "acc_fp", num(m.acc_fp), "per_timestep", steps));
}

static void report(const eval_opts *o, const quantized *qs, const aq_eval_acc *acc, json_t *root) {
    json_t *files = json_array();
    for (int k = 0; k < o->n_results; k++) {
        const aq_eval_acc *a = acc + k * o->T;
        const char *mode = qs[k].actq ? "weights dequantized + activations fake-quantized (/act)"
                                      : "weights dequantized (no /act: float activations)";
        printf("\n%s: %s\n  %-8s %12s %10s %10s %8s %8s %8s %8s %8s\n", o->results[k], mode,
               "t (u)", "KL nats", "NLL fp", "NLL q", "top1", "acc fp", "acc q", "n_kl", "n_nll");
        json_t *steps = json_array();
        for (int t = 0; t < o->T; t++) {
            char label[32];
            snprintf(label, sizeof label, "%d (%.2f)", t, aq_mask_ratio(t, o->T));
            aq_eval_metrics m = aq_eval_finish(&a[t]);
            print_row(label, m, &a[t]);
            json_t *j = metrics_json(m);
            json_object_set_new(j, "t", json_integer(t));
            json_object_set_new(j, "mask_ratio", json_real(aq_mask_ratio(t, o->T)));
            json_object_set_new(j, "n_kl", json_real(a[t].n_kl));
            json_object_set_new(j, "n_nll", json_real(a[t].n_nll));
            json_array_append_new(steps, j);
        }
        aq_eval_metrics m = aq_eval_overall(a, o->T);
        print_row("overall", m, NULL);
        json_array_append_new(files, json_pack("{s:s, s:b, s:o, s:o}", "result", o->results[k],
                                               "act_fake_quant", qs[k].actq != NULL, "overall",
                                               metrics_json(m), "per_timestep", steps));
    }
    json_object_set_new(root, "results", files);
}

static json_t *header(const eval_opts *o, const aq_run *r) {
    printf("aq-eval: model %s (%s, %s attention%s), %d sequences x %d tokens (%s, seed %llu), "
           "T = %d %s, mask token %d%s, %d ranks\n",
           o->run.model, r->cfg.arch, r->cfg.causal ? "causal" : "bidirectional",
           r->cfg.logits_shift ? ", shifted logits" : "", o->run.n_seq, o->run.L,
           o->run.tokens ? o->run.tokens : "sampled from the model",
           (unsigned long long)o->run.seed, o->T,
           o->clean ? "step, clean text (--clean: no token masked)" : "mask-ratio bins",
           r->mask_token, r->mask_from_config ? "" : " (model has no mask_token_id)", r->pipe.size);
    if (o->n_results)
        printf("KL(p_fp || p_q) and top-1 agreement over %s; NLL and accuracy of the original "
               "tokens at %s; overall = mean over t\n",
               r->cfg.causal || o->clean ? "all predicted positions" : "masked positions",
               o->clean ? "every predicted position" : "masked positions");
    return json_pack("{s:s, s:s, s:b, s:b, s:i, s:i, s:I, s:i, s:i, s:s}", "model", o->run.model,
                     "arch", r->cfg.arch, "causal", r->cfg.causal, "clean", o->clean, "sequences",
                     o->run.n_seq, "length", o->run.L, "seed", (json_int_t)o->run.seed, "timesteps",
                     o->T, "mask_token", r->mask_token, "overall_definition",
                     "mean over time steps");
}

static void print_samples(const eval_opts *o, const aq_run *r) {
    char path[4096], text[8192];
    snprintf(path, sizeof path, "%s/tokenizer.json", o->run.model);
    aq_tokenizer *tk = NULL;
    aq_err e = {0};
    if (aq_tokenizer_open(path, &tk, &e) != AQ_OK) {
        printf("(no decoder: %s)\n", e.msg);
        return;
    }
    for (int s = 0; s < o->print_samples && s < o->run.n_seq; s++) {
        aq_tokenizer_decode(tk, r->seqs + (int64_t)s * o->run.L, o->run.L, 0, text, sizeof text);
        printf("sample %d: %s\n", s, text);
    }
    aq_tokenizer_close(tk);
}

static aq_status run(const eval_opts *o, aq_err *err) {
    aq_run r;
    aq_status st = aq_run_open(&o->run, MPI_COMM_WORLD, &r, err);
    if (st != AQ_OK) return st;
    if (o->layer_kl) {
        st = aq_eval_layer_kl(o, &r, err);
        aq_run_close(&r);
        return st;
    }
    quantized qs[MAX_RESULTS];
    memset(qs, 0, sizeof qs);
    for (int k = 0; k < o->n_results && st == AQ_OK; k++)
        st = aq_agree(r.pipe.comm,
                      open_quantized(&r, o->results[k], o->T, o->weights_only, &qs[k], err),
                      "opening a result", err);
    size_t n = (size_t)(o->n_results ? o->n_results : 1) * (size_t)o->T;
    aq_eval_acc *acc = calloc(n, sizeof *acc), *tot = calloc(n, sizeof *tot);
    if (st == AQ_OK && (!acc || !tot)) st = aq_err_set(err, AQ_E_NOMEM, "out of memory");
    FILE *dump = NULL;
    if (st == AQ_OK && o->dump_logits && r.pipe.last && !(dump = fopen(o->dump_logits, "wb")))
        st = aq_err_set(err, AQ_E_IO, "cannot create %s", o->dump_logits);
    st = aq_agree(r.pipe.comm, st, "setup", err);
    if (st == AQ_OK) st = eval_all(o, &r, qs, acc, dump, err);
    if (dump && fclose(dump) != 0 && st == AQ_OK)
        st = aq_err_set(err, AQ_E_IO, "%s: close failed", o->dump_logits);
    if (st == AQ_OK) st = aq_eval_acc_reduce(r.pipe.comm, acc, tot, n, err); /* last rank scored */
    if (st == AQ_OK && r.pipe.rank == 0) {
        json_t *root = header(o, &r);
        if (o->print_samples) print_samples(o, &r);
        if (o->n_results)
            report(o, qs, tot, root);
        else
            report_fp(o, tot, root);
        if (o->json && json_dump_file(root, o->json, JSON_INDENT(2)) != 0)
            st = aq_err_set(err, AQ_E_IO, "cannot write %s", o->json);
        json_decref(root);
    }
    for (int k = 0; k < o->n_results; k++)
        close_quantized(&qs[k]);
    free(acc);
    free(tot);
    aq_run_close(&r);
    return st;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    /* MPI calls on the job's communicator return their error instead of aborting, so the
     * checks at the call sites report it (rank, tensor) through the agreed error path. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    eval_opts o;
    int rc = parse(argc, argv, &o);
    if (rc == 0) {
        aq_err e = {0};
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        if (run(&o, &e) != AQ_OK) {
            /* Every rank returns the same agreed error; one line for the user. */
            if (rank == 0) fprintf(stderr, "aq-eval: error: %s\n", e.msg);
            rc = 1;
        }
    }
    MPI_Finalize();
    return rc < 0 ? 0 : rc; /* -1: --help */
}
