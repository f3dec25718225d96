/* The collective activation stage (docs/DESIGN.md §4, §5): global time-group boundaries, per-layer
 * groups, Phase 1/3/2, then /act records gathered to rank 0.  Runs after the weights, when
 * rank 0 has stopped receiving, so its collectives cannot meet pending result messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/job.h"
#include "aq/phases.h"
#include "act_internal.h"
#include "job_internal.h"

static void layers_free(layers *L) {
    for (size_t i = 0; i < L->n; ++i) {
        aq_layer_stats_free(&L->l[i].s);
        aq_act_groups_free(&L->l[i].g0);
        aq_act_groups_free(&L->l[i].g);
        free(L->l[i].sched_scale);
        free(L->l[i].sched_zero);
    }
    free(L->l);
}

/* The quantized tensors of this rank's units that have statistics, in plan order. */
static aq_status load_layers(aq_job *j, layers *L, aq_err *err) {
    L->l = calloc(j->plan->n_tensors + 1, sizeof *L->l);
    if (!L->l) return aq_err_set(err, AQ_E_NOMEM, "activation stage: out of memory");
    for (size_t u = 0; u < j->plan->n_units; ++u) {
        const aq_unit *unit = &j->plan->units[u];
        if (unit->rank != j->rank) continue;
        for (size_t k = unit->first; k < unit->first + unit->count; ++k) {
            const aq_tensor *t = aq_checkpoint_tensor(j->model, j->plan->tensor_order[k]);
            if (!aq_job_is_quantized(t, j->cfg)) continue;
            layer *l = &L->l[L->n];
            aq_status st = aq_act_load_stats(j, t, &l->s, err);
            if (st != AQ_OK) return st;
            if (l->s.T == 0) continue; /* missing, calib.missing = skip */
            st = aq_error_model_build(&l->s, j->cfg->tg_error_model, err);
            if (st != AQ_OK) return aq_layer_stats_free(&l->s), st;
            /* Only the per-step scalars are needed from here on. */
            free(l->s.sq_mean), free(l->s.absmax), free(l->s.hist);
            l->s.sq_mean = l->s.absmax = NULL;
            l->s.hist = NULL;
            l->tensor = j->plan->tensor_order[k];
            L->n++;
        }
    }
    return AQ_OK;
}

/* Same input, same boundaries on every rank: int64 costs make the sum exact. */
static aq_status boundaries(aq_job *j, const layers *L, aq_err *err) {
    aq_act_setup *a = &j->act;
    if (j->cfg->tg_boundaries == AQ_BOUND_UNIFORM) {
        aq_boundaries_uniform(a->T, a->K, a->bounds);
        return AQ_OK;
    }
    size_t n = ((size_t)a->T + 1) * ((size_t)a->T + 1);
    int64_t *cost = calloc(n, sizeof *cost);
    aq_status st = cost ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "segment costs: out of memory");
    st = aq_mpi_agree(j->comm, st, err);
    if (st != AQ_OK) return free(cost), st;
    for (size_t i = 0; i < L->n; ++i)
        aq_segment_costs_add(&L->l[i].s, a->w, j->cfg->tg_act_bits, cost);
    MPI_Allreduce(MPI_IN_PLACE, cost, (int)n, MPI_INT64_T, MPI_SUM, j->comm);
    st = aq_boundaries_dp(cost, a->T, a->K, j->cfg->tg_min_steps, a->bounds, err);
    free(cost);
    return st;
}

static aq_status init_groups(aq_job *j, layers *L, aq_err *err) {
    const aq_act_setup *a = &j->act;
    for (size_t i = 0; i < L->n; ++i) {
        layer *l = &L->l[i];
        aq_status st = aq_act_groups_init(&l->s, a->bounds, a->K, j->cfg->tg_act_bits, &l->g0, err);
        if (st == AQ_OK)
            st = aq_act_groups_init(&l->s, a->bounds, a->K, j->cfg->tg_act_bits, &l->g, err);
        if (st != AQ_OK) return st;
        aq_phase1(&l->g0, j->cfg->p1_threshold, &l->p1_before);
        l->err_before = aq_expected_error(&l->s, a->w, &l->g0, a->bounds, NULL, NULL);
        l->sched_scale = malloc((size_t)a->T * sizeof *l->sched_scale);
        l->sched_zero = malloc((size_t)a->T * sizeof *l->sched_zero);
        if (!l->sched_scale || !l->sched_zero)
            return aq_err_set(err, AQ_E_NOMEM, "activation schedules: out of memory");
    }
    return AQ_OK;
}

