/* test_rand.c - SplitMix64 streams: pinned values (same on every machine), distributions. */
#include <criterion/criterion.h>
#include <math.h>

#include "torchlean/rand.h"

Test(rand, splitmix64_reference_values) {
  /* the reference SplitMix64 generator seeded with 0 yields these first outputs */
  tl_rng r;
  tl_rng_init(&r, 0);
  cr_assert_eq(tl_rng_u64(&r), 0xe220a8397b1dcdafULL);
  cr_assert_eq(tl_rng_u64(&r), 0x6e789e6aa1b965f4ULL);
  cr_assert_eq(tl_rng_u64(&r), 0x06c45d188009454fULL);
  tl_rng_init(&r, 1234567);
  cr_assert_eq(tl_rng_u64(&r), 0x599ed017fb08fc85ULL);
  cr_assert_eq(tl_splitmix64(0), 0xe220a8397b1dcdafULL);
}

Test(rand, counter_uniform_matches_definition) {
  uint64_t z = tl_splitmix64(tl_splitmix64(7) + 3);
  cr_assert_eq(tl_rand_counter_uniform(7, 3), (double)(z & 0xffffffffu) / 4294967296.0);
  double u = tl_rand_counter_uniform(0, 0);
  cr_assert(u >= 0 && u < 1);
}

Test(rand, uniform_and_normal_moments) {
  tl_rng r;
  tl_rng_init(&r, 42);
  double s = 0, s2 = 0;
  int n = 200000;
  for (int i = 0; i < n; i++) {
    double u = tl_rng_uniform(&r);
    cr_assert(u >= 0 && u < 1);
    s += u;
  }
  cr_assert(fabs(s / n - 0.5) < 0.005);
  s = 0;
  for (int i = 0; i < n; i++) {
    double z = tl_rng_normal(&r);
    s += z;
    s2 += z * z;
  }
  cr_assert(fabs(s / n) < 0.01, "mean %g", s / n);
  cr_assert(fabs(s2 / n - 1.0) < 0.02, "var %g", s2 / n);
}

Test(rand, normal_is_reproducible) {
  tl_rng a, b;
  tl_rng_init(&a, 99);
  tl_rng_init(&b, 99);
  for (int i = 0; i < 1000; i++)
    cr_assert_eq(tl_rng_normal(&a), tl_rng_normal(&b));
}

Test(rand, permutation_is_a_permutation_and_deterministic) {
  enum { N = 1000 };
  int64_t p[N], q[N];
  int seen[N] = {0};
  tl_rng r;
  tl_rng_init(&r, 5);
  tl_rand_permutation(&r, p, N);
  tl_rng_init(&r, 5);
  tl_rand_permutation(&r, q, N);
  int moved = 0;
  for (int i = 0; i < N; i++) {
    cr_assert(p[i] >= 0 && p[i] < N);
    seen[p[i]]++;
    cr_assert_eq(p[i], q[i]);
    moved += p[i] != i;
  }
  for (int i = 0; i < N; i++)
    cr_assert_eq(seen[i], 1);
  cr_assert(moved > N / 2);
}

Test(rand, bernoulli_rate) {
  enum { N = 100000 };
  static uint8_t m[N];
  tl_rng r;
  tl_rng_init(&r, 3);
  tl_rand_bernoulli_mask(&r, 0.3, m, N);
  int ones = 0;
  for (int i = 0; i < N; i++)
    ones += m[i];
  cr_assert(fabs(ones / (double)N - 0.3) < 0.01);
}

Test(rand, below_is_in_range) {
  tl_rng r;
  tl_rng_init(&r, 11);
  for (int i = 0; i < 10000; i++)
    cr_assert(tl_rng_below(&r, 7) < 7);
  cr_assert_eq(tl_rng_below(&r, 1), 0);
}
