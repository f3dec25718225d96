/* The main job: open, plan, quantize and stream to rank 0, write, commit. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "aq/job.h"
#include "job_internal.h"

/* ---- rank 0: writing ---------------------------------------------------------------- */

static void abort_workers(aq_job *j) {
    if (j->abort_sent) return;
    j->abort_sent = 1;
    for (int r = 1; r < j->size; ++r)
        aq_send_abort(j->comm, r);
}

static aq_status write_result(aq_job *j, const aq_qresult *r, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, (size_t)r->hdr.tensor);
    aq_quant_params p = j->cfg->quant;
    p.bits = r->hdr.bits;
    aq_h5_quantized q = {.ndim = t->ndim,
                         .shape = t->shape,
                         .orig_dtype = t->dtype,
                         .rows = r->hdr.rows,
                         .cols = r->hdr.cols,
                         .params = p,
                         .codes = r->codes,
                         .scale = r->scale,
                         .min = r->min,
                         .sub = r->sub,
                         .metrics = r->hdr.metrics,
                         .fallback_from_bits = r->hdr.from_bits,
                         .fallback_from_err = r->hdr.from_err,
                         .fallback_from_kl = r->hdr.from_kl};
    double t0 = MPI_Wtime();
    aq_status st = aq_h5_write_quantized(j->w, t->name, &q, err);
    if (st == AQ_OK) st = aq_h5_flush(j->w, err); /* a resumable partial if we die later */
    j->tally.t_write += MPI_Wtime() - t0;
    if (st == AQ_OK) aq_report_quantized(&j->tally, t, r, j->cfg);
    return st;
}

static aq_status write_passthrough(aq_job *j, const aq_tensor *t, aq_err *err) {
    aq_status st = aq_check_finite(t, err);
    if (st != AQ_OK) return st;
    double t0 = MPI_Wtime();
    st = aq_h5_write_passthrough(j->w, t->name, t->dtype, t->ndim, t->shape, t->data, err);
    aq_tensor_release(t);
    if (st == AQ_OK) st = aq_h5_flush(j->w, err);
    j->tally.t_write += MPI_Wtime() - t0;
    if (st == AQ_OK) aq_report_passthrough(&j->tally, t);
    return st;
}

/* The message a user reads after SIGUSR1/SIGTERM, whichever rank saw it first. */
static aq_status interrupted(aq_job *j, const char *where, aq_err *err) {
    return aq_err_set(err, AQ_E_INTERRUPTED,
                      "interrupted by %s after %zu of %zu tensors; %s.partial kept: run the "
                      "same job again with --resume",
                      where, j->tally.n_done, j->tally.n_total, j->cfg->output_path);
}

static aq_status interrupted_here(aq_job *j, aq_err *err) {
    char where[64];
    snprintf(where, sizeof where, "signal %d", aq_job_stop_signal(j));
    return interrupted(j, where, err);
}

/* Handles one incoming message; records the first failure in *st / err. */
static void handle_message(aq_job *j, int *ends, aq_status *st, aq_err *err) {
    aq_qresult r;
    aq_err tmp = {0};
    aq_status rs = aq_recv_message(j->comm, &r, &tmp);
    if (rs == AQ_OK && r.hdr.kind == MSG_END) {
        ++*ends;
        rs = (aq_status)r.hdr.status;
        if (rs == AQ_E_INTERRUPTED)
            interrupted(j, r.hdr.msg, &tmp);
        else if (rs != AQ_OK)
            aq_err_set(&tmp, rs, "%s", r.hdr.msg);
    } else if (rs == AQ_OK && *st == AQ_OK) {
        rs = write_result(j, &r, &tmp);
    }
    aq_qresult_free(&r);
    if (rs != AQ_OK && *st == AQ_OK) {
        *st = rs;
        *err = tmp;
        abort_workers(j);
    }
}

static void drain(aq_job *j, int *ends, int blocking, aq_status *st, aq_err *err) {
    while (*ends < j->size - 1 && (blocking || aq_message_waiting(j->comm)))
        handle_message(j, ends, st, err);
}

static aq_status own_tensor(aq_job *j, size_t index, int owner, aq_err *err) {
    const aq_tensor *t = aq_checkpoint_tensor(j->model, index);
    if (!aq_job_is_quantized(t, j->cfg)) return write_passthrough(j, t, err);
    if (owner != 0) return AQ_OK;
    aq_qresult r;
    aq_status st = aq_qresult_compute(j, (int64_t)index, &r, err);
    if (st != AQ_OK) return st;
    j->seconds_quant += r.hdr.seconds;
    st = write_result(j, &r, err);
    aq_qresult_free(&r);
    return st;
}

