/* fxdot.c - exact fixed-point dot products with float32 weights (see fxdot.h). */
#include "fxdot.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "torchlean/status.h"

#define FX_MAX_BITS (1L << 16) /* widest integer a conversion may produce */

#if ULONG_MAX >= 0xffffffffffffffffUL
#define FX_HAVE_64 1 /* m 2^(f mod 32) < 2^55 fits an unsigned long */
#else
#define FX_HAVE_64 0
#endif

void tl_fx_init(tl_fx *fx, int want_mag) {
  memset(fx, 0, sizeof *fx);
  fx->want_mag = want_mag;
  for (int b = 0; b < TL_FX_NB; b++)
    mpz_init(fx->acc_lo[b]), mpz_init(fx->acc_hi[b]), mpz_init(fx->acc_mag[b]);
  mpz_init(fx->tlo), mpz_init(fx->thi), mpz_init(fx->tmag), mpz_init(fx->z);
}

void tl_fx_clear(tl_fx *fx) {
  for (int64_t i = 0; i < fx->cap; i++)
    mpz_clear(fx->lo[i]), mpz_clear(fx->hi[i]), mpz_clear(fx->mag[i]);
  free(fx->lo), free(fx->hi), free(fx->mag), free(fx->elo), free(fx->ehi);
  for (int b = 0; b < TL_FX_NB; b++)
    mpz_clear(fx->acc_lo[b]), mpz_clear(fx->acc_hi[b]), mpz_clear(fx->acc_mag[b]);
  mpz_clear(fx->tlo), mpz_clear(fx->thi), mpz_clear(fx->tmag), mpz_clear(fx->z);
  memset(fx, 0, sizeof *fx);
}

static void fx_reserve(tl_fx *fx, int64_t n) {
  if (n <= fx->cap)
    return;
  int64_t cap = fx->cap ? fx->cap : 64;
  while (cap < n)
    cap *= 2;
  mpz_t *lo = realloc(fx->lo, (size_t)cap * sizeof *lo);
  TL_ASSERT(lo != NULL);
  fx->lo = lo;
  mpz_t *hi = realloc(fx->hi, (size_t)cap * sizeof *hi);
  TL_ASSERT(hi != NULL);
  fx->hi = hi;
  mpz_t *mag = realloc(fx->mag, (size_t)cap * sizeof *mag);
  TL_ASSERT(mag != NULL);
  fx->mag = mag;
  long *elo = realloc(fx->elo, (size_t)cap * sizeof *elo);
  TL_ASSERT(elo != NULL);
  fx->elo = elo;
  long *ehi = realloc(fx->ehi, (size_t)cap * sizeof *ehi);
  TL_ASSERT(ehi != NULL);
  fx->ehi = ehi;
  for (int64_t i = fx->cap; i < cap; i++)
    mpz_init(fx->lo[i]), mpz_init(fx->hi[i]), mpz_init(fx->mag[i]);
  fx->cap = cap;
}

/* v = z 2^e with z stripped of trailing zeros; updates the smallest/largest bit positions */
static void split(mpz_ptr z, long *e, mpfr_srcptr v, long *emin, long *etop) {
  if (mpfr_zero_p(v)) {
    mpz_set_ui(z, 0);
    *e = 0;
    return;
  }
  long ee = (long)mpfr_get_z_2exp(z, v);
  mp_bitcnt_t tz = mpz_scan1(z, 0);
  mpz_tdiv_q_2exp(z, z, tz); /* exact */
  ee += (long)tz;
  *e = ee;
  if (ee < *emin)
    *emin = ee;
  long top = ee + (long)mpz_sizeinbase(z, 2);
  if (top > *etop)
    *etop = top;
}

/* z 2^e -> z 2^(e - E) at scale 2^E (e >= E) */
static void align(mpz_ptr z, long e, long E) {
  if (mpz_sgn(z) != 0 && e > E)
    mpz_mul_2exp(z, z, (mp_bitcnt_t)(e - E));
}

int tl_fx_begin(tl_fx *fx, const mpfi_t *x, int64_t n) {
  fx->ok = 0;
  if (!FX_HAVE_64)
    return 0;
  fx_reserve(fx, n);
  fx->n = n;
  int points = 1;
  for (int64_t i = 0; i < n; i++) {
    if (!mpfr_number_p(&x[i]->left) || !mpfr_number_p(&x[i]->right))
      return 0;
    if (points && !mpfr_equal_p(&x[i]->left, &x[i]->right))
      points = 0;
  }
  long emin = LONG_MAX, etop = LONG_MIN;
  for (int64_t i = 0; i < n; i++) {
    split(fx->lo[i], &fx->elo[i], &x[i]->left, &emin, &etop);
    if (!points)
      split(fx->hi[i], &fx->ehi[i], &x[i]->right, &emin, &etop);
  }
  if (emin == LONG_MAX) /* all zero */
    emin = etop = 0;
  if (etop - emin > FX_MAX_BITS)
    return 0;
  for (int64_t i = 0; i < n; i++) {
    align(fx->lo[i], fx->elo[i], emin);
    if (!points)
      align(fx->hi[i], fx->ehi[i], emin);
    if (fx->want_mag) {
      if (points || mpz_cmpabs(fx->lo[i], fx->hi[i]) >= 0)
        mpz_abs(fx->mag[i], fx->lo[i]);
      else
        mpz_abs(fx->mag[i], fx->hi[i]);
    }
  }
  fx->E = emin;
  fx->points = points;
  fx->ok = 1;
  return 1;
}

