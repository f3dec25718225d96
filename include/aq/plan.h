/*
 * aq-mpi — the work plan: tensors -> units -> ranks (docs/DESIGN.md §1).
 *
 * A unit is one transformer block (every tensor named "<prefix>.layers.<N>.*" or
 * "<prefix>.h.<N>.*"), or one tensor outside the blocks (embeddings, final norm, lm_head).
 * Units are ordered as the network runs: embeddings, blocks by N, other tensors, lm_head.
 * Units are assigned to ranks contiguously (unit i and i+1 on the same or neighbouring
 * ranks), minimising the largest per-rank byte count; see aq_plan_partition().  That unit
 * partition serves the per-unit stages (activation statistics, budget measurement).  The
 * weights are quantized by plan *items* (aq_plan_shard(): whole units, tensors, row blocks),
 * cut contiguously at each rank's share of the work bytes (aq_plan_split()), or for GPTQ
 * spread over the ranks by estimated time (aq_plan_spread()).
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

/* An item of the weight plan (issue 16, row-sharding): what one rank quantizes in one go.
 * Either a whole unit (count tensors, n_blocks = 1), one tensor of a unit that crosses a
 * rank's share (count = 1, n_blocks = 1), or one row block [row0, row1) of a tensor cut at a
 * share's end (count = 1, block b of n_blocks > 1); see aq_plan_split(). */
typedef struct {
    size_t unit;         /* the unit it comes from */
    size_t first, count; /* its tensors: tensor_order[first .. first+count) */
    int64_t row0, row1;  /* n_blocks > 1: its rows of the tensor; else 0, 0 (all) */
    int block, n_blocks; /* block index, blocks of the tensor (1: the tensor is whole) */
    uint64_t work_bytes; /* source bytes it quantizes */
    int rank;            /* owner */
    int shared;          /* a block of a tensor whose blocks share one factorization (GPTQ,
                            aq_plan_spread): block 0's owner makes it and sends it to the
                            owners of the others, which are neither rank 0 nor that owner */
    uint64_t cost;       /* what the plan balanced for it: work bytes, or the aq_plan_cost
                            estimate (a shared block 0 with the factorization) */
} aq_plan_item;

