/* /run on rank 0: the per-rank figures (units, bytes, seconds, peak RSS) gathered by
 * finish.c and the unit -> rank assignment; then the printed summaries. */
#include <stdlib.h>

#include "job_internal.h"

aq_status aq_job_write_run(aq_job *j, const double *all, aq_err *err) {
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
