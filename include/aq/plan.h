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

/* An item of the weight plan (issue 16, row-sharding): what one rank quantizes in one go.
 * Either a whole unit (count tensors, n_blocks = 1), one tensor of a unit that is larger than
 * a fair share (count = 1, n_blocks = 1), or one row block [row0, row1) of a tensor larger
 * than a quarter of a fair share (count = 1, block b of n_blocks > 1). */
typedef struct {
    size_t unit;         /* the unit it comes from */
    size_t first, count; /* its tensors: tensor_order[first .. first+count) */
    int64_t row0, row1;  /* n_blocks > 1: its rows of the tensor; else 0, 0 (all) */
    int block, n_blocks; /* block index, blocks of the tensor (1: the tensor is whole) */
    uint64_t work_bytes; /* source bytes it quantizes */
    int rank;            /* owner */
} aq_plan_item;

typedef struct {
    size_t n_units;
    aq_unit *units;
    size_t n_items;      /* weight quantization: items in plan order (aq_plan_shard) */
    aq_plan_item *items; /* one per unit until aq_plan_shard() splits them */
    int sharded;         /* aq_plan_shard() made the items (aq_plan_assign() then leaves
                            them and rank_bytes alone) */
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

/*! aq_plan_row_blocks() :
 *  Splits `rows` rows of `bytes` bytes into n = min(ceil(bytes / max_bytes), rows / granule,
 *  max_blocks) blocks whose inner boundaries are the multiples of `granule` nearest to
 *  b * rows / n (a tail shorter than a granule joins the last block).  Writes bounds[0..n]
 *  (bounds[0] = 0, bounds[n] = rows, strictly increasing); bounds must hold max_blocks + 1
 *  entries.  Bytes at most max_bytes, granule < 1, rows < 1, max_blocks < 1 or fewer than
 *  two whole granules give one block.  Pure.
 *  @return : n, the number of blocks (>= 1). */
int aq_plan_row_blocks(int64_t rows, uint64_t bytes, int64_t granule, uint64_t max_bytes,
                       int max_blocks, int64_t *bounds);

/*! aq_plan_granule : the row granularity at which tensor t may be cut (every block boundary
 *  a multiple of it), or 0 when it must stay whole. */
typedef int64_t (*aq_plan_granule)(const aq_tensor *t, const void *ctx);

/*! aq_plan_shard() :
 *  Row-sharding (issue 16): rebuilds p's items from its units for `m` (the model p was
 *  built from) and partitions them over the ranks like units (aq_plan_partition() on their
 *  work bytes).  With fair share S = ceil(total work / ranks): a unit of at most S work
 *  bytes stays one item; a larger unit becomes one item per tensor, and a tensor of more
 *  than S / 4 work bytes whose granule(t) > 0 is cut by aq_plan_row_blocks(rows = shape[0],
 *  max_bytes = S / 4, max_blocks = 4 * ranks) into row-block items.  With one rank, or
 *  nothing above S, the items stay the units (the assignment of aq_plan_build()).
 *  is_work as for aq_plan_build().  Deterministic.
 *  @return : AQ_OK, AQ_E_NOMEM. */
aq_status aq_plan_shard(aq_plan *p, const aq_checkpoint *m, aq_plan_is_work is_work,
                        aq_plan_granule granule, const void *ctx, aq_err *err);

/*! aq_plan_assign_items() : re-assigns items from `owner[n_items]` (as broadcast by rank 0)
 *  and recomputes rank_bytes.  @return : AQ_OK or AQ_E_MPI if an owner is out of range. */
aq_status aq_plan_assign_items(aq_plan *p, const int *owner, aq_err *err);

/*! aq_plan_free() : NULL is a no-op. */
void aq_plan_free(aq_plan *p);

#endif /* AQ_PLAN_H */
