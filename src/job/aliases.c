/* Tied weights: the model's aliases recorded as HDF5 links on rank 0. */
#include <stdio.h>

#include "job_internal.h"

aq_status aq_job_write_aliases(aq_job *j, aq_err *err) {
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
