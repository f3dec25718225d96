/* Private to src/job: the result message and the pieces of the job. */
#ifndef AQ_JOB_INTERNAL_H
#define AQ_JOB_INTERNAL_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "aq/calib.h"
#include "aq/config.h"
#include "aq/error.h"
#include "aq/h5out.h"
#include "aq/job.h"
#include "aq/layer_kl.h"
#include "aq/mpi_tags.h"
#include "aq/mpi_util.h"
#include "aq/plan.h"
#include "aq/qformat.h"
#include "aq/quant.h"
#include "aq/safetensors.h"

typedef struct aq_job_s aq_job; /* defined below */
struct aq_job_gptq_s;           /* gptq_work.c */
struct aq_gptq_hinv_s;          /* include/aq/gptq.h */

/* GPTQ factorizations sent to / received from the other owners of a tensor's row blocks
 * (gptq_share.c). */
typedef struct aq_share_send_s aq_share_send;
typedef struct {
    int size;
    int *sent, *recvd;     /* [size]: factorizations sent to / received from each rank */
    aq_share_send **sends; /* in flight */
    size_t n_sends;
    int abort_seen; /* a receive took rank 0's stop request */
} aq_gptq_share;

enum { MSG_RESULT = 1, MSG_END = 2 };

/* The header of one message under AQ_TAG_RESULT (protocol in aq/mpi_tags.h).  Sent as raw
 * bytes: ranks of one job are assumed to share the architecture (homogeneous cluster), as
 * every MPI_BYTE protocol does. */
typedef struct {
    int32_t kind;        /* MSG_RESULT or MSG_END */
    int32_t status;      /* aq_status; an END with an error carries its message */
    int64_t tensor;      /* model tensor index */
    int64_t rows, cols;  /* the whole tensor's 2-D view */
    int64_t row0, row1;  /* the rows this result holds: [0, rows), or a row block */
    int32_t block;       /* row block index (plan item), 0 for a whole tensor */
    int32_t n_blocks;    /* 1: whole tensor; > 1: a block, row sums follow the arrays */
    int32_t n_arrays;    /* the format's arrays (aq_qformat_arrays) */
    int32_t filtered;    /* 1: arr[i] are aq_h5_prefilter_2d() blobs of wire_bytes[i] */
    int32_t passthrough; /* 1: arr[0] is the filtered original bytes of a 2-D passthrough
                            tensor (its rows [row0, row1)), no metrics or row sums */
    uint64_t array_bytes[AQ_QF_MAX_ARRAYS]; /* (row1 - row0) * row bytes of each */
    uint64_t wire_bytes[AQ_QF_MAX_ARRAYS];  /* bytes of arr[i] as held and sent */
    double seconds;                         /* compute seconds on the producing rank */
    int32_t rank;                           /* producer */
    int32_t bits;                           /* width actually used (after any fallback) */
    int32_t from_bits;                      /* > 0: fell back from this width */
    int32_t format;           /* quant.format's block row used for this tensor (after the
                                 row-length fallback, aq_qformat_fallback), 0: the plain layouts */
    int32_t from_format;      /* > 0: quant.format, which this tensor's row length did not fit */
    int32_t budget;           /* 1: format chosen by quant.budget_bits (attribute budget_chosen) */
    int32_t gptq;             /* GPTQ with a Hessian: 1 factorization reused, 1 + k: k made for this
                               * tensor (k > 1 only for a joined row-sharded tensor) */
    double from_err;          /* weighted_rel_err at from_bits */
    double from_kl;           /* per-layer KL at from_bits (aq-eval --layer-kl), NaN: none */
    aq_quant_metrics metrics; /* whole tensors only; a block's come from rank 0's merge */
    char msg[AQ_ERR_MSG_MAX];
} aq_msg_hdr;

/* One quantized tensor's result: the stored arrays of its format (aq/qformat.h), in the
 * format's order; buffers owned by the struct. */
