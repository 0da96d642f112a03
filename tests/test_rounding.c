/* test_rounding.c - the directed-rounding idiom of verify/ survives the optimiser.
 * GCC and clang at -O1+ reuse x * y computed in one rounding mode for the same expression after a
 * switch (even with -frounding-math); TLV_OPAQUE (verify/vinternal.h) must prevent that.  This
 * file is compiled like verify/ (-O2 -frounding-math). */
#include <criterion/criterion.h>
#include <fenv.h>
#include <math.h>

#include "../verify/vinternal.h"
#include "torchlean/rand.h"

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