/* t = sum_b acc[b] 2^(32 b) */
static void combine(mpz_ptr t, mpz_t *acc) {
  mpz_set(t, acc[TL_FX_NB - 1]);
  for (int b = TL_FX_NB - 2; b >= 0; b--) {
    mpz_mul_2exp(t, t, 32);
    mpz_add(t, t, acc[b]);
  }
}

/* t 2^*u += v exactly; 0 when v is not finite or too far in scale (then the caller rounds) */
static int add_exact(mpz_ptr t, long *u, mpfr_srcptr v, mpz_ptr z) {
  if (mpfr_zero_p(v))
    return 1;
  if (!mpfr_number_p(v))
    return 0;
  long e = (long)mpfr_get_z_2exp(z, v);
  if (e >= *u) {
    if (e - *u > FX_MAX_BITS)
      return 0;
    mpz_mul_2exp(z, z, (mp_bitcnt_t)(e - *u));
  } else {
    if (*u - e > FX_MAX_BITS)
      return 0;
    mpz_mul_2exp(t, t, (mp_bitcnt_t)(*u - e));
    *u = e;
  }
  mpz_add(t, t, z);
  return 1;
}

int tl_fx_dot(tl_fx *fx, mpfi_ptr r, int64_t n, int64_t x0, const int64_t *idx, const float *w,
              int64_t wstride, mpfi_srcptr bias, mpfr_ptr sum_abs) {
  if (!fx->ok)
    return 0;
  for (int b = 0; b < TL_FX_NB; b++) {
    mpz_set_ui(fx->acc_lo[b], 0);
    if (!fx->points)
      mpz_set_ui(fx->acc_hi[b], 0);
    if (fx->want_mag)
      mpz_set_ui(fx->acc_mag[b], 0);
  }
  const int pts = fx->points, mag = fx->want_mag && sum_abs;
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits;
    memcpy(&bits, &w[i * wstride], sizeof bits);
    unsigned be = (bits >> 23) & 0xffu, frac = bits & 0x7fffffu;
    if (be == 0xffu)
      return 0; /* inf or NaN weight */
    if (be == 0 && frac == 0)
      continue;
    unsigned f = be ? be - 1 : 0; /* |w| = m 2^(f - 149) */
    unsigned long m = (unsigned long)(be ? frac | 0x800000u : frac) << (f & 31u);
    int b = (int)(f >> 5);
    int64_t j = idx ? idx[i] : x0 + i;
    if (pts) {
      if (bits >> 31)
        mpz_submul_ui(fx->acc_lo[b], fx->lo[j], m);
      else
        mpz_addmul_ui(fx->acc_lo[b], fx->lo[j], m);
    } else if (bits >> 31) { /* w < 0: lower end from hi, upper end from lo */
      mpz_submul_ui(fx->acc_lo[b], fx->hi[j], m);
      mpz_submul_ui(fx->acc_hi[b], fx->lo[j], m);
    } else {
      mpz_addmul_ui(fx->acc_lo[b], fx->lo[j], m);
      mpz_addmul_ui(fx->acc_hi[b], fx->hi[j], m);
    }
    if (mag)
      mpz_addmul_ui(fx->acc_mag[b], fx->mag[j], m);
  }
  long ulo = fx->E - 149, uhi = ulo;
  combine(fx->tlo, fx->acc_lo);
  if (pts)
    mpz_set(fx->thi, fx->tlo);
  else
    combine(fx->thi, fx->acc_hi);
  if (mag) {
    combine(fx->tmag, fx->acc_mag);
    mpfr_set_z_2exp(sum_abs, fx->tmag, (mpfr_exp_t)ulo, MPFR_RNDU);
  }
  int late_lo = 0, late_hi = 0;
  if (bias) {
    late_lo = !add_exact(fx->tlo, &ulo, &bias->left, fx->z);
    late_hi = !add_exact(fx->thi, &uhi, &bias->right, fx->z);
  }
  mpfr_set_z_2exp(&r->left, fx->tlo, (mpfr_exp_t)ulo, MPFR_RNDD);
  mpfr_set_z_2exp(&r->right, fx->thi, (mpfr_exp_t)uhi, MPFR_RNDU);
  if (late_lo)
    mpfr_add(&r->left, &r->left, &bias->left, MPFR_RNDD);
  if (late_hi)
    mpfr_add(&r->right, &r->right, &bias->right, MPFR_RNDU);
  /* MPFI's conventions for zero ends: +0 on the left, -0 on the right */
  if (mpfr_zero_p(&r->left))
    mpfr_set_zero(&r->left, 1);
  if (mpfr_zero_p(&r->right))
    mpfr_set_zero(&r->right, -1);
  return 1;
}
