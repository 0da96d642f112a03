/* rand.h - deterministic random numbers: SplitMix64 streams (TorchLean's `rand`).
 *
 * No global state: every generator is an explicit tl_rng value owned by the caller.  The same
 * seed gives the same numbers on every machine (integer arithmetic only, plus libm's log, sqrt,
 * cos, sin for normals, which glibc rounds correctly enough to be reproducible on x86-64 and
 * aarch64; tests pin the exact values).
 */
#ifndef TORCHLEAN_RAND_H
#define TORCHLEAN_RAND_H

#include <stddef.h>
#include <stdint.h>

#include "torchlean/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TL_SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL

/* The SplitMix64 finaliser: z ^= z>>30; z *= 0xbf58476d1ce4e5b9; z ^= z>>27;
 * z *= 0x94d049bb133111eb; z ^= z>>31. */
uint64_t tl_splitmix64_mix(uint64_t z);
/* sm(x) = mix(x + gamma): one SplitMix64 step from state x. */
uint64_t tl_splitmix64(uint64_t x);

typedef struct tl_rng {
  uint64_t state;
  int has_spare; /* Box-Muller produces normals in pairs */
  double spare;
} tl_rng;

/* A stream seeded with `seed` (state = seed). */
void tl_rng_init(tl_rng *r, uint64_t seed);
/* Next 64 random bits: state += gamma; return mix(state). */
uint64_t tl_rng_u64(tl_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double tl_rng_uniform(tl_rng *r);
/* Uniform integer in [0, n) without modulo bias (n >= 1). */
uint64_t tl_rng_below(tl_rng *r, uint64_t n);
/* Standard normal by Box-Muller: sqrt(-2 ln u1) cos(2 pi u2), then the sin partner. */
double tl_rng_normal(tl_rng *r);
/* A fresh child seed: the seed stream of layer initialisation (next u64 of r). */
uint64_t tl_rng_seed(tl_rng *r);

/* TorchLean's counter-based draw: element i of a tensor initialised with seed s is
 * low32(sm(sm(s) + i)) / 2^32, in [0, 1). */
double tl_rand_counter_uniform(uint64_t seed, uint64_t i);

/* out[i] = 1 with probability p (u < p), else 0, for i < n. */
void tl_rand_bernoulli_mask(tl_rng *r, double p, uint8_t *out, size_t n);
/* out = a uniformly random permutation of 0..n-1 (Fisher-Yates, from the back). */
void tl_rand_permutation(tl_rng *r, int64_t *out, int64_t n);
/* Fill a float32 tensor: uniform in [lo, hi), or normal(mean, std). */
void tl_rand_fill_uniform(tl_rng *r, tl_tensor *t, double lo, double hi);
void tl_rand_fill_normal(tl_rng *r, tl_tensor *t, double mean, double std);

#ifdef __cplusplus
}
#endif
#endif
