/*
 * aq-mpi — Phase 1: Markov validation of the group parameters along k (docs/DESIGN.md §4, Phase 1).
 * Monitor only: reads the groups, never changes them.
 */
#include <math.h>

#include "phases_internal.h"

/* Severities classify the violations only (high > 0.5, medium > 0.3, else low), so
 * high + medium + low == violations whatever the threshold. */
void aq_phase1(const aq_act_groups *g, double threshold, aq_phase1_result *r) {
    int amax = aq_amax(g->act_bits);
    r->smoothness = 1.0;
    r->violations = r->high = r->medium = r->low = 0;
    r->max_scale_jump = 0.0;
    if (g->K < 2) return;
    double sum = 0.0;
    for (int k = 0; k + 1 < g->K; ++k) {
        double s0 = g->scale[k], s1 = g->scale[k + 1];
        double m = fmax(s0, s1);
        double sj = m > 0.0 ? fabs(s1 - s0) / m : 0.0;
        double zj = fabs((double)g->zero[k + 1] - (double)g->zero[k]) / amax;
        sum += 1.0 - (sj + zj) / 2.0;
        r->max_scale_jump = fmax(r->max_scale_jump, sj);
        if (sj > threshold) {
            r->violations++;
            if (sj > 0.5)
                r->high++;
            else if (sj > 0.3)
                r->medium++;
            else
                r->low++;
        }
    }
    r->smoothness = sum / (g->K - 1);
}
