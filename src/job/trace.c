/* run.trace: a per-rank timeline of the job's events (compute, send, wait, receive, store,
 * digests), one tab-separated line each, for finding where ranks wait on each other.  This is
 * how the Dream-7B send wait of docs/SCALING.md §5d was found; now it is a config key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "job_internal.h"

aq_status aq_job_trace_open(aq_job *j, aq_err *err) {
    j->trace = NULL;
    if (!j->cfg->trace_prefix[0] || j->opts->dry_run) return AQ_OK;
    char path[AQ_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s.%d.tsv", j->cfg->trace_prefix, j->rank);
    j->trace = fopen(path, "w");
    if (!j->trace)
        return aq_err_set(err, AQ_E_IO, "run.trace: rank %d cannot write %s: %s", j->rank, path,
                          strerror(errno));
    setvbuf(j->trace, NULL, _IOLBF, 0); /* whole lines on disk: a killed or hung run keeps its
                                           timeline, and it can be watched while it runs */
    fprintf(j->trace,
            "# aq-mpi timeline, rank %d of %d: seconds since the job started, event, tensor "
            "index (-1: none), tensor name, bytes\n",
            j->rank, j->size);
    return AQ_OK;
}

void aq_job_trace(const aq_job *j, const char *event, int64_t tensor, uint64_t bytes) {
    if (!j->trace) return;
    const char *name = tensor >= 0 && (size_t)tensor < aq_checkpoint_count(j->model)
                           ? aq_checkpoint_tensor(j->model, (size_t)tensor)->name
                           : "-";
    fprintf(j->trace, "%.6f\t%s\t%lld\t%s\t%llu\n", MPI_Wtime() - j->tally.t_start, event,
            (long long)tensor, name, (unsigned long long)bytes);
}

void aq_job_trace_close(aq_job *j) {
    if (j->trace) fclose(j->trace);
    j->trace = NULL;
}
