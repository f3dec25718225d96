/*
 * aq-mpi — aq-inspect summary internals.  Not installed.
 */
#ifndef AQ_INSPECT_SUMMARY_H
#define AQ_INSPECT_SUMMARY_H

#include "inspect_internal.h"

/*! ins_totals : running totals over /tensors. */
typedef struct {
    FILE *out;
    size_t tensors, quantized, sqnr_n;
    double src_bytes, stored_bytes, weights, weight_bits, sqnr_sum;
    haddr_t *seen;
    size_t nseen, cap;
} ins_totals;

/*! ins_totals_seen() : whether the group at `addr` was printed already (records it). */
int ins_totals_seen(ins_totals *t, haddr_t addr);
void ins_print_totals(const ins_totals *t);
void ins_print_timegroups(FILE *out, hid_t f);
void ins_print_act(FILE *out, hid_t f);
void ins_print_run(FILE *out, hid_t f);
void ins_print_source(FILE *out, hid_t f);

#endif /* AQ_INSPECT_SUMMARY_H */
