/* Calibration source, time steps and time weights: the same on every rank. */
#include <stdlib.h>
#include <string.h>

#include "aq/job.h"
#include "aq/phases.h"
#include "job_internal.h"

static aq_status open_source(aq_job *j, aq_err *err) {
    const aq_config *c = j->cfg;
    aq_act_setup *a = &j->act;
    if (!c->calib_path[0]) {
        a->T = c->calib_timesteps;
        a->source = "synthetic";
        return AQ_OK;
    }
    aq_status st = aq_calib_open(c->calib_path, &a->file, err);
    if (st != AQ_OK) return st;
    a->T = aq_calib_T(a->file);
    a->source = aq_calib_is_synthetic(a->file) ? "synthetic" : "calibration";
    return AQ_OK;
}

aq_status aq_act_setup_open(aq_job *j, aq_err *err) {
    const aq_config *c = j->cfg;
    aq_act_setup *a = &j->act;
    memset(a, 0, sizeof *a);
    a->enabled = c->calib_path[0] || c->calib_synthetic;
    if (!a->enabled) return AQ_OK;
    aq_status st = open_source(j, err);
    a->K = c->tg_count;
    if (st == AQ_OK && a->K > a->T)
        st = aq_err_set(err, AQ_E_CONFIG, "timegroups.count = %d exceeds the %d time steps of %s",
                        a->K, a->T, c->calib_path[0] ? c->calib_path : "the synthetic statistics");
    if (st == AQ_OK) {
        a->w = malloc((size_t)a->T * sizeof *a->w);
        a->alphabar = malloc((size_t)a->T * sizeof *a->alphabar);
        a->bounds = malloc(((size_t)a->K + 1) * sizeof *a->bounds);
        if (!a->w || !a->alphabar || !a->bounds)
            st = aq_err_set(err, AQ_E_NOMEM, "time weights: out of memory");
    }
    if (st == AQ_OK)
        aq_time_weights(c->tg_schedule, c->tg_time_weight, a->T, c->tg_t_ref, a->w, a->alphabar);
    return aq_mpi_agree(j->comm, st, err);
}

void aq_act_setup_close(aq_act_setup *a) {
    aq_calib_close(a->file);
    free(a->w);
    free(a->alphabar);
    free(a->bounds);
    memset(a, 0, sizeof *a);
}

aq_status aq_act_load_stats(const aq_job *j, const aq_tensor *t, aq_layer_stats *out, aq_err *err) {
    int64_t rows, cols;
    aq_tensor_view(t, &rows, &cols);
    memset(out, 0, sizeof *out);
    if (!j->act.file)
        return aq_calib_synthetic(t->name, cols, j->act.T, (uint64_t)j->cfg->calib_seed, out, err);
    if (!aq_calib_has(j->act.file, t->name)) {
        if (j->cfg->calib_skip_missing) return AQ_OK; /* out->T == 0: no statistics */
        return aq_err_set(err, AQ_E_FORMAT,
                          "%s: no statistics for layer %s (set calib.missing = skip to quantize "
                          "it without)",
                          j->cfg->calib_path, t->name);
    }
    return aq_calib_load(j->act.file, t->name, cols, out, err);
}