/* Phase 3: per-layer optimisation, global stop (docs/DESIGN.md §5).  Each layer stops on its own
 * criterion, so its result does not depend on which rank it ran on; the Allreduce makes
 * every rank run the same number of outer iterations. */
static aq_status phase3(aq_job *j, layers *L, int *global_iters, aq_err *err) {
    const aq_config *c = j->cfg;
    aq_phase3_params p = {c->p3_markov_weight, c->p3_entropy_weight, c->p3_learning_rate,
                          c->p3_convergence,   c->p3_grad_clip,      c->p3_max_iterations};
    aq_status st = AQ_OK;
    for (size_t i = 0; i < L->n && st == AQ_OK; ++i) {
        L->l[i].opt = aq_phase3_create(&L->l[i].g, j->act.bounds, &L->l[i].s, j->act.w, &p);
        if (!L->l[i].opt) st = aq_err_set(err, AQ_E_NOMEM, "phase 3: out of memory");
    }
    st = aq_mpi_agree(j->comm, st, err);
    int cap = c->p3_max_iterations + 1; /* every layer stops by then; a guard, not a rule */
    for (int any = st == AQ_OK; any && *global_iters < cap; ++*global_iters) {
        int changed = 0;
        double loss = 0.0;
        for (size_t i = 0; i < L->n; ++i) {
            int ch = 0;
            loss += aq_phase3_step(L->l[i].opt, &ch);
            changed |= ch;
        }
        MPI_Allreduce(MPI_IN_PLACE, &loss, 1, MPI_DOUBLE, MPI_SUM, j->comm);
        MPI_Allreduce(&changed, &any, 1, MPI_INT, MPI_LOR, j->comm);
    }
    for (size_t i = 0; i < L->n; ++i) {
        layer *l = &L->l[i];
        if (l->opt) aq_phase3_finish(l->opt, &l->g, &l->iters, &l->converged, &l->loss0, &l->loss1);
        l->opt = NULL;
    }
    return st;
}

static void schedules(aq_job *j, layers *L) {
    const aq_config *c = j->cfg;
    const aq_act_setup *a = &j->act;
    /* Without Phase 2 the schedule is the hard switch: window 0 is not a valid window,
     * so the group value is written per step here. */
    for (size_t i = 0; i < L->n; ++i) {
        layer *l = &L->l[i];
        if (c->p2_enabled) {
            aq_phase2(&l->g, a->bounds, a->T, c->p2_method, c->p2_window, &l->s, a->w,
                      l->sched_scale, l->sched_zero, &l->p2);
        } else {
            for (int k = 0; k < a->K; ++k)
                for (int t = a->bounds[k]; t < a->bounds[k + 1]; ++t) {
                    l->sched_scale[t] = (float)l->g.scale[k];
                    l->sched_zero[t] = (float)l->g.zero[k];
                }
            l->p2.expected_err_before = l->p2.expected_err_after =
                aq_expected_error(&l->s, a->w, &l->g, a->bounds, NULL, NULL);
            l->p2.max_jump_before = l->p2.max_jump_after = NAN;
        }
        aq_phase1(&l->g, c->p1_threshold, &l->p1_after);
    }
}

aq_status aq_act_stage(aq_job *j, aq_err *err) {
    double t0 = MPI_Wtime();
    layers L = {0, NULL};
    int iters = 0;
    aq_status st = load_layers(j, &L, err);
    st = aq_mpi_agree(j->comm, st, err);
    if (st == AQ_OK) st = aq_mpi_agree(j->comm, boundaries(j, &L, err), err);
    if (st == AQ_OK) st = aq_mpi_agree(j->comm, init_groups(j, &L, err), err);
    if (st == AQ_OK && j->cfg->p3_enabled) st = phase3(j, &L, &iters, err);
    if (st == AQ_OK) {
        schedules(j, &L);
        j->act_sum.global_iterations = iters;
        j->seconds_act = MPI_Wtime() - t0;
        j->tally.t_act = j->seconds_act;
        st = aq_act_gather(j, &L, err);
    }
    layers_free(&L);
    return st;
}
