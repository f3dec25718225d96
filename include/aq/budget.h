/*
 * aq-mpi — mixed precision under a size budget: the greedy bit allocator (issue 8).
 *
 * Pure computation: no MPI, no files.  The job (src/job/budget_measure.c) measures every
 * quantized layer at every candidate width, gathers the table on every rank and calls
 * aq_budget_allocate(), so that every rank derives the same widths.
 */
#ifndef AQ_BUDGET_H
#define AQ_BUDGET_H

#include <stddef.h>
#include <stdint.h>

/* Most candidates per layer: widths 2/4/8, or 2/3/4/8 with the dq layout; with quant.format
 * the ggml formats Q2_K..Q6_K, Q8_0 (6, aq_qformat_budget_candidates in aq/qformat.h). */
#define AQ_BUDGET_MAX_WIDTHS 6

/*! aq_budget_layer : one layer's candidates, narrowest width first.  Travels between ranks as
 *  raw bytes (MPI_BYTE), so it holds no pointers. */
typedef struct {
    int64_t tensor;                       /* model tensor index */
    int32_t n_levels;                     /* this layer's candidates (1..nw); 0: nw */
    int32_t format[AQ_BUDGET_MAX_WIDTHS]; /* the ggml format of each level (aq_qformat_id),
                                             0: the plain/dq widths (not read here) */
    double err[AQ_BUDGET_MAX_WIDTHS];     /* distortion at each width (weighted_rel_err or KL) */
    double bytes[AQ_BUDGET_MAX_WIDTHS];   /* stored bytes at each width (codes+scale+min+sub) */
} aq_budget_layer;

/*! aq_budget_allocate() :
 *  Chooses one width per layer so that the total stored bytes fit `budget_bytes`, by the
 *  marginal-return rule for bit allocation over a set of quantizers (Shoham & Gersho, IEEE
 *  Trans. ASSP 36(9), 1988): start every layer at its widest width (its top level), repeatedly
 *  take the one step down (level l -> l-1) with the smallest distortion increase per byte
 *  saved, (err[l-1] - err[l]) / (bytes[l] - bytes[l-1]), until the total fits; then, since
 *  the last step down may overshoot, take the steps back up with the largest distortion
 *  decrease per byte added while the total still fits.  A step that saves no bytes costs
 *  +infinity; a step up that adds no bytes is never taken.  Distortions are summed as if
 *  additive.  Ties go to the lowest index in layers[] (the job sorts them by tensor index),
 *  so the result is a pure function of the inputs.
 *  layers[n] : the table, nw (1..AQ_BUDGET_MAX_WIDTHS) levels each, or n_levels (1..nw) for
 *              a layer that sets it (a ggml format chain: a row-length fallback tensor has
 *              fewer candidates); bytes increasing with the level.  n = 0 is valid.
 *  level[n]  : output, the chosen level of each layer in 0..(its levels)-1.
 *  @return : the total stored bytes of the choice; larger than budget_bytes only when the
 *            budget is below the smallest size (every layer at level 0, or no step down
 *            saves bytes). */
double aq_budget_allocate(const aq_budget_layer *layers, size_t n, int nw, double budget_bytes,
                          int *level);

#endif /* AQ_BUDGET_H */