typedef struct {
    aq_msg_hdr hdr;
    void *arr[AQ_QF_MAX_ARRAYS]; /* hdr.n_arrays of them, the rest NULL */
    double *sums; /* n_blocks > 1: row sums [row1 - row0][AQ_QF_ROW_SUMS], else NULL */
} aq_qresult;

/* Bytes of r->sums (0 for a whole tensor). */
uint64_t aq_qresult_sums_bytes(const aq_qresult *r);

/* Row blocks of sharded tensors waiting on rank 0 for their siblings (assemble.c). */
typedef struct aq_assembly_s aq_assembly;
/* Takes block r (moved: r is emptied).  When it completes its tensor, *whole is the merged
 * result (arrays of the blocks in block order, metrics from their row sums in row order,
 * aq_qf_metrics_from_row_sums(), seconds summed) and *complete = 1.  *a is created on first
 * use.  @return : AQ_OK, AQ_E_VALUE (a block twice, mismatched blocks), AQ_E_NOMEM. */
aq_status aq_assembly_add(aq_assembly **a, aq_qresult *r, aq_qresult *whole, int *complete,
                          aq_err *err);
/* Tensors with blocks still missing (0 for NULL); their name via *tensor (first one). */
size_t aq_assembly_pending(const aq_assembly *a, int64_t *tensor);
void aq_assembly_free(aq_assembly *a);

/* Stored bytes of r: the sum of its arrays (qresult.c). */
uint64_t aq_qresult_bytes(const aq_qresult *r);

/* Bytes of r->arr[i] as held in memory and sent: wire_bytes[i] when filtered, else
 * array_bytes[i] (qresult.c). */
uint64_t aq_qresult_held_bytes(const aq_qresult *r, int i);

/* Replaces r's arrays by their filtered chunks (aq_h5_prefilter_2d(): zstd at the output's
 * level, then Fletcher32), so rank 0 only stores them (prefilter.c, issue 16).  Adds the
 * seconds spent to r->hdr.seconds.  On failure r is freed.  @return : AQ_OK or AQ_E_NOMEM. */
aq_status aq_qresult_prefilter(const aq_job *j, aq_qresult *r, aq_err *err);

/* 2-D view [rows, cols] of a tensor: rows = shape[0], cols = product of the rest (select.c). */
void aq_tensor_view(const aq_tensor *t, int64_t *rows, int64_t *cols);

/* 1 when quant.format leaves tensor t unquantized only because no ggml block fits its rows
 * (cols % 32 != 0; select.c). */
int aq_job_passthrough_by_format(const aq_tensor *t, const aq_config *cfg);

/* 1 when tensor t is stored unquantized and is 2-D: its owner rank (plan item) filters its
 * chunks and sends them to rank 0 like a quantized result, and the plan may cut it into
 * row blocks (select.c).  The other passthrough tensors (norms, 0-d and N-d) are written by
 * rank 0 itself. */
int aq_job_passthrough_filtered(const aq_tensor *t, const aq_config *cfg);

/* Filters the rows of passthrough tensor `index` (aq_job_passthrough_filtered) that `it`
 * holds (all of them for NULL or a whole item) into r (allocated: arr[0] the blob,
 * hdr.passthrough = hdr.filtered = 1), after checking them for non-finite values; seconds in
 * r->hdr.seconds (passthrough_work.c).  @return : AQ_OK, AQ_E_VALUE (non-finite value,
 * naming the tensor and the flat index), AQ_E_NOMEM. */
aq_status aq_qresult_passthrough(const aq_job *j, int64_t index, const aq_plan_item *it,
                                 aq_qresult *r, aq_err *err);

/* Allocates the buffers of `r` for the sizes in r->hdr.  AQ_E_NOMEM naming the tensor. */
aq_status aq_qresult_alloc(aq_qresult *r, const char *name, aq_err *err);
void aq_qresult_free(aq_qresult *r);

