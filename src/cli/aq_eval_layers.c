/*
 * aq-eval --layer-kl — per-layer sensitivity of result files: for each quantized linear
 * weight, the KL(p_fp || p_q) of the model in which ONLY that weight is replaced by its
 * dequantized value (mean over the T mask-ratio bins, as aq-eval's "overall").  This is the
 * "KL through aq-eval" measure of issue 8's per-layer fallback: aq-mpi reads the JSON
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

/* One candidate weight: block `layer`, linear `lin`, its width in the result (0: not a
 * quantized tensor there). */
typedef struct {
    int layer;
    aq_linear lin;
    int bits;
    char name[160];
    double kl;
} probe_target;

/* KL over all sequences and steps of `probe` (one weight swapped) against r->fp. */
static aq_status probe_kl(const eval_opts *o, const aq_run *r, const aq_llm *probe,
                          aq_eval_acc *acc, aq_err *err) {
    const int L = o->run.L, T = o->T;
    const aq_llm_config *c = &r->cfg;
    aq_eval_bufs b;
    aq_status st = aq_eval_bufs_alloc(r, L, &b, err);
    memset(acc, 0, (size_t)T * sizeof *acc);
    for (int s = 0; s < o->run.n_seq && st == AQ_OK; s++) {
        const int32_t *orig = r->seqs + (int64_t)s * L;
        for (int t = 0; t < T && st == AQ_OK; t++) {
            aq_mask_sequence(orig, L, t, T, o->run.seed, s, r->mask_token, c->logits_shift, b.tok,
                             b.masked);
            st = aq_pipe_forward(&r->pipe, &r->fp, b.tok, L, b.lf, NULL, err);
            if (st == AQ_OK) st = aq_pipe_forward(&r->pipe, probe, b.tok, L, b.lq, NULL, err);
            if (st == AQ_OK && r->pipe.last)
                aq_eval_score(c, orig, b.masked, L, b.lf, b.lq, &acc[t]);
        }
    }
    aq_eval_bufs_free(&b);
    return st;
}

/* On the owning rank, weight (layer, lin) of `probe` <- the dequantized tensor of h, or back
 * to full precision (restore = 1). */
static aq_status swap_weight(const aq_run *r, const aq_h5in *h, aq_llm *probe,
                             const probe_target *p, int restore, aq_err *err) {
    if (p->layer < r->pipe.l0 || p->layer >= r->pipe.l1) return AQ_OK;
    const int i = p->layer - r->pipe.l0;
    aq_h5in_info in;
    aq_status st = aq_h5in_tensor_info(h, p->name, &in, err);
    if (st != AQ_OK) return st;
    float *dst = probe->layers[i].w[p->lin];
    if (restore) {
        memcpy(dst, r->fp.layers[i].w[p->lin], (size_t)in.numel * sizeof *dst);
        return AQ_OK;
    }
    return aq_qread_tensor(h, p->name, dst, in.numel, err);
}

/* The candidates: every block linear that h holds as a quantized tensor. */
static probe_target *targets(const aq_run *r, const aq_h5in *h, int *n) {
    const int total = (int)r->cfg.n_layers * AQ_LIN_HEAD;
    probe_target *t = calloc((size_t)total + 1, sizeof *t);
    *n = 0;
    for (int k = 0; t && k < total; k++) {
        probe_target *p = &t[*n];
        p->layer = k / AQ_LIN_HEAD;
        p->lin = (aq_linear)(k % AQ_LIN_HEAD);
        aq_llm_weight_name(p->layer, p->lin, p->name, sizeof p->name);
        aq_h5in_info in;
        aq_err e;
        if (!aq_h5in_has(h, p->name) || aq_h5in_tensor_info(h, p->name, &in, &e) != AQ_OK ||
            !in.quantized)
            continue;
        p->bits = in.bits;
        p->kl = NAN;
        (*n)++;
    }
    return t;
}

static void append_json(aq_layer_kl_writer *arr, const char *result, const probe_target *t, int n) {
    for (int k = 0; k < n; k++)
        aq_layer_kl_writer_add(arr, t[k].name, t[k].bits, t[k].kl, result);
}

static aq_status write_json(const eval_opts *o, const aq_layer_kl_writer *arr, aq_err *err) {
    const aq_layer_kl_meta m = {.model = o->run.model,
                                .results = o->results,
                                .n_results = o->n_results,
                                .sequences = o->run.n_seq,
                                .length = o->run.L,
                                .timesteps = o->T,
                                .seed = o->run.seed};
    return aq_layer_kl_writer_save(arr, o->layer_kl, &m, err);
}

static aq_status measure_all(const eval_opts *o, const aq_run *r, const aq_h5in *h, aq_llm *probe,
                             probe_target *t, int n, aq_err *err) {
    aq_eval_acc *acc = calloc((size_t)o->T, sizeof *acc), *tot = calloc((size_t)o->T, sizeof *tot);
    const MPI_Comm comm = r->pipe.comm;
    aq_status st = aq_agree(comm, acc && tot ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "out of memory"),
                            "allocation", err);
    for (int k = 0; k < n && st == AQ_OK; k++) {
        st = aq_agree(comm, swap_weight(r, h, probe, &t[k], 0, err), "loading a weight", err);
        if (st == AQ_OK) st = aq_agree(comm, probe_kl(o, r, probe, acc, err), "measuring KL", err);
        if (st == AQ_OK)
            st = aq_agree(comm, swap_weight(r, h, probe, &t[k], 1, err), "restore", err);
        if (st == AQ_OK) st = aq_eval_acc_reduce(comm, acc, tot, (size_t)o->T, err);
        if (st != AQ_OK) break;
        if (r->pipe.rank != 0) continue;
        t[k].kl = aq_eval_overall(tot, o->T).kl;
        printf("[%3d/%d] %-44s int%d  KL %.6g\n", k + 1, n, t[k].name, t[k].bits, t[k].kl);
        fflush(stdout);
    }
    free(acc);
    free(tot);
    return st;
}

/* One result file: its candidates measured and appended to arr (rank 0). */
static aq_status layer_kl_one(const eval_opts *o, const aq_run *r, const char *path, aq_llm *probe,
                              aq_layer_kl_writer *arr, aq_err *err) {
    aq_h5in *h = NULL;
    aq_status st = aq_agree(r->pipe.comm, aq_h5in_open(path, &h, err), "opening the result", err);
    int n = 0;
    probe_target *t = st == AQ_OK ? targets(r, h, &n) : NULL;
    if (st == AQ_OK && !t) st = aq_err_set(err, AQ_E_NOMEM, "out of memory");
    st = aq_agree(r->pipe.comm, st, "setup", err);
    if (st == AQ_OK && n == 0)
        st = aq_err_set(err, AQ_E_FORMAT, "%s: no quantized linear weights of the model's blocks",
                        path);
    if (st == AQ_OK && r->pipe.rank == 0)
        printf("aq-eval --layer-kl: %s, %d quantized weights, %d sequences x %d tokens, T = %d; "
               "KL = mean over t with only that weight quantized\n",
               path, n, o->run.n_seq, o->run.L, o->T);
    if (st == AQ_OK) st = measure_all(o, r, h, probe, t, n, err);
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
    for (int k = 0; k < o->n_results && st == AQ_OK; k++)
        st = layer_kl_one(o, r, o->results[k], &probe, arr, err);
    if (st == AQ_OK && r->pipe.rank == 0) st = write_json(o, arr, err);
    st = aq_agree(r->pipe.comm, st, "writing", err);
    aq_layer_kl_writer_free(arr);
    aq_llm_free(&probe);
    return st;
}
