/* The run lifecycle of the job (aq_job_run): kernels, model, KL table, plan, output, budget,
 * the writer/worker loops, the activation stage, finish; the stages are the other files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aq/job.h"
#include "job_internal.h"

/* run.simd's kernel set; every rank checks its own CPU. */
static aq_status select_kernels(aq_job *j, aq_err *err) {
    j->kernels = aq_kernels_select((int)j->cfg->simd);
    j->tally.simd = aq_kernels_name(j->kernels);
    aq_status st = j->kernels ? AQ_OK
                              : aq_err_set(err, AQ_E_UNSUPPORTED,
                                           "run.simd = %s: not available on this CPU or build",
                                           aq_simd_names[j->cfg->simd]);
    return aq_mpi_agree(j->comm, st, err);
}

static aq_status run_stages(aq_job *j, aq_err *err) {
    aq_status st = select_kernels(j, err);
    if (st != AQ_OK) return st;
    st = aq_checkpoint_open(j->cfg->model_path, &j->model, err);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return err->code;
    const char *kl_path =
        j->cfg->fallback_kl_path[0] ? j->cfg->fallback_kl_path : j->cfg->budget_kl_path;
    if (kl_path[0]) st = aq_kl_table_load(kl_path, &j->kl, err);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return err->code;
    if ((st = aq_job_make_plan(j, err)) != AQ_OK) return st;
    if (aq_mpi_agree(j->comm, aq_job_trace_open(j, err), err) != AQ_OK) return err->code;
    j->tally.t_plan = MPI_Wtime() - j->tally.t_start;
    if (j->opts->dry_run) {
        if (j->rank == 0) aq_report_plan(j->plan, j->model);
        return AQ_OK;
    }
    if ((st = aq_act_setup_open(j, err)) != AQ_OK) return st;
    st = aq_job_gptq_open(j->cfg, &j->gptq, err);
    if (st == AQ_OK && j->gptq) {
        j->gptq_share = calloc(1, sizeof *j->gptq_share);
        st = j->gptq_share ? aq_gptq_share_init(j->gptq_share, j->size, err)
                           : aq_err_set(err, AQ_E_NOMEM, "GPTQ: out of memory");
    }
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return err->code;
    if (j->gptq) j->tally.gptq_hessians = aq_job_gptq_path(j->gptq);
    if ((st = aq_job_open_output(j, err)) != AQ_OK) return st;
    if ((st = aq_budget_assign(j, err)) != AQ_OK) {
        if (j->rank == 0) aq_h5_abort(j->w, j->opts->resume);
        j->w = NULL;
        return st;
    }
    char widths[32];
    if (j->bits && j->rank == 0 && !j->tally.quiet && j->cfg->quant.format)
        printf("budget: %.3f bits/weight requested, %.3f allocated over ggml formats from %s up "
               "by %s\n",
               j->cfg->budget_bits, j->budget_achieved, aq_qformat_get(j->cfg->quant.format)->name,
               j->cfg->budget_kl_path[0] ? "per-layer KL per format (quant.budget_kl_path)"
                                         : "weighted relative error x weights");
    else if (j->bits && j->rank == 0 && !j->tally.quiet)
        printf("budget: %.3f bits/weight requested, %.3f allocated over %s-bit widths by %s\n",
               j->cfg->budget_bits, j->budget_achieved,
               aq_qformat_widths_text(aq_qformat_of(&j->cfg->quant), "/", widths, sizeof widths),
               j->cfg->budget_kl_path[0] ? "per-layer KL (quant.budget_kl_path)"
                                         : "weighted relative error");
    j->tally.n_total = aq_checkpoint_count(j->model);
    j->tally.n_done = j->tally.n_resumed = j->n_resumed;
    st = j->rank == 0 ? aq_job_writer_loop(j, err) : aq_job_worker_loop(j, err);
    if (j->gptq_share && j->rank != 0) aq_job_gptq_share_flush(j);
    if (st == AQ_OK && !j->abort_seen && !aq_job_stop_signal(j))
        aq_job_digest_mine(j);                      /* while slower ranks still compute */
    if (j->gptq_share) aq_job_gptq_share_settle(j); /* every shared factorization matched */
    st = aq_mpi_agree(j->comm, st, err);
    if (st != AQ_OK) {
        /* Rank 0 told every worker to stop; take the request if the loop did not. */
        if (j->rank != 0 && !j->abort_seen) aq_recv_abort(j->comm);
    } else if (j->act.enabled) {
        st = aq_act_stage(j, err);
    }
    if (st != AQ_OK) {
        /* Keep what a signal interrupted or what an earlier run left for --resume. */
        if (j->rank == 0) aq_h5_abort(j->w, st == AQ_E_INTERRUPTED || j->opts->resume);
        j->w = NULL;
        return st;
    }
    return aq_job_finish(j, err);
}

aq_status aq_job_run(const aq_config *cfg, const aq_job_opts *opts, MPI_Comm comm, aq_err *err) {
    aq_job j;
    memset(&j, 0, sizeof j);
    j.cfg = cfg;
    j.opts = opts;
    j.comm = comm;
    j.tally.t_start = MPI_Wtime();
    j.tally.quiet = opts->quiet;
    MPI_Comm_rank(comm, &j.rank);
    MPI_Comm_size(comm, &j.size);
    aq_status st = run_stages(&j, err);
    if (opts->stats) {
        opts->stats->seconds_total = MPI_Wtime() - j.tally.t_start;
        opts->stats->seconds_act = j.seconds_act;
    }
    aq_job_trace_close(&j);
    aq_checkpoint_file_digests_free(j.digest.n, j.digest.files, j.digest.hex);
    aq_act_setup_close(&j.act);
    if (j.gptq_share) aq_gptq_share_free(j.gptq_share);
    free(j.gptq_share);
    aq_job_gptq_close(j.gptq);
    free(j.done);
    free(j.bits);
    free(j.formats);
    aq_kl_table_free(&j.kl);
    aq_plan_free(j.plan);
    aq_assembly_free(j.pieces);
    aq_checkpoint_close(j.model);
    return st;
}
