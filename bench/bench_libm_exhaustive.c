/* bench_libm_exhaustive.c - this platform's expf, logf, tanhf against MPFR over binary32 inputs,
 * to confirm TL_F32_LIBM_MAX_ULP (include/torchlean/floats.h) used by the f32-any model.
 *
 *   bench_libm_exhaustive [STRIDE [FIRST]]
 *
 * visits the bit patterns FIRST, FIRST + STRIDE, ... below 2^32 (STRIDE 1: every binary32 input;
 * default 4096; FIRST default 0) and, for each function, every finite input of its domain
 * (expf, tanhf: all finite x; logf: x > 0).  For each input the exact value f(x) is bracketed by
 * MPFR at 40 bits (round to nearest plus the ternary value gives RD_40 <= f(x) <= RU_40, and since
 * every binary32 number is a 40-bit number, RD_f32(f(x)) = RD_f32(RD_40) and likewise up).  It
 * reports
 *   - max ulp error: max |y - f(x)| / ulp(f(x)) (ulp as tl_f32_ulp; f(x) taken as the 40-bit
 *     value, so the figure is exact to about 2^-15 ulp), and the input where it occurs;
 *   - max steps: how many binary32 numbers y lies outside [RD_f32(f(x)), RU_f32(f(x))]; the
 *     f32-any model steps 2 TL_F32_LIBM_MAX_ULP + 1 floats outward from that interval, so the
 *     claim holds on the inputs visited when steps <= 2 TL_F32_LIBM_MAX_ULP + 1 and the ulp
 *     error <= TL_F32_LIBM_MAX_ULP;
 *   - count of inputs that are not correctly rounded (y != RN(f(x))) is not tracked; steps == 0
 *     means faithful (y is one of the two neighbours).
 * Single-threaded; a long benchmark, not a test (stride 1 takes hours). */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <mpfr.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "torchlean/floats.h"

typedef struct fn {
  const char *name;
  float (*f)(float);
  int (*m)(mpfr_ptr, mpfr_srcptr, mpfr_rnd_t);
  int log_domain;
  double max_ulp;
  float max_ulp_at;
  int64_t max_steps;
  float max_steps_at;
  uint64_t n;
} fn;

static int64_t ord(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return (b >> 31) ? -(int64_t)(b & 0x7fffffffu) : (int64_t)b;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  uint64_t stride = argc > 1 ? strtoull(argv[1], NULL, 0) : 4096,
           first = argc > 2 ? strtoull(argv[2], NULL, 0) : 0;
  if (stride < 1)
    stride = 1;
  fn fs[] = {{"expf", expf, mpfr_exp, 0, 0, 0, 0, 0, 0},
             {"logf", logf, mpfr_log, 1, 0, 0, 0, 0, 0},
             {"tanhf", tanhf, mpfr_tanh, 0, 0, 0, 0, 0, 0}};
  enum { NF = sizeof fs / sizeof fs[0] };
  mpfr_t xm, v, d;
  mpfr_init2(xm, 24), mpfr_init2(v, 40), mpfr_init2(d, 128);
  double t0 = now();
  for (uint64_t u = first; u < (1ull << 32); u += stride) {
    uint32_t b = (uint32_t)u;
    float x;
    memcpy(&x, &b, sizeof x);
    if (!isfinite(x))
      continue;
    mpfr_set_flt(xm, x, MPFR_RNDN);
    for (int k = 0; k < NF; k++) {
      fn *F = &fs[k];
      if (F->log_domain && !(x > 0))
        continue;
      volatile float xv = x; /* no constant folding across the loop */
      float y = F->f(xv);
      int t = F->m(v, xm, MPFR_RNDN);
      float lo = mpfr_get_flt(v, MPFR_RNDD), hi = mpfr_get_flt(v, MPFR_RNDU);
      if (t > 0) /* v > f(x): RD_f32(f(x)) may lie below RD_f32(v) only when v is a float */
        lo = mpfr_get_flt(v, MPFR_RNDD) == mpfr_get_flt(v, MPFR_RNDU) ? nextafterf(lo, -INFINITY) : lo;
      if (t < 0)
        hi = mpfr_get_flt(v, MPFR_RNDD) == mpfr_get_flt(v, MPFR_RNDU) ? nextafterf(hi, INFINITY) : hi;
      F->n++;
      int64_t steps = 0;
      if (isnan(y))
        steps = INT64_MAX;
      else if (ord(y) > ord(hi))
        steps = ord(y) - ord(hi);
      else if (ord(y) < ord(lo))
        steps = ord(lo) - ord(y);
      if (steps > F->max_steps)
        F->max_steps = steps, F->max_steps_at = x;
      double ulp = tl_f32_ulp(mpfr_get_d(v, MPFR_RNDN));
      double e;
      if (isinf(y) || !mpfr_number_p(v)) {
        e = (isinf(y) && mpfr_inf_p(v) && (y > 0) == (mpfr_sgn(v) > 0)) ? 0 : INFINITY;
        if (isinf(y) && mpfr_number_p(v) && mpfr_cmp_d(v, (double)FLT_MAX) > 0)
          e = 0; /* overflow to inf where the exact value is above FLT_MAX: counted by steps */
      } else {
        mpfr_set_flt(d, y, MPFR_RNDN);
        mpfr_sub(d, d, v, MPFR_RNDN); /* exact at 128 bits */
        e = fabs(mpfr_get_d(d, MPFR_RNDU)) / ulp;
      }
      if (e > F->max_ulp)
        F->max_ulp = e, F->max_ulp_at = x;
    }
  }
  double el = now() - t0;
  printf("libm vs MPFR, stride %llu (first %llu), %.1f s; TL_F32_LIBM_MAX_ULP = %d (model steps %d floats)\n",
         (unsigned long long)stride, (unsigned long long)first, el, TL_F32_LIBM_MAX_ULP,
         2 * TL_F32_LIBM_MAX_ULP + 1);
  int ok = 1;
  for (int k = 0; k < NF; k++) {
    fn *F = &fs[k];
    printf("%-6s inputs %11llu  max ulp error %.4f at %a  max steps outside [RD, RU] %lld at %a\n", F->name,
           (unsigned long long)F->n, F->max_ulp, (double)F->max_ulp_at, (long long)F->max_steps,
           (double)F->max_steps_at);
    if (F->max_ulp > TL_F32_LIBM_MAX_ULP || F->max_steps > 2 * TL_F32_LIBM_MAX_ULP + 1)
      ok = 0;
  }
  printf("claim %s on the inputs visited\n", ok ? "HOLDS" : "FAILS");
  mpfr_clear(xm), mpfr_clear(v), mpfr_clear(d);
  mpfr_free_cache();
  return ok ? 0 : 1;
}
