/* any.c - the f32-any model: every primitive is the real enclosure of the op over the f32-any
 * enclosures of its arguments, widened by that primitive's rounding bound (docs/semantics.md):
 *  - correctly rounded ops (+ - * / sqrt, x^2, 1/x): round the enclosure outward to binary32
 *    (rounding to nearest is monotone, so fl(z) lies in [RD(lo), RU(hi)]; this also covers
 *    underflow and gives +-inf where an overflow may happen);
 *  - exact ops (neg, abs, max, min, relu): outward rounding is a no-op;
 *  - libm exp/log/tanh: outward rounding, then 2 TL_F32_LIBM_MAX_ULP + 1 more floats outward;
 *  - sums and dot products in any order/FMA: gamma bound of tl_f32_sum_error_bound (gamma_k, u and
 *    eta of include/torchlean/f32model.h, the model verify/ uses).
 * Constants are the hull of the real value and its float32 rounding. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "fxdot.h"
#include "interp.h"
#include "torchlean/f32model.h"
#include "torchlean/floats.h"

typedef struct any_scratch {
  tl_dom real;
  mpfi_t t;
  mpfr_t m, s, e;
  tl_fx fx; /* exact real dot and sum |x_i w_i| for float32 weights */
} any_scratch;

static void round_out(mpfi_ptr r) {
  if (mpfr_number_p(&r->left))
    mpfr_set_flt(&r->left, mpfr_get_flt(&r->left, MPFR_RNDD), MPFR_RNDD);
  if (mpfr_number_p(&r->right))
    mpfr_set_flt(&r->right, mpfr_get_flt(&r->right, MPFR_RNDU), MPFR_RNDU);
}

/* k more binary32 steps outward (after round_out) */
static void step_out(mpfi_ptr r, int k) {
  if (mpfr_number_p(&r->left)) {
    float f = mpfr_get_flt(&r->left, MPFR_RNDD);
    for (int i = 0; i < k; i++)
      f = nextafterf(f, -INFINITY);
    mpfr_set_flt(&r->left, f, MPFR_RNDD);
  }
  if (mpfr_number_p(&r->right)) {
    float f = mpfr_get_flt(&r->right, MPFR_RNDU);
    for (int i = 0; i < k; i++)
      f = nextafterf(f, INFINITY);
    mpfr_set_flt(&r->right, f, MPFR_RNDU);
  }
}

static any_scratch *S(tl_dom *d) { return d->user; }

static tl_code sync(tl_dom *d) {
  S(d)->real.node = d->node;
  S(d)->real.opname = d->opname;
  S(d)->real.st = d->st;
  return TL_OK;
}

static tl_code any_bin(tl_dom *d, tl_op op, mpfi_ptr r, mpfi_srcptr a, mpfi_srcptr b) {
  sync(d);
  TL_TRY(tl_real_bin(&S(d)->real, op, r, a, b));
  round_out(r);
  return TL_OK;
}

static tl_code any_un(tl_dom *d, int op, mpfi_ptr r, mpfi_srcptr a, double alpha) {
  sync(d);
  if (op == TL_OP_LEAKY_RELU && (double)(float)alpha != alpha) {
    /* the float evaluation uses (float)alpha: hull of both slopes */
    mpfi_ptr t = S(d)->t;
    TL_TRY(tl_real_un(&S(d)->real, op, t, a, (double)(float)alpha));
    TL_TRY(tl_real_un(&S(d)->real, op, r, a, alpha));
    mpfi_union(r, r, t);
  } else {
    TL_TRY(tl_real_un(&S(d)->real, op, r, a, alpha));
  }
  round_out(r);
  if (op == TL_OP_EXP || op == TL_OP_LOG || op == TL_OP_TANH)
    step_out(r, 2 * TL_F32_LIBM_MAX_ULP + 1);
  return TL_OK;
}