/* Quantizes model tensor `index` into `r` (allocating it), timing the work (tensor_work.c); with
 * calibration, the mse error is weighted by the importance h_j (docs/DESIGN.md §3).  `it`
 * with n_blocks > 1: only its rows [row0, row1), with row sums instead of metrics and no
 * fallback (the plan does not split tensors when quant.fallback is on); NULL: whole. */
aq_status aq_qresult_compute(const aq_job *j, int64_t index, const aq_plan_item *it, aq_qresult *r,
                             aq_err *err);

/* Importance of tensor t's input channels from the calibration, or *h = NULL (all 1). */
aq_status aq_job_importance(const aq_job *j, const aq_tensor *t, int64_t cols, float **h,
                            aq_err *err);
/* Allocates and fills r for tensor t at `bits` and the block format r->hdr.format (0: the
 * job's scale_dtype layout); the rest from the job. */
aq_status aq_quantize_at(const aq_job *j, const aq_tensor *t, int bits, const float *h,
                         aq_qresult *r, aq_err *err);
/* GPTQ (gptq_work.c).  aq_job_gptq_open(): NULL state when quant.gptq is off (AQ_OK);
 * AQ_E_NOMEM.  aq_job_gptq_close(): NULL is a no-op. */
aq_status aq_job_gptq_open(const aq_config *cfg, struct aq_job_gptq_s **out, aq_err *err);
void aq_job_gptq_close(struct aq_job_gptq_s *g);
/* The Hessian file of the state (quant.hessian_path, else calib.path). */
const char *aq_job_gptq_path(const struct aq_job_gptq_s *g);
/* The Hessian layer a weight reads ("...k_proj.weight" -> "...q_proj.weight", up -> gate; q,
 * o, gate, down, lm_head: itself) into buf; 0 when the weight has none (embeddings).  A
 * Hessian file without "lm_head.weight" (older files, tied models) leaves the head to the
 * normal search. */
int aq_job_gptq_layer(const char *weight, char *buf, size_t size);
/* GPTQ of tensor t into the allocated r (params p, importance h) when quant.gptq is on and t
 * has a Hessian: *done = 1.  A row block (r->hdr.n_blocks > 1) gets rows [r->hdr.row0,
 * r->hdr.row1) and their row sums (aq_gptq_quantize_rows()), its owner factorizing the
 * layer's Hessian itself.  Else *done = 0 and nothing happens.  The factorized Hessian of
 * the last layer input is kept, so q/k/v and gate/up factorize once.  Errors name the tensor,
 * the Hessian file and layer. */
aq_status aq_job_gptq_quantize(const aq_job *j, const aq_tensor *t, const aq_quant_params *p,
                               const float *h, const aq_plan_item *it, aq_qresult *r, int *done,
                               aq_err *err);

/* Test hook (tensor_work.c): sleeps the whole number of ms in environment variable `var`
 * (signals or not) when it is in 1..max_ms - 1; else returns at once. */
void aq_job_test_delay(const char *var, long max_ms);

/* Shared factorizations (gptq_share.c).  aq_job_item_pass(): the loop pass of plan item i on
 * its owner: 0 block 0 of a shared tensor (factorize and send first), 2 another block of one
 * (receive last), 1 the rest.  aq_job_item_factor_rank(): block 0's owner for a shared item,
 * else -1. */
int aq_job_item_pass(const aq_job *j, size_t item);
int aq_job_item_factor_rank(const aq_job *j, size_t item);
/* init/free: the per-rank counts (AQ_E_NOMEM); free only after the settle. */
aq_status aq_gptq_share_init(aq_gptq_share *s, int size, aq_err *err);
void aq_gptq_share_free(aq_gptq_share *s);
/* Starts sending hv (block 0 of shared item `item`, factorized here) to the owners of the
 * tensor's other blocks; hv must stay alive until aq_gptq_share_release() says otherwise.
 * AQ_E_NOMEM. */
