/* base/rand.c - SplitMix64 streams, uniform/normal/Bernoulli draws and permutations. */
#include "torchlean/rand.h"

#include <math.h>

uint64_t tl_splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t tl_splitmix64(uint64_t x) { return tl_splitmix64_mix(x + TL_SPLITMIX_GAMMA); }

void tl_rng_init(tl_rng *r, uint64_t seed) {
  r->state = seed;
  r->has_spare = 0;
  r->spare = 0;
}

uint64_t tl_rng_u64(tl_rng *r) {
  r->state += TL_SPLITMIX_GAMMA;
  return tl_splitmix64_mix(r->state);
}

double tl_rng_uniform(tl_rng *r) { return (double)(tl_rng_u64(r) >> 11) * 0x1p-53; }

uint64_t tl_rng_below(tl_rng *r, uint64_t n) {
  TL_ASSERT(n >= 1);
  /* reject the top sliver so every residue is equally likely */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = tl_rng_u64(r);
  while (x >= limit);
  return x % n;
}

double tl_rng_normal(tl_rng *r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u1 = 1.0 - tl_rng_uniform(r); /* (0, 1]: log stays finite */
  double u2 = tl_rng_uniform(r);
  double rad = sqrt(-2.0 * log(u1));
  double th = 6.283185307179586 * u2;
  r->spare = rad * sin(th);
  r->has_spare = 1;
  return rad * cos(th);
}

uint64_t tl_rng_seed(tl_rng *r) { return tl_rng_u64(r); }

double tl_rand_counter_uniform(uint64_t seed, uint64_t i) {
  uint64_t z = tl_splitmix64(tl_splitmix64(seed) + i);
  return (double)(uint32_t)z * 0x1p-32;
}

void tl_rand_bernoulli_mask(tl_rng *r, double p, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++)
    out[i] = tl_rng_uniform(r) < p;
}

void tl_rand_permutation(tl_rng *r, int64_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    out[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)tl_rng_below(r, (uint64_t)i + 1);
    int64_t tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
}

void tl_rand_fill_uniform(tl_rng *r, tl_tensor *t, double lo, double hi) {
  for (int64_t i = 0; i < t->numel; i++)
    tl_tensor_set(t, i, lo + (hi - lo) * tl_rng_uniform(r));
}

void tl_rand_fill_normal(tl_rng *r, tl_tensor *t, double mean, double std) {
  for (int64_t i = 0; i < t->numel; i++)
    tl_tensor_set(t, i, mean + std * tl_rng_normal(r));
}
