/*
 * aq-mpi — the main job (docs/DESIGN.md §1, §3, §5, §6.2): plan on rank 0, quantize each rank's
 * units, stream results to rank 0, write one HDF5 file.
 */
#ifndef AQ_JOB_H
#define AQ_JOB_H

#include <mpi.h>
#include <signal.h>

#include "aq/config.h"
#include "aq/error.h"
#include "aq/safetensors.h"

/*! aq_job_stats : timings of a finished run, filled on rank 0 when opts->stats is set. */
typedef struct {
    double seconds_total; /* wall seconds of aq_job_run */
    double seconds_act;   /* wall seconds of the activation stage (groups, phases, /act) */
} aq_job_stats;

typedef struct aq_job_opts_s {
    int dry_run;             /* print the plan (unit -> rank, bytes per rank) and stop */
    int plan_ranks;          /* with dry_run: plan for this many ranks (0: the comm's size) */
    const char *config_text; /* effective INI text, stored in the result's root attrs */
    int quiet;               /* no progress lines or summary (benchmarks) */
    int resume;              /* continue "<output.path>.partial" when it exists */
    /* Set to a signal number (asynchronously, by the caller's handler) to stop after the
     * tensor in flight; NULL: never stop.  Checked between tensors on every rank. */
    volatile sig_atomic_t *stop;
    aq_job_stats *stats; /* optional output (benchmarks) */
} aq_job_opts;

/*! aq_job_run() :
 *  Collective over `comm`: every rank calls it with the same config.  Rank 0 prints progress
 *  lines and the summary on stdout; no other rank prints.  The result is written to
 *  "<output.path>.partial" (flushed after every tensor) and renamed on success.  On an error
 *  the partial file is removed, except after an interruption or in resume mode.  With
 *  opts->resume, tensors already complete in the partial file are kept, not recomputed.
 *  @return : the same status on every rank; `err` holds the first failing rank's one-line
 *            message ("rank N: " prefixed for N > 0): AQ_E_IO/AQ_E_FORMAT (model or output
 *            files), AQ_E_VALUE (non-finite weights), AQ_E_HDF5, AQ_E_MPI, AQ_E_NOMEM,
 *            AQ_E_CONFIG (resume with another configuration), AQ_E_INTERRUPTED (*opts->stop). */
aq_status aq_job_run(const aq_config *cfg, const aq_job_opts *opts, MPI_Comm comm, aq_err *err);

/*! aq_job_is_quantized() :
 *  Whether tensor `t` is weight-quantized under `cfg`: a 2-D ".weight" tensor of at least one
 *  row and column; embeddings (names with "embed", "wte", "wpe") and lm_head only when
 *  quant.embeddings is true; with quant.format, only when some ggml block fits its rows
 *  (aq_qformat_fallback(): cols % 32 == 0).  Everything else is passed through bit-exact. */
int aq_job_is_quantized(const aq_tensor *t, const aq_config *cfg);

#endif /* AQ_JOB_H */