int tl_f32_sum_error_bound(mpfr_ptr err, int64_t n, int64_t n_products, mpfr_srcptr sum_abs) {
  int64_t m = n_products > 0 ? n : n - 1; /* roundings a leaf passes through, at most */
  if (m <= 0) {
    mpfr_set_zero(err, 1);
    return 0;
  }
  mpfr_t gam, t;
  mpfr_init2(gam, 64), mpfr_init2(t, 64);
  /* gamma_m = m u / (1 - m u) (include/torchlean/f32model.h): its exact numerator and
   * denominator (den <= 0: no bound), the quotient rounded up at 64 bits */
  double num, den;
  tl_f32_gamma_frac(m, &num, &den);
  mpfr_set_d(gam, num, MPFR_RNDU);
  mpfr_set_d(t, den, MPFR_RNDD);
  int ok = mpfr_sgn(t) > 0;
  if (ok) {
    mpfr_div(gam, gam, t, MPFR_RNDU);
    mpfr_mul(err, gam, sum_abs, MPFR_RNDU);
    if (n_products > 0) { /* + n eta/2 (1 + gamma) */
      mpfr_add_ui(t, gam, 1, MPFR_RNDU);
      mpfr_mul_si(t, t, (long)n_products, MPFR_RNDU);
      mpfr_mul_d(t, t, TL_F32_ETA / 2, MPFR_RNDU); /* exact: a power of two */
      mpfr_add(err, err, t, MPFR_RNDU);
    }
    /* every partial sum is bounded by (1 + gamma) sum_abs + err: overflow impossible below FLT_MAX */
    mpfr_add_ui(t, gam, 1, MPFR_RNDU);
    mpfr_mul(t, t, sum_abs, MPFR_RNDU);
    mpfr_add(t, t, err, MPFR_RNDU);
    ok = mpfr_cmp_d(t, (double)FLT_MAX) < 0;
  }
  if (!ok)
    mpfr_set_inf(err, 1);
  mpfr_clear(gam), mpfr_clear(t);
  return ok ? 0 : -1;
}

/* r (the real enclosure) widened by the any-order bound; s->s holds sum |x_i y_i| rounded up */
static tl_code any_widen(any_scratch *s, mpfi_ptr r, int64_t n, int products, mpfi_srcptr bias);

static tl_code any_dot(tl_dom *d, mpfi_ptr r, int64_t n, mpfi_srcptr *x, mpfi_srcptr *y, mpfi_srcptr bias) {
  sync(d);
  any_scratch *s = S(d);
  TL_TRY(tl_real_dot(&s->real, r, n, x, y, bias));
  /* sum_abs >= sum |x_i y_i| (+ |bias|), rounded up */
  mpfr_set_zero(s->s, 1);
  for (int64_t i = 0; i < n; i++) {
    mpfi_mag(s->m, x[i]);
    if (y) {
      mpfi_mag(s->e, y[i]);
      mpfr_mul(s->m, s->m, s->e, MPFR_RNDU);
    }
    mpfr_add(s->s, s->s, s->m, MPFR_RNDU);
  }
  return any_widen(s, r, n, y != NULL, bias);
}

/* float32 weights: the real part exactly (fxdot.h), sum |x_i w_i| = sum mag(x_i) |w_i| exactly,
 * rounded up once; then the same widening as any_dot */
static int any_fx_begin(tl_dom *d, const mpfi_t *x, int64_t n) { return tl_fx_begin(&S(d)->fx, x, n); }

static int any_fx_dot(tl_dom *d, mpfi_ptr r, int64_t n, int64_t x0, const int64_t *idx, const float *w,
                      int64_t ws, mpfi_srcptr bias) {
  any_scratch *s = S(d);
  if (!tl_fx_dot(&s->fx, r, n, x0, idx, w, ws, bias, s->s))
    return 0;
  return any_widen(s, r, n, 1, bias) == TL_OK;
}

static tl_code any_widen(any_scratch *s, mpfi_ptr r, int64_t n, int products, mpfi_srcptr bias) {
  mpfi_srcptr y = products ? r : NULL; /* only its nullness matters below */
  if (bias) {
    mpfi_mag(s->m, bias);
    mpfr_add(s->s, s->s, s->m, MPFR_RNDU);
  }
  int64_t nterms = n + (bias ? 1 : 0);
  if (!mpfr_number_p(s->s) || tl_f32_sum_error_bound(s->e, nterms, y ? n : 0, s->s) != 0) {
    mpfr_set_inf(&r->left, -1);
    mpfr_set_inf(&r->right, 1);
    return TL_OK;
  }
  mpfr_sub(&r->left, &r->left, s->e, MPFR_RNDD);
  mpfr_add(&r->right, &r->right, s->e, MPFR_RNDU);
  round_out(r);
  return TL_OK;
}

static void any_konst(tl_dom *d, mpfi_ptr r, double v) {
  mpfi_set_d(r, v);
  mpfi_put_d(r, (double)(float)v);
}

static void any_konst_id(tl_dom *d, mpfi_ptr r, tl_const_id id) {
  tl_real_konst_id(&S(d)->real, r, id);
  mpfi_put_d(r, id == TL_CONST_SQRT_2_OVER_PI ? (double)(float)0.7978845608028654 : (double)0.044715f);
}

struct tl_f32any_result {
  tl_interp_vals *vals;
};

