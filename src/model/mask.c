/*
 * aq-mpi — corrupting a sequence for diffusion time step t (mask ratio bin centre).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aq/model.h"
#include "aq/synth.h"

double aq_mask_ratio(int t, int T) {
    return (t + 0.5) / T;
}

int aq_mask_sequence(const int32_t *tok, int L, int t, int T, uint64_t seed, int64_t seq,
                     int32_t mask_token, int logits_shift, int32_t *out, uint8_t *is_masked) {
    int first = logits_shift && L > 0 ? 1 : 0, m = L - first;
    int n = (int)lround(aq_mask_ratio(t, T) * m);
    memcpy(out, tok, (size_t)L * sizeof *tok);
    memset(is_masked, 0, (size_t)L);
    aq_rng r;
    aq_rng_seed(&r, aq_synth_seed_for(seed, "mask") +
                        0x9E3779B97F4A7C15ull * (uint64_t)(seq * T + t + 1));
    /* Partial Fisher-Yates on the eligible positions: the first n are the masked ones. */
    int *pos = malloc((size_t)(m > 0 ? m : 1) * sizeof *pos);
    if (!pos) return -1;
    for (int i = 0; i < m; i++)
        pos[i] = first + i;
    for (int i = 0; i < n; i++) {
        int j = i + (int)(aq_rng_uniform(&r) * (m - i));
        int tmp = pos[i];
        pos[i] = pos[j];
        pos[j] = tmp;
        out[pos[i]] = mask_token;
        is_masked[pos[i]] = 1;
    }
    free(pos);
    return n;
}