static aq_status writer_loop(aq_job *j, aq_err *err) {
    aq_status st = AQ_OK;
    int ends = 0;
    for (size_t u = 0; u < j->plan->n_units && st == AQ_OK; ++u) {
        const aq_unit *unit = &j->plan->units[u];
        for (size_t k = unit->first; k < unit->first + unit->count && st == AQ_OK; ++k) {
            size_t index = j->plan->tensor_order[k];
            if (j->done[index]) continue;
            st = aq_job_stop_signal(j) ? interrupted_here(j, err)
                                       : own_tensor(j, index, unit->rank, err);
            if (st != AQ_OK) abort_workers(j);
            drain(j, &ends, 0, &st, err);
        }
    }
    drain(j, &ends, 1, &st, err);
    return st;
}

/* ---- workers -------------------------------------------------------------------------- */

/* Two results may be in flight: the worker computes the next tensor while rank 0 receives
 * the previous one, and memory stays bounded (two results). */
#define AQ_IN_FLIGHT 2

static void finish_slot(aq_job *j, aq_pending *p) {
    if (!p->used) return;
    double t0 = MPI_Wtime();
    aq_send_result_finish(p);
    j->seconds_send += MPI_Wtime() - t0;
    p->used = 0;
}

static aq_status worker_tensor(aq_job *j, size_t index, aq_pending *slots, int *next, aq_err *err) {
    aq_pending *p = &slots[*next];
    finish_slot(j, p); /* the oldest result must be out before its slot is reused */
    aq_status st = aq_qresult_compute(j, (int64_t)index, &p->r, err);
    if (st != AQ_OK) return st;
    j->seconds_quant += p->r.hdr.seconds;
    p->used = 1;
    double t0 = MPI_Wtime();
    st = aq_send_result_start(j->comm, p, err);
    j->seconds_send += MPI_Wtime() - t0;
    *next = (*next + 1) % AQ_IN_FLIGHT;
    return st;
}

static aq_status worker_loop(aq_job *j, aq_err *err) {
    aq_status st = AQ_OK;
    aq_pending slots[AQ_IN_FLIGHT];
    int next = 0;
    memset(slots, 0, sizeof slots);
    for (size_t u = 0; u < j->plan->n_units && st == AQ_OK && !j->abort_seen; ++u) {
        const aq_unit *unit = &j->plan->units[u];
        if (unit->rank != j->rank) continue;
        for (size_t k = unit->first; k < unit->first + unit->count && st == AQ_OK; ++k) {
            size_t index = j->plan->tensor_order[k];
            if (j->done[index] ||
                !aq_job_is_quantized(aq_checkpoint_tensor(j->model, index), j->cfg))
                continue;
            if ((j->abort_seen = aq_abort_requested(j->comm))) break;
            if (aq_job_stop_signal(j)) {
                st = aq_err_set(err, AQ_E_INTERRUPTED, "signal %d on rank %d",
                                aq_job_stop_signal(j), j->rank);
                break;
            }
            st = worker_tensor(j, index, slots, &next, err);
        }
    }
    for (int k = 0; k < AQ_IN_FLIGHT; ++k)
        finish_slot(j, &slots[k]); /* before END */
    if (st != AQ_OK && strncmp(err->msg, "rank ", 5) != 0) {
        aq_err pre = *err;
        aq_err_set(err, pre.code, "rank %d: %s", j->rank, pre.msg);
    }
    aq_send_end(j->comm, st, st != AQ_OK ? err->msg : NULL, j->rank);
    return st;
}

/* ---- set-up and finish ---------------------------------------------------------------- */

static int is_work(const aq_tensor *t, const void *cfg) {
    return aq_job_is_quantized(t, cfg);
}

static aq_status make_plan(aq_job *j, aq_err *err) {
    aq_status st = aq_plan_build(j->model, j->size, is_work, j->cfg, &j->plan, err);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return err->code;
    /* Rank 0's partition is the plan; the others check they see the same model. */
    long n = (long)j->plan->n_units;
    MPI_Bcast(&n, 1, MPI_LONG, 0, j->comm);
    int *owner = malloc((j->plan->n_units + 1) * sizeof *owner);
    st = owner ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "plan: out of memory");
    if (st == AQ_OK && n != (long)j->plan->n_units)
        st = aq_err_set(err, AQ_E_MPI, "model has %zu units here but %ld on rank 0",
                        j->plan->n_units, n);
    if (aq_mpi_agree(j->comm, st, err) != AQ_OK) return free(owner), err->code;
    for (size_t i = 0; i < j->plan->n_units; ++i)
        owner[i] = j->plan->units[i].rank;
    MPI_Bcast(owner, (int)n, MPI_INT, 0, j->comm);
    st = aq_plan_assign(j->plan, owner, err);
    free(owner);
    return aq_mpi_agree(j->comm, st, err);
}

