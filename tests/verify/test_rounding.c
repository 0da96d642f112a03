/* test_rounding.c - the directed-rounding idiom of verify/ survives the optimiser.
 * GCC and clang at -O1+ reuse x * y computed in one rounding mode for the same expression after a
 * switch (even with -frounding-math); TLV_OPAQUE (verify/vinternal.h) must prevent that.  This
 * file is compiled like verify/ (-O2 -frounding-math). */
#include <criterion/criterion.h>
#include <fenv.h>
#include <math.h>

#include "verify/vinternal.h"
#include "torchlean/graph.h"
#include "torchlean/rand.h"
#include "torchlean/verify.h"

/* [lo, hi] = [down(x y), up(x y)] the way verify/ writes it */
static __attribute__((noinline)) void prod_both(double x, double y, double *lo, double *hi) {
  rnd_down();
  double l = x * y;
  TLV_OPAQUE(l);
  rnd_up();
  TLV_OPAQUE(x);
  TLV_OPAQUE(y);
  double h = x * y;
  TLV_OPAQUE(h);
  fesetround(FE_TONEAREST);
  *lo = l, *hi = h;
}

/* the same for a sum and a square root (batch-norm scales) */
static __attribute__((noinline)) void sqrt_both(double v, double e, double *lo, double *hi) {
  rnd_down();
  double l = sqrt(v + e);
  TLV_OPAQUE(l);
  rnd_up();
  TLV_OPAQUE(v);
  TLV_OPAQUE(e);
  double h = sqrt(v + e);
  TLV_OPAQUE(h);
  fesetround(FE_TONEAREST);
  *lo = l, *hi = h;
}

Test(rounding, opaque_keeps_down_and_up_products_apart) {
  tl_rng r;
  tl_rng_init(&r, 7);
  int inexact = 0;
  for (int i = 0; i < 10000; i++) {
    double x = tl_rng_uniform(&r) * 2 - 1, y = tl_rng_uniform(&r) * 1e3;
    double lo, hi;
    prod_both(x, y, &lo, &hi);
    double err = fma(x, y, -lo); /* exact x y - lo */
    cr_assert(err >= 0, "down(x y) above x y: x=%a y=%a", x, y);
    cr_assert(fma(x, y, -hi) <= 0, "up(x y) below x y: x=%a y=%a", x, y);
    if (err != 0) {
      inexact++;
      cr_assert_eq(hi, nextafter(lo, INFINITY), "x=%a y=%a lo=%a hi=%a", x, y, lo, hi);
    }
  }
  cr_assert_gt(inexact, 9000); /* random products are almost never exact */
  cr_assert_eq(fegetround(), FE_TONEAREST);
}

Test(rounding, opaque_keeps_down_and_up_roots_apart) {
  int differ = 0;
  for (int i = 1; i < 2000; i++) {
    double lo, hi;
    sqrt_both((double)i / 7.0, 1e-5, &lo, &hi);
    cr_assert(lo <= hi);
    differ += lo != hi;
  }
  cr_assert_gt(differ, 1900);
}

Test(rounding, box_finite_on_the_bits) {
  double lo[37], hi[37];
  for (int i = 0; i < 37; i++)
    lo[i] = -DBL_MAX + i, hi[i] = i % 3 ? DBL_MAX : 0x1p-1074;
  cr_assert(tlv_box_finite(lo, hi, 37));
  const double bad[3] = {INFINITY, -INFINITY, NAN};
  for (int b = 0; b < 3; b++)
    for (int i = 0; i < 37; i++)
      for (int side = 0; side < 2; side++) {
        double *v = side ? hi : lo, keep = v[i];
        v[i] = bad[b];
        cr_assert(!tlv_box_finite(lo, hi, 37), "bad value %g at %d side %d", bad[b], i, side);
        cr_assert(tlv_box_finite(lo, hi, i), "only elements before %d", i); /* prefix stays finite */
        v[i] = keep;
      }
}

