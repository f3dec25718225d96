/* /act records: packed on each rank, MPI_Gatherv to rank 0, written there.  A record is a
 * fixed header plus K-long and T-long arrays, the same size for every layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_internal.h"
#include "aq/job.h"

typedef struct {
    int64_t tensor;
    int32_t iters, converged, violations, high, medium, low, ran_p3, pad;
    double smooth_before, smooth_after, jump_before, jump_after, err_before, err_after;
    double loss0, loss1;
} rec_hdr;

static size_t rec_size(int K, int T) {
    return sizeof(rec_hdr) + (size_t)K * 4 * 4 + (size_t)T * 2 * 4;
}

static void pack(const aq_job *j, const layer *l, char *out) {
    int K = j->act.K, T = j->act.T, p1 = j->cfg->p1_enabled;
    rec_hdr h = {.tensor = (int64_t)l->tensor,
                 .iters = l->iters,
                 .converged = l->converged,
                 .violations = l->p1_after.violations,
                 .high = l->p1_after.high,
                 .medium = l->p1_after.medium,
                 .low = l->p1_after.low,
                 .ran_p3 = j->cfg->p3_enabled,
                 .smooth_before = p1 ? l->p1_before.smoothness : NAN,
                 .smooth_after = p1 ? l->p1_after.smoothness : NAN,
                 .jump_before = l->p2.max_jump_before,
                 .jump_after = l->p2.max_jump_after,
                 .err_before = l->err_before,
                 .err_after = l->p2.expected_err_after,
                 .loss0 = j->cfg->p3_enabled ? l->loss0 : NAN,
                 .loss1 = j->cfg->p3_enabled ? l->loss1 : NAN};
    memcpy(out, &h, sizeof h);
    float *f = (float *)(out + sizeof h);
    for (int k = 0; k < K; ++k) {
        f[k] = (float)l->g.lo[k];
        f[K + k] = (float)l->g.hi[k];
        f[2 * K + k] = (float)l->g.scale[k];
    }
    memcpy(f + 3 * K, l->g.zero, (size_t)K * sizeof(int32_t));
    memcpy(f + 4 * K, l->sched_scale, (size_t)T * sizeof(float));
    memcpy(f + 4 * K + T, l->sched_zero, (size_t)T * sizeof(float));
}

static void tally(aq_act_summary *s, const rec_hdr *h) {
    s->layers++;
    s->smooth_before += h->smooth_before;
    s->smooth_after += h->smooth_after;
    s->violations += h->violations;
    s->high += h->high;
    s->medium += h->medium;
    s->low += h->low;
    if (h->jump_before > s->jump_before) s->jump_before = h->jump_before;
    if (h->jump_after > s->jump_after) s->jump_after = h->jump_after;
    s->err_before += h->err_before;
    s->err_after += h->err_after;
    if (h->ran_p3) {
        s->p3_layers++;
        s->p3_converged += h->converged;
        if (h->iters > s->p3_iters_max) s->p3_iters_max = h->iters;
        s->p3_loss_before += h->loss0;
        s->p3_loss_after += h->loss1;
    }
}

static aq_status write_record(aq_job *j, const char *rec, aq_err *err) {
    int K = j->act.K, T = j->act.T;
    rec_hdr h;
    memcpy(&h, rec, sizeof h);
    const float *f = (const float *)(rec + sizeof h);
    aq_h5_act a = {.K = K,
                   .T = T,
                   .act_bits = j->cfg->tg_act_bits,
                   .lo = f,
                   .hi = f + K,
                   .scale = f + 2 * K,
                   .zero = (const int32_t *)(f + 3 * K),
                   .schedule_scale = f + 4 * K,
                   .schedule_zero = f + 4 * K + T,
                   .smoothness_before = h.smooth_before,
                   .smoothness_after = h.smooth_after,
                   .violations = h.violations,
                   .violations_high = h.high,
                   .violations_medium = h.medium,
                   .violations_low = h.low,
                   .max_jump_before = h.jump_before,
                   .max_jump_after = h.jump_after,
                   .expected_err_before = h.err_before,
                   .expected_err_after = h.err_after,
                   .opt_iterations = h.iters,
                   .opt_converged = h.converged,
                   .opt_initial_loss = h.loss0,
                   .opt_final_loss = h.loss1,
                   .stats_source = j->act.source};
    tally(&j->act_sum, &h);
    return aq_h5_write_act(j->w, aq_checkpoint_tensor(j->model, (size_t)h.tensor)->name, &a, err);
}

static aq_status write_timegroups(aq_job *j, aq_err *err) {
    const aq_act_setup *a = &j->act;
    static const char *const SCHED[] = {"linear", "cosine", "mask"}, *const TW[] = {"alphabar",
                                                                                    "uniform"};
    int32_t *b = malloc(((size_t)a->K + 1) * sizeof *b);
    float *w = malloc((size_t)a->T * sizeof *w), *ab = malloc((size_t)a->T * sizeof *ab);
    aq_status st = AQ_E_NOMEM;
    if (b && w && ab) {
        for (int k = 0; k <= a->K; ++k)
            b[k] = a->bounds[k];
        for (int t = 0; t < a->T; ++t)
            w[t] = (float)a->w[t], ab[t] = (float)a->alphabar[t];
        st = aq_h5_write_timegroups(j->w, a->K, b, a->T, w, ab, SCHED[j->cfg->tg_schedule],
                                    TW[j->cfg->tg_time_weight],
                                    j->cfg->tg_boundaries ? "optimized" : "uniform", err);
    } else {
        aq_err_set(err, st, "rank 0: out of memory for /timegroups");
    }
    free(b), free(w), free(ab);
    return st;
}

static aq_status write_all(aq_job *j, const char *all, int total, aq_err *err) {
    size_t r = rec_size(j->act.K, j->act.T);
    aq_status st = write_timegroups(j, err);
    for (int i = 0; i < total && st == AQ_OK; ++i)
        st = write_record(j, all + (size_t)i * r, err);
    return st;
}

aq_status aq_act_gather(aq_job *j, const layers *L, aq_err *err) {
    size_t r = rec_size(j->act.K, j->act.T);
    char *mine = malloc(L->n * r + 1);
    int n = (int)L->n, *counts = NULL, *displs = NULL, total = 0;
    char *all = NULL;
    aq_status st = mine ? AQ_OK : aq_err_set(err, AQ_E_NOMEM, "/act: out of memory");
    if (!mine) n = 0;
    for (size_t i = 0; st == AQ_OK && i < L->n; ++i)
        pack(j, &L->l[i], mine + i * r);
    if (j->rank == 0) {
        counts = calloc((size_t)j->size, sizeof *counts);
        displs = calloc((size_t)j->size, sizeof *displs);
    }
    MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, j->comm);
    if (j->rank == 0 && counts && displs) {
        for (int q = 0; q < j->size; ++q) {
            displs[q] = total * (int)r; /* records are small: int byte offsets suffice */
            total += counts[q];
            counts[q] *= (int)r;
        }
        all = malloc((size_t)total * r + 1);
    }
    MPI_Gatherv(mine, n * (int)r, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, j->comm);
    if (j->rank == 0)
        st = all ? write_all(j, all, total, err)
                 : aq_err_set(err, AQ_E_NOMEM, "rank 0: /act: out of memory");
    free(mine), free(counts), free(displs), free(all);
    return aq_mpi_agree(j->comm, st, err);
}
