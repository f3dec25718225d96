/*
 * aq-mpi — the work plan: tensors -> units -> ranks (docs/DESIGN.md §1).
 *
 * A unit is one transformer block (every tensor named "<prefix>.layers.<N>.*" or
 * "<prefix>.h.<N>.*"), or one tensor outside the blocks (embeddings, final norm, lm_head).
 * Units are ordered as the network runs: embeddings, blocks by N, other tensors, lm_head.
 * Units are assigned to ranks contiguously (unit i and i+1 on the same or neighbouring
 * ranks), minimising the largest per-rank byte count; see aq_plan_partition().
 */
#ifndef AQ_PLAN_H
#define AQ_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "aq/error.h"
#include "aq/safetensors.h"

typedef struct {
    char name[256];      /* "model.layers.3" or the tensor name */
    uint64_t bytes;      /* source bytes of its tensors */
    uint64_t work_bytes; /* source bytes of the tensors the owner processes (balanced) */
    size_t first, count; /* its tensors: tensor_order[first .. first+count) */
    int rank;            /* owner */
} aq_unit;

typedef struct {
    size_t n_units;
    aq_unit *units;
    size_t n_tensors;
    size_t *tensor_order; /* model tensor indices (aq_checkpoint_tensor) in unit order */
    int n_ranks;
    uint64_t *rank_bytes; /* [n_ranks] work bytes */
    int *rank_units;      /* [n_ranks] */
} aq_plan;

/*! aq_plan_partition() :
 *  Contiguous partition of `n` units with sizes `bytes[n]` over `ranks` ranks: minimises the
 *  largest rank total (binary search on the capacity, greedy fill), and when ranks <= n gives
 *  every rank at least one unit.  With more ranks than units, unit i goes to rank i and the
 *  remaining ranks are idle.  Writes owner[i] in 0..ranks-1, non-decreasing.
 *  Deterministic: a pure function of its inputs.  n = 0 is valid. */
void aq_plan_partition(const uint64_t *bytes, size_t n, int ranks, int *owner);

/*! aq_plan_is_work : whether the owner rank processes tensor `t` (the rest is handled by
 *  rank 0, e.g. passed through).  Only work bytes are balanced. */
typedef int (*aq_plan_is_work)(const aq_tensor *t, const void *ctx);

/*! aq_plan_build() :
 *  Groups the model's tensors into units, orders them and partitions their work bytes
 *  (tensors for which `is_work(t, ctx)` is true; all tensors when `is_work` is NULL) over
 *  `ranks`.
 *  @return : AQ_OK and *out (free with aq_plan_free), AQ_E_CONFIG for ranks < 1, AQ_E_NOMEM. */
aq_status aq_plan_build(const aq_checkpoint *m, int ranks, aq_plan_is_work is_work, const void *ctx,
                        aq_plan **out, aq_err *err);

/*! aq_plan_assign() : re-assigns units from `owner[n_units]` (as broadcast by rank 0) and
 *  recomputes the per-rank totals.  @return : AQ_OK or AQ_E_MPI if an owner is out of range. */
aq_status aq_plan_assign(aq_plan *p, const int *owner, aq_err *err);

/*! aq_plan_free() : NULL is a no-op. */
void aq_plan_free(aq_plan *p);

#endif /* AQ_PLAN_H */