aq_status aq_gptq_share_send(const aq_job *j, size_t item, const struct aq_gptq_hinv_s *hv,
                             aq_err *err);
/* The kept factorization hv leaves its slot: 1 when sends of it are in flight (the share
 * frees it when they complete), 0 when the caller frees it. */
int aq_gptq_share_release(aq_gptq_share *s, struct aq_gptq_hinv_s *hv);
/* Receives the n-column factorization of shared item `item` from block 0's owner, polling
 * for rank 0's stop request and this rank's signal.  @return : AQ_OK and *out (the caller
 * owns it); AQ_E_INTERRUPTED; AQ_E_MPI "rank R: stopped waiting ..." (abort) or a record of
 * another tensor; AQ_E_VALUE a damaged record; AQ_E_NOMEM. */
aq_status aq_gptq_share_recv(const aq_job *j, size_t item, int64_t n, struct aq_gptq_hinv_s **out,
                             aq_err *err);
/* Worker, after its loop: waits for its sends to complete unless the job is stopping. */
void aq_job_gptq_share_flush(aq_job *j);
/* Collective, after the loops, in every outcome: receives and drops what was sent and not
 * taken (a receiver that stopped), then completes every send. */
void aq_job_gptq_share_settle(aq_job *j);
/* Mixed precision under quant.budget_bits (budget.c): fills j->bits, collective. */
aq_status aq_budget_assign(aq_job *j, aq_err *err);

/* Checks a passthrough tensor for non-finite values (float dtypes).  AQ_E_VALUE naming it. */
aq_status aq_check_finite(const aq_tensor *t, aq_err *err);

/* Point-to-point protocol (result_msg.c). */
aq_status aq_send_end(MPI_Comm comm, aq_status st, const char *msg, int rank);
/* A result whose payload is still being sent (worker side); owns r until finished. */
#define AQ_PENDING_REQS 16
typedef struct {
    aq_qresult r;
    MPI_Request req[AQ_PENDING_REQS];
    int n;    /* requests in flight; 0: slot free */
    int used; /* slot holds a result */
} aq_pending;
/* Starts p->r's header and payload (MPI_Isend each: nothing blocks until rank 0 receives). */
aq_status aq_send_result_start(MPI_Comm comm, aq_pending *p, aq_err *err);
/* Waits for p's header and payload, frees p->r. */
void aq_send_result_finish(aq_pending *p);
/* Non-blocking: 1 and p->r freed if rank 0 has received all of p, else 0 (progresses MPI). */
int aq_send_result_test(aq_pending *p);
/* Receives one header from any rank into r->hdr and, for MSG_RESULT, its payload. */
aq_status aq_recv_message(MPI_Comm comm, aq_qresult *r, aq_err *err);
/* Non-blocking check for a header from any rank. */
int aq_message_waiting(MPI_Comm comm);
/* Worker side: whether rank 0 asked to stop (consumes the request). */
int aq_abort_requested(MPI_Comm comm);
void aq_send_abort(MPI_Comm comm, int to);
void aq_recv_abort(MPI_Comm comm);

/* Progress and summary (report.c). */
typedef struct {
    size_t n_total, n_done, n_quantized, n_passthrough, n_alias, n_resumed, n_fallback;
    size_t n_width[9];          /* quantized tensors per code width (fallback / budget decisions) */
    size_t n_format[AQ_QFMT_N]; /* quantized tensors per ggml block format (quant.format) */
    size_t n_format_from[AQ_QFMT_N]; /* ... of them there by the row-length fallback */
    const char *simd;                /* name of the kernel set that ran */
    size_t n_gptq;             /* quant.gptq: tensors quantized by GPTQ (the rest had no Hessian) */
    size_t n_gptq_factor;      /* Hessian factorizations made for them (all ranks) */
    const char *gptq_hessians; /* quant.gptq: the Hessian file, else NULL */
    uint64_t bytes_in, payload_bytes, q_bytes, weights_quantized;
    double sqnr_sum, sqnr_min;
    char sqnr_min_name[256];
    double t_start, t_plan, t_write, t_act;
    double t_write_pass; /* the part of t_write spent on passthrough tensors */
    double t_digest;     /* SHA-256 of the model files over the ranks, as rank 0 waited for it */
    int quiet;           /* benchmarks: count, do not print */
} aq_tally;