void tl_f32any_result_free(tl_f32any_result *r) {
  if (!r)
    return;
  tl_interp_vals_free(r->vals);
  free(r);
}

tl_code tl_f32any_eval(const tl_spec_ctx *c, const tl_graph *g, const float *const *lo,
                       const float *const *hi, tl_f32any_result **out, tl_status *st) {
  *out = NULL;
  long prec = c ? c->prec : TL_SPEC_DEFAULT_PREC;
  if (prec < 53 || prec > 100000)
    return tl_fail(st, TL_EARG, "f32-any: precision %ld outside [53, 100000]", prec);
  if (g->ninputs > 0 && !lo)
    return tl_fail(st, TL_EARG, "f32-any: the graph has %d inputs but none were given", g->ninputs);
  tl_f32any_result *r = calloc(1, sizeof *r);
  if (!r)
    return tl_fail(st, TL_ENOMEM, "f32-any: out of memory");
  tl_code rc = tl_interp_vals_new(&r->vals, g, prec, st);
  for (int k = 0; k < g->ninputs && rc == TL_OK; k++) {
    int id = g->inputs[k];
    if (!lo[k]) {
      rc = tl_fail(st, TL_EARG, "f32-any: input %d (node %d) has no values", k, id);
      break;
    }
    for (int64_t i = 0; i < g->nodes[id].numel; i++) {
      float a = lo[k][i], b = hi && hi[k] ? hi[k][i] : a;
      if (isnan(a) || isnan(b) || a > b) {
        rc = tl_fail(st, TL_EARG, "f32-any: input %d (node %d) element %lld: bad interval [%g, %g]", k, id,
                     (long long)i, (double)a, (double)b);
        break;
      }
      mpfi_interv_d(r->vals->v[id][i], (double)a, (double)b);
    }
  }
  if (rc == TL_OK) {
    any_scratch *s = malloc(sizeof *s);
    if (!s) {
      tl_f32any_result_free(r);
      return tl_fail(st, TL_ENOMEM, "f32-any: out of memory");
    }
    tl_dom_real_init(&s->real, prec);
    mpfi_init2(s->t, prec);
    mpfr_init2(s->m, prec), mpfr_init2(s->s, prec), mpfr_init2(s->e, prec);
    tl_fx_init(&s->fx, 1);
    tl_dom d = {0};
    d.kind = TL_DOM_ANY;
    d.prec = prec;
    d.user = s;
    d.bin = any_bin;
    d.un = any_un;
    d.dot = any_dot;
    d.konst = any_konst;
    d.konst_id = any_konst_id;
    if (!(c && c->generic))
      d.fx_begin = any_fx_begin, d.fx_dot = any_fx_dot;
    rc = tl_interp_run(g, &d, r->vals, st);
    if (rc != TL_OK)
      tl_status_prefix(st, "f32-any: ");
    tl_dom_real_clear(&s->real);
    mpfi_clear(s->t);
    mpfr_clear(s->m), mpfr_clear(s->s), mpfr_clear(s->e);
    tl_fx_clear(&s->fx);
    free(s);
  }
  if (rc != TL_OK) {
    tl_f32any_result_free(r);
    return rc;
  }
  *out = r;
  return TL_OK;
}

mpfi_srcptr tl_f32any_value(const tl_f32any_result *r, int node, int64_t i) {
  TL_ASSERT(node >= 0 && node < r->vals->nnodes && i >= 0 && i < r->vals->numel[node]);
  return r->vals->v[node][i];
}

void tl_f32any_get_d(const tl_f32any_result *r, int node, int64_t i, double *lo, double *hi) {
  mpfi_srcptr v = tl_f32any_value(r, node, i);
  *lo = mpfr_get_d(&v->left, MPFR_RNDD);
  *hi = mpfr_get_d(&v->right, MPFR_RNDU);
}

int tl_f32any_contains(const tl_f32any_result *r, int node, int64_t i, float v) {
  if (isnan(v))
    return 0;
  mpfi_srcptr e = tl_f32any_value(r, node, i);
  return mpfr_cmp_d(&e->left, (double)v) <= 0 && mpfr_cmp_d(&e->right, (double)v) >= 0;
}

double tl_f32_ulp(double x) {
  x = fabs(x);
  if (!(x >= 0x1p-126) || isinf(x))
    return isinf(x) ? INFINITY : 0x1p-149;
  int e;
  frexp(x, &e); /* x = m 2^e, 0.5 <= m < 1: floor(log2 x) = e - 1 */
  int k = e - 1 - 23;
  return ldexp(1.0, k < -149 ? -149 : k);
}