/* Regression (GCC 12 -O3): tlv_gamma_up computed ku / (1 - ku) AFTER restoring the caller's
 * rounding mode, so from FE_DOWNWARD or FE_TONEAREST it returned a gamma below the real one.  It
 * now switches no mode (the quotient, one step up): it must be at least k u / (1 - k u) and at most
 * two ulps above it whatever mode it is called in, and leave that mode alone. */
Test(rounding, gamma_up_rounds_up_in_any_caller_mode) {
  const int modes[4] = {FE_TONEAREST, FE_DOWNWARD, FE_TOWARDZERO, FE_UPWARD};
  for (int mi = 0; mi < 4; mi++) {
    int inexact = 0;
    for (int64_t k = 1; k <= 3000; k++) {
      fesetround(modes[mi]);
      double g = tlv_gamma_up(k);
      int back = fegetround();
      fesetround(FE_TONEAREST);
      cr_assert_eq(back, modes[mi], "tlv_gamma_up did not restore the caller's mode");
      double ku = (double)k * TLV_U, den = 1.0 - ku; /* both exact */
      /* sign of g den - ku, exact (one rounding of an exact value keeps its sign) */
      double e = fma(g, den, -ku);
      cr_assert(e >= 0, "mode %d: gamma_%lld = %a below k u / (1 - k u)", modes[mi], (long long)k, g);
      cr_assert(fma(nextafter(nextafter(g, 0), 0), den, -ku) < 0, "mode %d: gamma_%lld = %a too large",
                modes[mi], (long long)k, g);
      inexact += e > 0;
    }
    cr_assert_gt(inexact, 1000); /* the check bites: most k u / (1 - k u) are not doubles */
  }
}

/* Regression (GCC 12 -O3): CROWN's fast backward linear rule subtracts the error bound
 * tot = up(g52_K pay + und + pe) of its upward product lam A from the constant; the optimiser sank
 * that sum past rnd_down(), so the bound was rounded DOWN.  y = x0 - x1 on the point box x = (1, 1):
 * lam A = (1, -1) and the concretised constant are exact (0), so the CROWN lower bound of y is
 * exactly -tot with pay = |1| (|1| 1 + |-1| 1) = 2, K = 2 terms, und = K 2^-1074 sum max|x| =
 * 2^-1072 > 0 and pe = 0 (real semantics): tot >= 2 g52_2 + 2^-1072, strictly above 2 g52_2 (which
 * is what the rounded-down sum gave, und being far below its ulp). */
Test(rounding, crown_fast_linear_error_bound_rounded_up) {
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 2}, ws[2] = {1, 2};
  float w[2] = {1.0f, -1.0f};
  int x, pw, y;
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, w, &pw, NULL), TL_OK);
  int p[2] = {x, pw};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 2, p, NULL, &y, NULL), TL_OK);
  cr_assert_eq(tl_graph_mark_output(g, y, NULL), TL_OK);
  double lo[2] = {1, 1}, hi[2] = {1, 1};
  tl_region *r;
  cr_assert_eq(tl_region_box(&r, lo, hi, 2, NULL), TL_OK);
  tl_status st = {0};
  tl_bounds *b;
  cr_assert_eq(tl_ibp(g, r, TL_SEM_REAL, &b, &st), TL_OK, "%s", st.msg);
  double a = 1, L;
  cr_assert_eq(tl_crown(g, r, b, 1, &a, 0, &L, NULL, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(fegetround(), FE_TONEAREST);
  fesetround(FE_UPWARD);
  double g52 = tlv_gamma52_up(2); /* K = nout + 1 (tlv_fast_backterms) */
  fesetround(FE_TONEAREST);
  cr_assert(L < 0 && L > -1e-10, "L = %a", L);
  /* -L - 2 g52 is exact (Sterbenz) and must be positive */
  cr_assert(-L - 2 * g52 > 0, "error bound rounded down: L = %a, 2 g52 = %a", L, 2 * g52);
  tl_bounds_free(b);
  tl_region_free(r);
  tl_graph_free(g);
}
