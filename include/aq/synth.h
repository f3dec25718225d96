/*
 * aq-mpi — deterministic synthetic weights (docs/DESIGN.md §7 recipe).
 *
 * Generator: xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", 2018), seeded through splitmix64.  Normal deviates by Box-Muller.
 * Weight recipe: Student-t with nu = 5 degrees of freedom (Z / sqrt(V/5), V ~ chi^2_5 as a
 * sum of five squared normals), scaled so its standard deviation is `std`
 * (Var t_5 = 5/3); each weight is then replaced with probability 1e-3 by an outlier
 * +-10*std*(1 + 0.5|N(0,1)|), sign equally likely.
 * Every stream is a pure function of (seed, name, index range), so a tensor's values do not
 * depend on the order tensors are generated in or on the thread count.
 */
#ifndef AQ_SYNTH_H
#define AQ_SYNTH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} aq_rng;

/*! aq_rng_seed() : seeds `r` from one 64-bit value (splitmix64 expansion). */
void aq_rng_seed(aq_rng *r, uint64_t seed);
/*! aq_rng_next() : next 64 random bits. */
uint64_t aq_rng_next(aq_rng *r);
/*! aq_rng_uniform() : uniform double in [0, 1) with 53 random bits. */
double aq_rng_uniform(aq_rng *r);
/*! aq_rng_normal() : standard normal deviate (Box-Muller, one of the pair). */
double aq_rng_normal(aq_rng *r);

/*! aq_synth_seed_for() : a stream seed from the run seed and a tensor name (FNV-1a 64 of the
 *  name mixed with the seed). */
uint64_t aq_synth_seed_for(uint64_t seed, const char *name);

/*! aq_synth_weight() : one weight of the recipe above with standard deviation `std`. */
float aq_synth_weight(aq_rng *r, float std);

/*! aq_synth_weights_f32() :
 *  Fills dst[0..n) with recipe weights for the stream (seed, name).  Element i is drawn from
 *  the sub-stream of its block of AQ_SYNTH_BLOCK elements, so any range can be generated
 *  independently (OpenMP over blocks gives the same values for any thread count). */
#define AQ_SYNTH_BLOCK 65536
void aq_synth_weights_f32(uint64_t seed, const char *name, float *dst, size_t n, float std);

/*! aq_synth_weights_f32_range() :
 *  Elements [first, first+n) of the stream that aq_synth_weights_f32() fills from 0, so a
 *  tensor can be generated in pieces with bounded memory.  Cheapest when `first` is a
 *  multiple of AQ_SYNTH_BLOCK (otherwise the start of the first block is drawn and dropped). */
void aq_synth_weights_f32_range(uint64_t seed, const char *name, size_t first, float *dst, size_t n,
                                float std);

#endif /* AQ_SYNTH_H */