/* Time-aware activation set-up shared by all ranks (act_setup.c). */
typedef struct {
    int enabled;    /* calibration present (file or synthetic) */
    aq_calib *file; /* NULL for synthetic statistics */
    int T, K;
    double *w, *alphabar; /* [T] */
    int *bounds;          /* [K+1], set by the activation stage */
    const char *source;   /* "calibration" | "synthetic" */
} aq_act_setup;

/* Model-level figures of the activation stage, reduced to rank 0 (act_stage.c). */
typedef struct {
    int layers;
    double smooth_before, smooth_after; /* means over layers */
    int violations, high, medium, low;  /* after the phases */
    double jump_before, jump_after;     /* largest per-step log-scale jump, max over layers */
    double err_before, err_after;       /* sums over layers of expected error */
    int p3_iters_max, p3_converged, p3_layers;
    double p3_loss_before, p3_loss_after; /* sums over layers */
    int global_iterations;
} aq_act_summary;

/* State of one run of the job, shared by the files of src/job. */
/* This rank's share of the /source digests (digests.c), taken right after its loop. */
typedef struct {
    int done;     /* aq_job_digest_mine() ran */
    aq_status st; /* and how it went; err holds its message */
    aq_err err;
    size_t n; /* files (every rank lists all; its own have digests) */
    char **files, **hex;
    double seconds; /* this rank's hashing */
} aq_job_digest;

struct aq_job_s {
    const aq_config *cfg;
    const struct aq_job_opts_s *opts;
    MPI_Comm comm;
    int rank, size;
    aq_checkpoint *model;
    aq_plan *plan;
    aq_h5_writer *w; /* rank 0 only */
    aq_tally tally;  /* rank 0 only */
    aq_act_setup act;
    aq_act_summary act_sum; /* rank 0 only */
    double seconds_quant, seconds_send, seconds_act;
    int abort_sent;             /* rank 0: told the workers to stop */
    int abort_seen;             /* worker: consumed rank 0's stop request */
    uint8_t *done;              /* [model tensors]: complete in the partial file being resumed */
    const aq_kernels *kernels;  /* run.simd's kernel set */
    uint8_t *bits;              /* [model tensors]: widths from the budget, or NULL */
    uint8_t *formats;           /* [model tensors]: ggml formats from the budget (quant.format),
                                   0: none chosen; NULL without a budget */
    aq_kl_table kl;             /* quant.fallback_kl_path or quant.budget_kl_path, or empty */
    double budget_achieved;     /* bits/weight the budget allocation reached */
    size_t n_resumed;           /* rank 0: how many */
    struct aq_job_gptq_s *gptq; /* quant.gptq: Hessian file, opts, kept factorizations */
    aq_gptq_share *gptq_share;  /* quant.gptq: factorizations shared between ranks */
    aq_assembly *pieces;        /* rank 0: row blocks waiting for their siblings */
    FILE *trace;                /* run.trace: this rank's timeline, or NULL */
    aq_job_digest digest;       /* this rank's /source digests */
};

/* run.trace (trace.c): opens PREFIX.<rank>.tsv (none without run.trace or with --dry-run);
 * AQ_E_IO naming rank and path.  aq_job_trace() appends "seconds event tensor name bytes"
 * (tensor -1: none); a no-op without a trace file. */
aq_status aq_job_trace_open(aq_job *j, aq_err *err);
void aq_job_trace(const aq_job *j, const char *event, int64_t tensor, uint64_t bytes);
void aq_job_trace_close(aq_job *j);

/*-*********************************************
 *  The stages, one file each, called in this order by job.c (aq_job_run)
 ***********************************************/