/* Per-rank figures for /run, gathered on rank 0. */
enum { RUN_UNITS, RUN_BYTES, RUN_QUANT, RUN_SEND, RUN_TOTAL, RUN_RSS, RUN_N };

static aq_status write_run(aq_job *j, double *all, aq_err *err) {
    int n = j->size;
    int32_t *units = malloc((size_t)n * sizeof *units), *unit_rank = NULL;
    int64_t *bytes = malloc((size_t)n * sizeof *bytes), *rss = malloc((size_t)n * sizeof *rss);
    double *sq = malloc((size_t)n * 3 * sizeof *sq);
    const char **names = malloc((j->plan->n_units + 1) * sizeof *names);
    unit_rank = malloc((j->plan->n_units + 1) * sizeof *unit_rank);
    aq_status st = AQ_E_NOMEM;
    if (units && bytes && rss && sq && names && unit_rank) {
        for (int r = 0; r < n; ++r) {
            units[r] = (int32_t)all[r * RUN_N + RUN_UNITS];
            bytes[r] = (int64_t)all[r * RUN_N + RUN_BYTES];
            rss[r] = (int64_t)all[r * RUN_N + RUN_RSS];
            for (int k = 0; k < 3; ++k)
                sq[k * n + r] = all[r * RUN_N + RUN_QUANT + k];
        }
        for (size_t u = 0; u < j->plan->n_units; ++u) {
            names[u] = j->plan->units[u].name;
            unit_rank[u] = j->plan->units[u].rank;
        }
        aq_h5_run_info run = {.ranks = n,
                              .units = units,
                              .bytes = bytes,
                              .seconds_quant = sq,
                              .seconds_send = sq + n,
                              .seconds_total = sq + 2 * n,
                              .peak_rss = rss,
                              .n_units = (int)j->plan->n_units,
                              .unit_names = names,
                              .unit_rank = unit_rank};
        st = aq_h5_write_run(j->w, &run, err);
        if (st == AQ_OK && j->act.enabled && !j->tally.quiet)
            aq_report_act(&j->act_sum, j->cfg, &j->act);
        if (st == AQ_OK && !j->tally.quiet)
            aq_report_summary(&j->tally, &run, j->cfg->output_path, MPI_Wtime() - j->tally.t_start);
    } else {
        aq_err_set(err, st, "rank 0: out of memory for /run");
    }
    free(units);
    free(bytes);
    free(rss);
    free(sq);
    free(names);
    free(unit_rank);
    return st;
}

static aq_status write_aliases(aq_job *j, aq_err *err) {
    for (size_t i = 0; i < aq_checkpoint_alias_count(j->model); ++i) {
        const char *name, *target;
        aq_checkpoint_alias(j->model, i, &name, &target);
        aq_status st = aq_h5_write_alias(j->w, name, target, err);
        if (st != AQ_OK) return st;
        j->tally.n_alias++;
        if (!j->tally.quiet) printf("[alias] %s -> %s\n", name, target);
    }
    return AQ_OK;
}

/* The SHA-256 of the model files, shared out over the ranks (file i on rank i % size) and
 * merged on rank 0: the digest strings of the other ranks are empty, so a bitwise OR of the
 * 65-byte slots assembles them.  Collective. */
static aq_status digest_files(aq_job *j, size_t *n, char ***files, char ***hex, aq_err *err) {
    aq_status st = aq_checkpoint_file_digests(j->cfg->model_path, j->model, j->rank, j->size, n,
                                              files, hex, err);
    if ((st = aq_mpi_agree(j->comm, st, err)) != AQ_OK) return st;
    unsigned char *buf = calloc(*n * 65 + 1, 1);
    st = aq_mpi_agree(j->comm, buf ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "digests: out of memory"),
                      err);
    if (st != AQ_OK) return free(buf), st;
    for (size_t i = 0; i < *n; ++i)
        memcpy(buf + 65 * i, (*hex)[i], 65);
    MPI_Reduce(j->rank == 0 ? MPI_IN_PLACE : buf, buf, (int)(*n * 65), MPI_BYTE, MPI_BOR, 0,
               j->comm);
    for (size_t i = 0; j->rank == 0 && i < *n; ++i)
        memcpy((*hex)[i], buf + 65 * i, 65);
    free(buf);
    return AQ_OK;
}