typedef struct {
    size_t n_units;
    aq_unit *units;
    size_t n_items;      /* weight quantization: items in plan order (aq_plan_shard) */
    aq_plan_item *items; /* one per unit until aq_plan_shard() splits them */
    int sharded;         /* aq_plan_shard() made the items (aq_plan_assign() then leaves
                            them and rank_bytes alone) */
    int by_cost;         /* aq_plan_shard() balanced an aq_plan_cost instead of work bytes */
    int spread;          /* ... with aq_plan_spread() (owners not contiguous) */
    size_t n_tensors;
    size_t *tensor_order; /* model tensor indices (aq_checkpoint_tensor) in unit order */
    int n_ranks;
    uint64_t *rank_bytes; /* [n_ranks] work bytes of the items each rank owns */
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
 *  recomputes the per-rank totals (rank_bytes and the items only while they are the units). @return
 * : AQ_OK or AQ_E_MPI if an owner is out of range. */
aq_status aq_plan_assign(aq_plan *p, const int *owner, aq_err *err);

/* One tensor as aq_plan_split() sees it. */
typedef struct {
    uint64_t work;   /* work bytes (0: not balanced, e.g. passed through by rank 0) */
    uint64_t cost;   /* what is balanced: the work bytes, or an estimate of the time (GPTQ) */
    int64_t rows;    /* shape[0] (1 for a scalar) */
    int64_t granule; /* rows per cut (every block boundary a multiple of it); 0: stays whole */
    uint64_t head;   /* part of cost paid once by whoever holds the first rows (a GPTQ
                        factorization, shared with the other blocks' owners); split keeps
                        such a piece whole */
    uint64_t each;   /* part of cost every item of it pays again (a GPTQ factorization each
                        block's owner makes itself); aq_plan_spread() only */
} aq_plan_piece;

/*! aq_plan_split() :
 *  The row-sharded plan's cut (pure; the core of aq_plan_shard()).  pieces[] are the tensors
 *  in plan order, grouped into n_units consecutive units: unit u is pieces[unit_first[u] ..
 *  unit_first[u] + unit_count[u]), the units covering the pieces in order.  Contiguous in
 *  plan order, balancing the pieces' cost (proportional to rows within a tensor):
 *  1. the capacity C: the smallest largest-rank total for which packing every rank up to C
 *     (cutting cuttable tensors where C ends) needs at most `ranks` ranks (binary search; C
 *     is at least the mean, every uncuttable piece and one granule of every cuttable one);
 *  2. the items: rank r aims at an even share of what is left (its start plus the remaining
 *     cost over the remaining ranks).  A unit ending by that target is one item; one crossing
 *     it becomes one item per tensor; a tensor crossing it is cut into row blocks at the
 *     granule multiple nearest each target (an empty rank takes at least one granule), or,
 *     when it may not be cut (granule 0, fewer than two granules, work not a whole number of
 *     bytes per row, cost under one per row), goes whole to the side where most of it lies.
 *     A choice is taken only if the rest still fits the remaining ranks at C, else the
 *     packing choice (which always does): no rank exceeds C.
 *  Owners are non-decreasing in plan order.  out: room for sum(unit_count) + ranks items, or
 *  NULL to count; items as in aq_plan_item with `first` an index into pieces, `rank` set and
 *  work_bytes in bytes (row blocks: bytes per row x rows, the remainder to the last block).
 *  ranks < 1 counts as 1.
 *  @return : the number of items. */
size_t aq_plan_split(const aq_plan_piece *pieces, const size_t *unit_first,
                     const size_t *unit_count, size_t n_units, int ranks, aq_plan_item *out);

/* At most this many blocks of a piece with a head: each other block's owner receives the
 * whole factorization (1.4 GB for Dream 7B's down_proj). */
#define AQ_PLAN_SHARED_BLOCKS 4

/*! aq_plan_spread() :
 *  The row-sharded plan for a cost far from proportional to bytes (GPTQ: a tensor's update
 *  pass grows with cols^2 and a tensor with more columns than rows must stay whole, so the
 *  contiguous split of aq_plan_split() would put two of the heaviest tensors and everything
 *  between them on one rank).  Pure; pieces and units as for aq_plan_split().  Items: one per
 *  tensor, a cuttable tensor (as for aq_plan_split()) of more than a quarter of the mean rank
 *  cost cut into n = min(ceil(cost / (mean / 4)), rows / granule, 4 x ranks) row blocks at the
 *  granule multiples nearest b x rows / n; in plan order.  A piece with a head (shared
 *  factorization) is cut into at most AQ_PLAN_SHARED_BLOCKS blocks and only with at least 3
 *  ranks: block 0 costs head + its rows' share of the rest, the others their rows' share;
 *  they are marked `shared` and their owners avoid rank 0 (which stores every result and must
 *  not wait) and block 0's owner.  Owners: longest processing time
 *  first (Graham 1969: the costliest item first, each to the least loaded rank, ties to the
 *  lowest rank; at most 4/3 of the optimal largest total), so owners are not contiguous.
 *  out NULL: only *n, the number of items; else out[*n] filled (count first).
 *  @return : AQ_OK; AQ_E_NOMEM. */
aq_status aq_plan_spread(const aq_plan_piece *pieces, const size_t *unit_first,
                         const size_t *unit_count, size_t n_units, int ranks, aq_plan_item *out,
                         size_t *n, aq_err *err);

/*! aq_plan_granule : the row granularity at which tensor t may be cut (every block boundary
 *  a multiple of it), or 0 when it must stay whole. */
typedef int64_t (*aq_plan_granule)(const aq_tensor *t, const void *ctx);

/*! aq_plan_cost : the balance weight of work tensor `t`, in one unit for every tensor of the
 *  model (e.g. estimated nanoseconds); used instead of its work bytes.  *head, *each (set to 0
 *  by the caller): the parts a cut tensor pays once, on its first block, or on every block
 *  (aq_plan_piece.head, .each; both included in the returned cost). */
typedef uint64_t (*aq_plan_cost)(const aq_tensor *t, const void *ctx, uint64_t *head,
                                 uint64_t *each);

/*! aq_plan_shard() :
 *  Row-sharding (issue 16): rebuilds p's items from its units for `m` (the model p was built
 *  from) over p->n_ranks: work bytes from is_work (as for aq_plan_build()), rows = shape[0],
 *  granule(t, ctx) (NULL: no tensor is cut).  Without `cost`, aq_plan_split() on the work
 *  bytes (contiguous); with it, on cost(t, ctx) of the work tensors, aq_plan_split() or
 *  aq_plan_spread(), the latter (p->spread = 1) when its busiest rank's cost is at least 2 %
 *  below the contiguous cut's (contiguity keeps tensors that share a Hessian on one rank,
 *  which the cost does not count).  The
 *  unit partition (units[].rank, rank_units: the activation stage and budget measurement
 *  work per unit) is left as aq_plan_build() made it; rank_bytes are recounted from the
 *  items.  With one rank the items stay the units.  Deterministic.
 *  @return : AQ_OK, AQ_E_NOMEM. */
aq_status aq_plan_shard(aq_plan *p, const aq_checkpoint *m, aq_plan_is_work is_work,
                        aq_plan_granule granule, aq_plan_cost cost, const void *ctx, aq_err *err);

/*! aq_plan_assign_items() : re-assigns items from `owner[n_items]` (as broadcast by rank 0)
 *  and recomputes rank_bytes.  @return : AQ_OK or AQ_E_MPI if an owner is out of range. */
aq_status aq_plan_assign_items(aq_plan *p, const int *owner, aq_err *err);

/*! aq_plan_free() : NULL is a no-op. */
void aq_plan_free(aq_plan *p);

#endif /* AQ_PLAN_H */
