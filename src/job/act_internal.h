/* Private to the activation stage (act_stage.c, act_gather.c). */
#ifndef AQ_ACT_INTERNAL_H
#define AQ_ACT_INTERNAL_H

#include "aq/phases.h"
#include "job_internal.h"

/* One quantized layer's activation work on its owner rank. */
typedef struct {
    size_t tensor;       /* model index */
    aq_layer_stats s;    /* per-step scalars only (per-channel arrays dropped) */
    aq_act_groups g0, g; /* initial (min/max) and final groups */
    aq_phase1_result p1_before, p1_after;
    aq_phase2_result p2;
    aq_phase3 *opt;
    int iters, converged; /* Phase 3 */
    double loss0, loss1;
    double err_before;               /* expected error of g0, hard switch */
    float *sched_scale, *sched_zero; /* [T] */
} layer;

typedef struct {
    size_t n;
    layer *l;
} layers;

/* Packs this rank's layers, gathers them on rank 0, which writes /act and /timegroups and
 * fills j->act_sum.  Collective. */
aq_status aq_act_gather(aq_job *j, const layers *L, aq_err *err);

#endif /* AQ_ACT_INTERNAL_H */
