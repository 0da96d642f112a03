/* fxdot.h - private: exact dot products with float32 weights in fixed point (GMP mpz).
 *
 * The interval values x (a node's values) are converted once to integers at one common scale:
 * every finite MPFR endpoint is z 2^e with an integer z, so with E the smallest such exponent,
 * each endpoint is exactly X 2^E for an integer X.  A float32 weight is m 2^(f - 149) with an
 * integer 0 <= m < 2^24 and 0 <= f <= 253.  Every product, and the exact sum of any number of
 * them, is then an integer multiple of 2^(E - 149): the sum is accumulated EXACTLY in mpz (one
 * accumulator per 32-bit band of f, so that each step is one mpz_addmul_ui by m 2^(f mod 32))
 * and rounded once, lower end down and upper end up.
 *
 * Over a box, the exact range of the linear function sum_i w_i x_i is
 * [sum_i w_i (w_i >= 0 ? lo_i : hi_i), sum_i w_i (w_i >= 0 ? hi_i : lo_i)] (each term is
 * monotone in its own x_i and the x_i vary independently), so both ends are exact sums and the
 * enclosure is the tightest possible one rounded outward once (docs/semantics.md).
 *
 * Ownership: tl_fx is owned by its domain (tl_fx_init / tl_fx_clear); no global state.
 */
#ifndef TL_SPEC_FXDOT_H
#define TL_SPEC_FXDOT_H

#include <gmp.h>
#include <mpfi.h>
#include <mpfr.h>
#include <stdint.h>

#define TL_FX_NB 8 /* bands of 32 binary32 exponents: f >> 5 for f in [0, 253] */

typedef struct tl_fx {
  int64_t n, cap;  /* converted values, allocated mpz */
  mpz_t *lo, *hi;  /* endpoints: value = lo[i] 2^E (hi unused when all are points) */
  mpz_t *mag;      /* max(|lo|, |hi|) when want_mag */
  long *elo, *ehi; /* scratch exponents */
  long E;
  int points;   /* every value is a point: only lo is used */
  int want_mag; /* also accumulate sum |w_i| mag(x_i) (f32-any) */
  int ok;       /* the last tl_fx_begin succeeded */
  mpz_t acc_lo[TL_FX_NB], acc_hi[TL_FX_NB], acc_mag[TL_FX_NB];
  mpz_t tlo, thi, tmag, z;
} tl_fx;

void tl_fx_init(tl_fx *fx, int want_mag);
void tl_fx_clear(tl_fx *fx);

/* Convert x[0..n).  Returns 1, or 0 when the fast path does not apply (an infinite endpoint, or
 * exponents so far apart that the integers would exceed 2^16 bits). */
int tl_fx_begin(tl_fx *fx, const mpfi_t *x, int64_t n);

/* r = sum_{i<n} x[j_i] w[i * wstride] (+ bias) with j_i = idx ? idx[i] : x0 + i, rounded outward
 * once (bias: its endpoints are added exactly when finite).  sum_abs (when non-NULL and the fx
 * was initialised with want_mag) receives sum |w_i| mag(x_j_i), rounded up (bias not included).
 * Returns 1, or 0 (nothing written) when a weight is infinite or NaN: use the generic path. */
int tl_fx_dot(tl_fx *fx, mpfi_ptr r, int64_t n, int64_t x0, const int64_t *idx, const float *w,
              int64_t wstride, mpfi_srcptr bias, mpfr_ptr sum_abs);

#endif
