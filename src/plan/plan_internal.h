/* Private to src/plan: what the cuts (split.c, spread.c) share. */
#ifndef AQ_PLAN_INTERNAL_H
#define AQ_PLAN_INTERNAL_H

#include "aq/plan.h"

/* Whether piece p may be cut into row blocks: a granule, at least two of them, a cost of at
 * least one per row and a whole number of bytes per row (aq_plan_split() also keeps a piece
 * with a head whole). */
static inline int aq_piece_cuttable(const aq_plan_piece *p) {
    return p->granule > 0 && p->rows >= 2 * p->granule && p->cost >= (uint64_t)p->rows &&
           p->work % (uint64_t)p->rows == 0;
}

#endif /* AQ_PLAN_INTERNAL_H */
