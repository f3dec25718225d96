/*
 * aq-eval --layer-kl — per-layer sensitivity of result files: for each quantized weight (the
 * block linears, and the embedding and lm_head when the result quantizes them), the
 * KL(p_fp || p_q) of the model in which ONLY that weight is replaced by its dequantized value
 * (mean over the T mask-ratio bins, as aq-eval's "overall"; with --clean one step on the text
 * as it is).  Each entry names the tensor's ggml format when it has one (quant.budget_kl_path
 * with quant.format looks tensors up by name and format).  The forward passes: aq_eval_probe.c.
 * This is the "KL through aq-eval" measure of issue 8's per-layer fallback: aq-mpi reads the JSON
 * (quant.fallback_kl_path) and re-quantizes the layers above quant.fallback_kl at the next
 * width.  One-at-a-time sensitivity ignores interactions between layers; it is the standard
 * layer-wise probe (e.g. HAWQ's and llama.cpp's per-tensor studies use the same idea).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/h5in.h"
#include "aq/qformat.h"
#include "aq/layer_kl.h"
#include "aq_eval.h"

#define EMBED_NAME "model.embed_tokens.weight"

/* Whether the model's lm_head is its embedding (no lm_head.weight of its own). */
static int tied(const aq_run *r) {
    const aq_tensor *h = aq_checkpoint_find(r->st, "lm_head.weight");
    return !h || h == aq_checkpoint_find(r->st, EMBED_NAME);
}

/* The arrays of `m` that hold target p on this rank (up to 2: a tied embedding is also the
 * head); @return : their count. */
static int arrays_of(const aq_run *r, const aq_llm *m, const aq_probe_target *p, float *out[2]) {
    int n = 0;
    if (p->kind == AQ_PROBE_LINEAR && p->layer >= r->pipe.l0 && p->layer < r->pipe.l1)
        out[n++] = m->layers[p->layer - r->pipe.l0].w[p->lin];
    if (p->kind == AQ_PROBE_EMBED && r->pipe.first) out[n++] = m->embed;
    if ((p->kind == AQ_PROBE_HEAD || (p->kind == AQ_PROBE_EMBED && tied(r))) && r->pipe.last)
        out[n++] = m->lm_head;
    return n;
}

/* On the owning rank(s), target p of `probe` <- the dequantized tensor of h, or back to full
 * precision (restore = 1). */
static aq_status swap_weight(const aq_run *r, const aq_h5in *h, aq_llm *probe,
                             const aq_probe_target *p, int restore, aq_err *err) {
    float *dst[2], *src[2];
    const int n = arrays_of(r, probe, p, dst);
    arrays_of(r, &r->fp, p, src);
    if (n == 0) return AQ_OK;
    aq_h5in_info in;
    aq_status st = aq_h5in_tensor_info(h, p->name, &in, err);
    for (int k = 0; k < n && st == AQ_OK; k++) {
        if (restore)
            memcpy(dst[k], src[k], (size_t)in.numel * sizeof *dst[k]);
        else
            st = aq_qread_tensor(h, p->name, dst[k], in.numel, err);
    }
    return st;
}

/* Whether h holds `name` quantized; its width and format name into p. */
static int quantized_in(const aq_h5in *h, aq_probe_target *p) {
    aq_h5in_info in;
    aq_err e;
    if (!aq_h5in_has(h, p->name) || aq_h5in_tensor_info(h, p->name, &in, &e) != AQ_OK ||
        !in.quantized)
        return 0;
    p->bits = in.bits;
    p->kl = NAN;
    if (aq_h5in_attr_str(h, p->name, "format", p->format, sizeof p->format) != 0) p->format[0] = 0;
    return 1;
}

/* The candidates: every block linear that h holds as a quantized tensor, then the embedding
 * and the lm_head (not when tied: the embedding's probe replaces both). */
static aq_probe_target *targets(const aq_run *r, const aq_h5in *h, int *n) {
    const int total = (int)r->cfg.n_layers * AQ_LIN_HEAD;
    aq_probe_target *t = calloc((size_t)total + 3, sizeof *t);
    *n = 0;
    for (int k = 0; t && k < total + 2; k++) {
        aq_probe_target *p = &t[*n];
        if (k < total) {
            p->kind = AQ_PROBE_LINEAR;
            p->layer = k / AQ_LIN_HEAD;
            p->lin = (aq_linear)(k % AQ_LIN_HEAD);
            aq_llm_weight_name(p->layer, p->lin, p->name, sizeof p->name);
        } else if (k == total) {
            p->kind = AQ_PROBE_EMBED;
            snprintf(p->name, sizeof p->name, "%s", EMBED_NAME);
        } else {
            if (tied(r)) continue;
            p->kind = AQ_PROBE_HEAD;
            snprintf(p->name, sizeof p->name, "lm_head.weight");
        }
        if (quantized_in(h, p)) (*n)++;
    }
    return t;
}

