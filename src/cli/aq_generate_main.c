/*
 * aq-generate — text from a masked-diffusion LM (Dream's format) by iterative unmasking,
 * with the full-precision model and with quantized result files side by side, so that the
 * effect of the quantization is visible as text.  See aq_generate() in include/aq/model.h.
 *
 *   mpirun -n N aq-generate --model DIR [--result R.h5 ...] [--prompt TEXT | --prompt-ids IDS]
 *                           [--new N] [--steps S] [--temperature X] [--seed S] [--samples K]
 */
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/h5in.h"
#include "aq/model.h"

#define MAX_RESULTS 8
#define MAX_PROMPT 512

typedef struct {
    aq_run_opts run;
    const char *results[MAX_RESULTS];
    int n_results, samples, weights_only, print_ids;
    const char *prompt, *prompt_ids;
    aq_gen_opts gen;
} gen_cli;

static void usage(FILE *f) {
    fprintf(f, "usage: aq-generate --model DIR [--result R.h5 ...] [options]\n"
               "  --prompt TEXT      prompt text (encoded with tokenizer.json); default: none\n"
               "  --prompt-ids IDS   prompt as token ids (\"12 34 56\"), instead of --prompt\n"
               "  --new N            masked positions to fill after BOS + prompt (default 64)\n"
               "  --steps S          unmasking steps, ceil(masked / steps left) each (default 16)\n"
               "  --temperature X    0 = argmax; default 1 (the model's distribution)\n"
               "  --seed S           random stream (default 1); sample k uses seed S + k\n"
               "  --samples K        samples per model (default 1)\n"
               "  --mask-token ID    mask token (default: config mask_token_id)\n"
               "  --weights-only     ignore /act (no activation fake-quantization) in results\n"
               "  --ids              also print the token ids of every text\n");
}

static int parse(int argc, char **argv, gen_cli *o) {
    static const struct option lo[] = {{"model", 1, 0, 'm'},        {"result", 1, 0, 'r'},
                                       {"prompt", 1, 0, 'p'},       {"prompt-ids", 1, 0, 'P'},
                                       {"new", 1, 0, 'n'},          {"steps", 1, 0, 'S'},
                                       {"temperature", 1, 0, 'x'},  {"seed", 1, 0, 's'},
                                       {"samples", 1, 0, 'k'},      {"mask-token", 1, 0, 'M'},
                                       {"weights-only", 0, 0, 'W'}, {"ids", 0, 0, 'i'},
                                       {"help", 0, 0, 'h'},         {0, 0, 0, 0}};
    *o = (gen_cli){.run = {NULL, NULL, 0, 0, 1, 1.0, -1, -1},
                   .samples = 1,
                   .gen = {.n_new = 64, .steps = 16, .temperature = 1.0, .seed = 1}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->run.model = optarg;
            break;
        case 'r':
            if (o->n_results == MAX_RESULTS)
                return fprintf(stderr, "aq-generate: at most %d --result\n", MAX_RESULTS), 2;
            o->results[o->n_results++] = optarg;
            break;
        case 'p':
            o->prompt = optarg;
            break;
        case 'P':
            o->prompt_ids = optarg;
            break;
        case 'n':
            o->gen.n_new = atoi(optarg);
            break;
        case 'S':
            o->gen.steps = atoi(optarg);
            break;
        case 'x':
            o->gen.temperature = atof(optarg);
            break;
        case 's':
            o->gen.seed = strtoull(optarg, NULL, 10);
            break;
        case 'k':
            o->samples = atoi(optarg);
            break;
        case 'M':
            o->run.mask_token = atoll(optarg);
            break;
        case 'W':
            o->weights_only = 1;
            break;
        case 'i':
            o->print_ids = 1;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o->run.model || o->gen.n_new < 1 || o->gen.steps < 1 || o->samples < 1 ||
        (o->prompt && o->prompt_ids) || o->gen.temperature < 0) {
        fprintf(stderr, "aq-generate: --model is required; --new, --steps, --samples >= 1; "
                        "--temperature >= 0; one of --prompt, --prompt-ids\n");
        return 2;
    }
    return 0;
}

/* The prompt as ids: parsed from --prompt-ids, or encoded from --prompt. */
static aq_status prompt_tokens(const gen_cli *o, const aq_run *r, const aq_tokenizer *tk,
                               int32_t *ids, int *n, aq_err *err) {
    *n = 0;
    if (o->prompt) {
        int k = aq_tokenizer_encode(tk, o->prompt, ids, MAX_PROMPT);
        if (k < 0) return aq_err_set(err, AQ_E_NOMEM, "prompt: out of memory");
        if (k > MAX_PROMPT)
            return aq_err_set(err, AQ_E_VALUE, "prompt: %d tokens, at most %d", k, MAX_PROMPT);
        *n = k;
        return AQ_OK;
    }
    for (const char *p = o->prompt_ids; p && *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) {
            if (*p == ' ' || *p == ',') {
                p++;
                continue;
            }
            return aq_err_set(err, AQ_E_VALUE, "--prompt-ids: bad id at \"%.16s\"", p);
        }
        if (v < 0 || v >= r->cfg.vocab || *n == MAX_PROMPT)
            return aq_err_set(err, AQ_E_VALUE,
                              "--prompt-ids: id %lld outside [0, %lld) or too many", v,
                              (long long)r->cfg.vocab);
        ids[(*n)++] = (int32_t)v;
        p = end;
    }
    return AQ_OK;
}

