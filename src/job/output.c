/* The result file on rank 0: created afresh, or reopened to resume an interrupted run; the
 * set of tensors already complete is broadcast so that every rank skips them. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aq/job.h"
#include "job_internal.h"

static void iso8601_now(char *buf, size_t n) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static aq_status create_fresh(aq_job *j, aq_err *err) {
    char created[32], producer[64];
    iso8601_now(created, sizeof created);
    snprintf(producer, sizeof producer, "aq-mpi %s", AQ_VERSION);
    aq_h5_root_info root = {.producer = producer,
                            .created = created,
                            .config_text = j->opts->config_text,
                            .source_model = j->cfg->model_path,
                            .ranks = j->size,
                            .threads = omp_get_max_threads()};
    return aq_h5_create(j->cfg->output_path, j->cfg->compression_level, &root, &j->w, err);
}

/* Marks the tensors named in `names` as done. */
static aq_status mark_done(aq_job *j, char **names, size_t n, aq_err *err) {
    for (size_t i = 0; i < n; ++i) {
        const aq_tensor *t = aq_checkpoint_find(j->model, names[i]);
        if (!t)
            return aq_err_set(err, AQ_E_FORMAT, "%s.partial: tensor %s is not in the model",
                              j->cfg->output_path, names[i]);
        for (size_t k = 0; k < aq_checkpoint_count(j->model); ++k)
            if (aq_checkpoint_tensor(j->model, k) == t) j->done[k] = 1, j->n_resumed++;
    }
    return AQ_OK;
}

static aq_status resume(aq_job *j, aq_err *err) {
    size_t n_alias = aq_checkpoint_alias_count(j->model), n = 0;
    const char **drop = malloc((n_alias + 1) * sizeof *drop);
    if (!drop) return aq_err_set(err, AQ_E_NOMEM, "resume: out of memory");
    for (size_t i = 0; i < n_alias; ++i)
        aq_checkpoint_alias(j->model, i, &drop[i], &(const char *){0});
    char **names = NULL;
    aq_status st = aq_h5_resume(j->cfg->output_path, j->cfg->compression_level,
                                j->opts->config_text, drop, n_alias, &j->w, &names, &n, err);
    free(drop);
    if (st == AQ_OK) st = mark_done(j, names, n, err);
    aq_h5_names_free(names, n);
    if (st == AQ_OK && !j->tally.quiet)
        printf("resuming %s.partial: %zu of %zu tensors already complete\n", j->cfg->output_path,
               j->n_resumed, aq_checkpoint_count(j->model));
    return st;
}

static int partial_exists(const aq_job *j) {
    char partial[AQ_PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s.partial", j->cfg->output_path);
    return access(partial, F_OK) == 0;
}

aq_status aq_job_open_output(aq_job *j, aq_err *err) {
    size_t n = aq_checkpoint_count(j->model);
    j->done = calloc(n + 1, 1);
    aq_status st = j->done ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "out of memory");
    if (st == AQ_OK && j->rank == 0) {
        if (j->opts->resume && partial_exists(j)) {
            st = resume(j, err);
        } else {
            if (j->opts->resume && !j->tally.quiet)
                printf("no %s.partial to resume: starting afresh\n", j->cfg->output_path);
            st = create_fresh(j, err);
        }
    }
    if ((st = aq_mpi_agree(j->comm, st, err)) != AQ_OK) return st;
    MPI_Bcast(j->done, (int)n, MPI_BYTE, 0, j->comm);
    return AQ_OK;
}