/* Builds the plan on every rank and broadcasts rank 0's unit -> rank assignment
 * (plan_bcast.c).  AQ_E_MPI when a rank sees another model.  Collective. */
aq_status aq_job_make_plan(aq_job *j, aq_err *err);
/* Rank 0's loop: passthrough tensors, its own units, the workers' results (writer.c). */
aq_status aq_job_writer_loop(aq_job *j, aq_err *err);
/* A worker's loop: its units' tensors, streamed to rank 0, then MSG_END (worker.c). */
aq_status aq_job_worker_loop(aq_job *j, aq_err *err);
/* After the weights and the activation stage: /run figures, digests, aliases, /source, /run,
 * commit on rank 0 (finish.c).  On failure rank 0 removes the partial file.  Collective. */
aq_status aq_job_finish(aq_job *j, aq_err *err);

/* Per-rank figures for /run, gathered on rank 0 as [size][RUN_N] doubles (finish.c). */
enum { RUN_UNITS, RUN_BYTES, RUN_QUANT, RUN_SEND, RUN_TOTAL, RUN_RSS, RUN_N };
/* Rank 0: writes /run from all[size * RUN_N] and prints the summaries (run_info.c). */
aq_status aq_job_write_run(aq_job *j, const double *all, aq_err *err);
/* Rank 0: the model's aliases as links (aliases.c). */
aq_status aq_job_write_aliases(aq_job *j, aq_err *err);
/* This rank's share of the SHA-256 of the model files (largest files to the ranks with the
 * least planned work, workers before rank 0), kept in j->digest; called right after the
 * rank's loop so that early ranks hash while others compute; a no-op the second time.
 * Not collective (digests.c). */
void aq_job_digest_mine(aq_job *j);
/* Merges every rank's share on rank 0 (taking its own share first if not yet done); the
 * caller frees *files / *hex with aq_checkpoint_file_digests_free.  Collective. */
aq_status aq_job_digest_files(aq_job *j, size_t *n, char ***files, char ***hex, aq_err *err);
/* Rank 0: /source from the digests (digests.c). */
aq_status aq_job_write_source(aq_job *j, size_t n, char **files, char **hex, aq_err *err);

/* Creates the result file on rank 0, or reopens it with opts->resume, and broadcasts
 * j->done (output.c).  Collective. */
aq_status aq_job_open_output(aq_job *j, aq_err *err);
/* The signal number that asked this rank to stop, or 0. */
static inline int aq_job_stop_signal(const aq_job *j) {
    return j->opts->stop ? (int)*j->opts->stop : 0;
}

/* Opens the calibration source and computes T, w, alphabar (collective). */
aq_status aq_act_setup_open(aq_job *j, aq_err *err);
void aq_act_setup_close(aq_act_setup *a);
/* Statistics of weight `t` from the file or the synthetic generator.  AQ_OK with
 * out->T == 0 when the layer is missing and calib.missing = skip. */
aq_status aq_act_load_stats(const aq_job *j, const aq_tensor *t, aq_layer_stats *out, aq_err *err);
/* The collective activation stage after the weights: boundaries, groups, phases, /act. */
aq_status aq_act_stage(aq_job *j, aq_err *err);
void aq_report_act(const aq_act_summary *s, const aq_config *cfg, const aq_act_setup *a);

void aq_report_quantized(aq_tally *t, const aq_tensor *src, const aq_qresult *r,
                         const aq_config *cfg);
/* cfg: names quant.format's fallback to passthrough (rows no ggml block fits) on the line. */
void aq_report_passthrough(aq_tally *t, const aq_tensor *src, const aq_config *cfg, int rank);
void aq_report_plan(const aq_plan *p, const aq_checkpoint *m);
void aq_report_summary(const aq_tally *t, const aq_h5_run_info *run, const char *out_path,
                       double wall);

#endif /* AQ_JOB_INTERNAL_H */