typedef struct {
    const char *label;
    aq_h5in *h;
    aq_llm q;
    aq_actq *actq;
} model_slot;

static aq_status open_result(const aq_run *r, const char *path, int weights_only, model_slot *s,
                             aq_err *err) {
    s->label = path;
    aq_status st = aq_h5in_open(path, &s->h, err);
    if (st == AQ_OK) {
        aq_llm_source src = aq_llm_source_result(s->h);
        st = aq_pipe_load(&r->pipe, &r->cfg, &src, &s->q, err);
    }
    if (st == AQ_OK && !weights_only) st = aq_actq_load(s->h, &s->q, 0, &s->actq, err);
    return st;
}

static void print_text(const gen_cli *o, const aq_tokenizer *tk, const char *label,
                       const int32_t *tok, int L) {
    char text[16384];
    aq_tokenizer_decode(tk, tok, L, 0, text, sizeof text);
    printf("  %-24s | %s\n", label, text);
    if (!o->print_ids) return;
    printf("  %-24s | ids:", "");
    for (int i = 0; i < L; i++)
        printf(" %d", tok[i]);
    printf("\n");
}

static aq_status generate_all(const gen_cli *o, const aq_run *r, const aq_tokenizer *tk,
                              const int32_t *prompt, int n_prompt, model_slot *slots, int n_slots,
                              aq_err *err) {
    const int L = 1 + n_prompt + o->gen.n_new;
    int32_t *out = malloc((size_t)L * sizeof *out);
    aq_status st =
        aq_agree(r->pipe.comm, out ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "oom"), "allocation", err);
    for (int k = 0; k < o->samples && st == AQ_OK; k++) {
        if (r->pipe.rank == 0)
            printf("\nsample %d (seed %llu)\n", k, (unsigned long long)(o->gen.seed + (uint64_t)k));
        for (int m = 0; m < n_slots && st == AQ_OK; m++) {
            aq_gen_opts g = o->gen;
            g.seed += (uint64_t)k;
            g.timesteps = aq_actq_timesteps(slots[m].actq);
            const aq_llm *model = m == 0 ? &r->fp : &slots[m].q;
            st = aq_generate(&r->pipe, model, slots[m].actq, prompt, n_prompt, &g, r->mask_token,
                             out, err);
            if (st == AQ_OK && r->pipe.rank == 0) print_text(o, tk, slots[m].label, out, L);
        }
    }
    free(out);
    return st;
}

static aq_status run(const gen_cli *o, aq_err *err) {
    aq_run r;
    aq_status st = aq_run_open(&o->run, MPI_COMM_WORLD, &r, err);
    if (st != AQ_OK) return st;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", o->run.model);
    aq_tokenizer *tk = NULL;
    int32_t prompt[MAX_PROMPT];
    int n_prompt = 0;
    st = aq_tokenizer_open(path, &tk, err);
    if (st == AQ_OK) st = prompt_tokens(o, &r, tk, prompt, &n_prompt, err);
    if (st == AQ_OK && r.cfg.causal)
        st = aq_err_set(err, AQ_E_CONFIG,
                        "%s is a causal model (%s); aq-generate unmasks with a "
                        "bidirectional (diffusion) model",
                        o->run.model, r.cfg.arch);
    st = aq_agree(r.pipe.comm, st, "setup", err);
    model_slot slots[MAX_RESULTS + 1];
    memset(slots, 0, sizeof slots);
    slots[0].label = "full precision";
    for (int k = 0; k < o->n_results && st == AQ_OK; k++)
        st = aq_agree(r.pipe.comm,
                      open_result(&r, o->results[k], o->weights_only, &slots[k + 1], err),
                      "opening a result", err);
    if (st == AQ_OK && r.pipe.rank == 0)
        printf("aq-generate: %s (%s), BOS + %d prompt tokens + %d masks, %d steps, temperature %g, "
               "mask token %d, %d ranks\n",
               o->run.model, r.cfg.arch, n_prompt, o->gen.n_new, o->gen.steps, o->gen.temperature,
               r.mask_token, r.pipe.size);
    if (st == AQ_OK) st = generate_all(o, &r, tk, prompt, n_prompt, slots, o->n_results + 1, err);
    for (int k = 1; k <= o->n_results; k++) {
        aq_actq_free(slots[k].actq);
        aq_llm_free(&slots[k].q);
        aq_h5in_close(slots[k].h);
    }
    aq_tokenizer_close(tk);
    aq_run_close(&r);
    return st;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    gen_cli o;
    int rc = parse(argc, argv, &o);
    if (rc == 0) {
        aq_err e = {0};
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        if (run(&o, &e) != AQ_OK) {
            if (rank == 0) fprintf(stderr, "aq-generate: error: %s\n", e.msg);
            rc = 1;
        }
    }
    MPI_Finalize();
    return rc < 0 ? 0 : rc; /* -1: --help */
}