static void append_json(aq_layer_kl_writer *arr, const char *result, const aq_probe_target *t,
                        int n) {
    for (int k = 0; k < n; k++)
        aq_layer_kl_writer_add(arr, t[k].name, t[k].bits, t[k].format[0] ? t[k].format : NULL,
                               t[k].kl, result);
}

static aq_status write_json(const eval_opts *o, const aq_layer_kl_writer *arr, aq_err *err) {
    const aq_layer_kl_meta m = {.model = o->run.model,
                                .results = o->results,
                                .n_results = o->n_results,
                                .sequences = o->run.n_seq,
                                .length = o->run.L,
                                .timesteps = o->T,
                                .seed = o->run.seed,
                                .clean = o->clean};
    return aq_layer_kl_writer_save(arr, o->layer_kl, &m, err);
}

static aq_status measure_all(const eval_opts *o, const aq_run *r, const aq_h5in *h, aq_llm *probe,
                             aq_probe_cache *fc, aq_probe_target *t, int n, aq_err *err) {
    aq_eval_acc *acc = calloc((size_t)o->T, sizeof *acc), *tot = calloc((size_t)o->T, sizeof *tot);
    const MPI_Comm comm = r->pipe.comm;
    aq_status st = aq_agree(comm, acc && tot ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "out of memory"),
                            "allocation", err);
    for (int k = 0; k < n && st == AQ_OK; k++) {
        st = aq_agree(comm, swap_weight(r, h, probe, &t[k], 0, err), "loading a weight", err);
        if (st == AQ_OK)
            st = aq_agree(comm, aq_probe_kl(o, r, probe, &t[k], fc, acc, err), "measuring KL", err);
        if (st == AQ_OK)
            st = aq_agree(comm, swap_weight(r, h, probe, &t[k], 1, err), "restore", err);
        if (st == AQ_OK) st = aq_eval_acc_reduce(comm, acc, tot, (size_t)o->T, err);
        if (st != AQ_OK) break;
        if (r->pipe.rank != 0) continue;
        t[k].kl = aq_eval_overall(tot, o->T).kl;
        printf("[%3d/%d] %-44s %-5s %d bits  KL %.6g\n", k + 1, n, t[k].name,
               t[k].format[0] ? t[k].format : "int", t[k].bits, t[k].kl);
        fflush(stdout);
    }
    free(acc);
    free(tot);
    return st;
}

/* One result file: its candidates measured and appended to arr (rank 0). */
static aq_status layer_kl_one(const eval_opts *o, const aq_run *r, const char *path, aq_llm *probe,
                              aq_probe_cache *fc, aq_layer_kl_writer *arr, aq_err *err) {
    aq_h5in *h = NULL;
    aq_status st = aq_agree(r->pipe.comm, aq_h5in_open(path, &h, err), "opening the result", err);
    int n = 0;
    aq_probe_target *t = st == AQ_OK ? targets(r, h, &n) : NULL;
    if (st == AQ_OK && !t) st = aq_err_set(err, AQ_E_NOMEM, "out of memory");
    st = aq_agree(r->pipe.comm, st, "setup", err);
    if (st == AQ_OK && n == 0)
        st = aq_err_set(err, AQ_E_FORMAT, "%s: no quantized weights of the model", path);
    if (st == AQ_OK && r->pipe.rank == 0)
        printf("aq-eval --layer-kl: %s, %d quantized weights, %d sequences x %d tokens, T = %d; "
               "KL = mean over t with only that weight quantized%s\n",
               path, n, o->run.n_seq, o->run.L, o->T, o->clean ? ", clean text" : "");
    if (st == AQ_OK) st = measure_all(o, r, h, probe, fc, t, n, err);
    if (st == AQ_OK && r->pipe.rank == 0) append_json(arr, path, t, n);
    free(t);
    aq_h5in_close(h);
    return st;
}

aq_status aq_eval_layer_kl(const eval_opts *o, const aq_run *r, aq_err *err) {
    aq_llm probe;
    memset(&probe, 0, sizeof probe);
    aq_llm_source src = aq_llm_source_safetensors(r->st);
    aq_status st =
        aq_agree(r->pipe.comm, aq_pipe_load(&r->pipe, &r->cfg, &src, &probe, err), "loading", err);
    aq_layer_kl_writer *arr = aq_layer_kl_writer_create();
    aq_probe_cache *fc = NULL;
    if (st == AQ_OK) st = aq_probe_cache_create(o, r, &fc, err);
    for (int k = 0; k < o->n_results && st == AQ_OK; k++)
        st = layer_kl_one(o, r, o->results[k], &probe, fc, arr, err);
    if (st == AQ_OK && r->pipe.rank == 0) st = write_json(o, arr, err);
    st = aq_agree(r->pipe.comm, st, "writing", err);
    aq_layer_kl_writer_free(arr);
    aq_probe_cache_free(fc);
    aq_llm_free(&probe);
    return st;
}