/* /source: SHA-256 of every model file, so users can tell which model a result came from. */
static aq_status write_source(aq_job *j, size_t n, char **files, char **hex, aq_err *err) {
    return aq_h5_write_source_digests(j->w, n, (const char *const *)files, (const char *const *)hex,
                                      err);
}

static aq_status finish(aq_job *j, aq_err *err) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mine[RUN_N] = {j->plan->rank_units[j->rank],
                          (double)j->plan->rank_bytes[j->rank],
                          j->seconds_quant,
                          j->seconds_send,
                          MPI_Wtime() - j->tally.t_start,
                          (double)ru.ru_maxrss * 1024.0};
    double *all = j->rank == 0 ? malloc((size_t)j->size * RUN_N * sizeof *all) : NULL;
    MPI_Gather(mine, RUN_N, MPI_DOUBLE, all, RUN_N, MPI_DOUBLE, 0, j->comm);
    size_t nf = 0;
    char **files = NULL, **hex = NULL;
    aq_status st = digest_files(j, &nf, &files, &hex, err);
    if (st != AQ_OK) {
        if (j->rank == 0) aq_h5_abort(j->w, 0);
        j->w = NULL;
        free(all);
        aq_checkpoint_file_digests_free(nf, files, hex);
        return st;
    }
    if (j->rank == 0) {
        st = all ? write_aliases(j, err) : aq_err_set(err, AQ_E_NOMEM, "rank 0: out of memory");
        if (st == AQ_OK) st = write_source(j, nf, files, hex, err);
        if (st == AQ_OK) st = write_run(j, all, err);
        if (st == AQ_OK)
            st = aq_h5_commit(j->w, err);
        else
            aq_h5_abort(j->w, 0);
        j->w = NULL;
        free(all);
    }
    aq_checkpoint_file_digests_free(nf, files, hex);
    return aq_mpi_agree(j->comm, st, err);
}

/* run.simd's kernel set; every rank checks its own CPU. */
static aq_status select_kernels(aq_job *j, aq_err *err) {
    static const char *const NAMES[] = {"auto", "scalar", "avx2", "avx512"};
    j->kernels = aq_kernels_select((int)j->cfg->simd);
    j->tally.simd = aq_kernels_name(j->kernels);
    aq_status st = j->kernels ? AQ_OK
                              : aq_err_set(err, AQ_E_UNSUPPORTED,
                                           "run.simd = %s: not available on this CPU or build",
                                           NAMES[j->cfg->simd]);
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
    if ((st = make_plan(j, err)) != AQ_OK) return st;
    j->tally.t_plan = MPI_Wtime() - j->tally.t_start;
    if (j->opts->dry_run) {
        if (j->rank == 0) aq_report_plan(j->plan, j->model);
        return AQ_OK;
    }
    if ((st = aq_act_setup_open(j, err)) != AQ_OK) return st;
    if ((st = aq_job_open_output(j, err)) != AQ_OK) return st;
    if ((st = aq_budget_assign(j, err)) != AQ_OK) {
        if (j->rank == 0) aq_h5_abort(j->w, j->opts->resume);
        j->w = NULL;
        return st;
    }
    if (j->bits && j->rank == 0 && !j->tally.quiet)
        printf("budget: %.3f bits/weight requested, %.3f allocated over %s-bit widths by %s\n",
               j->cfg->budget_bits, j->budget_achieved,
               j->cfg->quant.scale_dtype == AQ_SCALE_DQ ? "2/3/4/8" : "2/4/8",
               j->cfg->budget_kl_path[0] ? "per-layer KL (quant.budget_kl_path)"
                                         : "weighted relative error");
    j->tally.n_total = aq_checkpoint_count(j->model);
    j->tally.n_done = j->tally.n_resumed = j->n_resumed;
    st = j->rank == 0 ? writer_loop(j, err) : worker_loop(j, err);
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
    return finish(j, err);
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
    aq_act_setup_close(&j.act);
    free(j.done);
    free(j.bits);
    aq_kl_table_free(&j.kl);
    aq_plan_free(j.plan);
    aq_checkpoint_close(j.model);
    return st;
}
