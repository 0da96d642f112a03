/* attack.c - counterexample search inside an open box of the input-splitting search: CROWN's worst
 * corner and the center, then (periodically) the PGD search of tl_verify_sample.  A point is reported
 * only when it lies in the box, its exact output (real-semantics IBP at the point or tl_exact_eval)
 * certainly violates the property, its float32 runtime output violates it too, and the caller's hook
 * accepts it (bab_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bab_internal.h"

/* nearest binary32 inside [lo, hi] to v, or 0 when the interval holds no float */
static int to_f32_in(double v, double lo, double hi, float *out) {
  float f = (float)v;
  if ((double)f < lo)
    f = nextafterf(f, INFINITY);
  if ((double)f > hi)
    f = nextafterf(f, -INFINITY);
  if (!((double)f >= lo && (double)f <= hi))
    return 0;
  *out = f;
  return 1;
}

/* Does the exact output at x certainly violate p?  A real-semantics IBP pass at the point encloses
 * it; when the enclosure does not decide and its midpoint looks violated, tl_exact_eval decides. */
static tl_code exact_violates(bab_ctx *c, const float *x, double *ylo, double *yhi, int *viol,
                              tl_status *st) {
  const tl_graph *g = c->g;
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  int64_t nout = c->p->nout;
  double *pt = malloc((size_t)(c->n ? c->n : 1) * sizeof *pt);
  if (!pt)
    return tl_fail(st, TL_ENOMEM, "bab: out of memory");
  for (int64_t i = 0; i < c->n; i++)
    pt[i] = x[i];
  tl_region *r = NULL;
  tl_bounds *b = NULL;
  tl_code rc = tl_region_box(&r, pt, pt, c->n, st);
  if (rc == TL_OK)
    rc = tl_ibp_plan(c->pl, r, TL_SEM_REAL, &b, st);
  int maybe = 1;
  *viol = 0;
  if (rc == TL_OK && tlv_box_finite(b->lo[out], b->hi[out], nout)) {
    *viol = tl_property_violated_exact(c->p, b->lo[out], b->hi[out]);
    for (int64_t j = 0; j < nout; j++)
      ylo[j] = b->lo[out][j] / 2 + b->hi[out][j] / 2; /* the midpoint */
    maybe = tl_property_violated_exact(c->p, ylo, ylo);
  }
  tl_bounds_free(b);
  tl_region_free(r);
  free(pt);
  if (rc == TL_OK && !*viol && maybe) {
    rc = tl_exact_eval(g, x, ylo, yhi, st);
    *viol = rc == TL_OK && tl_property_violated_exact(c->p, ylo, yhi);
  }
  return rc;
}

/* float32 runtime output at x violates p (a non-finite output counts, as in tl_verify_sample) */
static tl_code f32_violates(bab_ctx *c, const float *x, double *yd, int *viol, tl_status *st) {
  int64_t nout = c->p->nout;
  float *y = malloc((size_t)nout * sizeof *y);
  if (!y)
    return tl_fail(st, TL_ENOMEM, "bab: out of memory");
  tl_code rc = tl_verify_confirm_f32_runtime(c->g, x, y, st);
  int finite = 1;
  for (int64_t j = 0; rc == TL_OK && j < nout; j++)
    yd[j] = y[j], finite &= isfinite(y[j]) != 0;
  *viol = rc == TL_OK && (!finite || tl_property_violated_exact(c->p, yd, yd));
  free(y);
  return rc;
}

/* x confirmed exactly, in float32 and by the caller's hook: *cex gets a copy */
static tl_code confirm(bab_ctx *c, const float *x, float **cex, tl_status *st) {
  int64_t nout = c->p->nout;
  double *ylo = malloc((size_t)nout * sizeof *ylo), *yhi = malloc((size_t)nout * sizeof *yhi);
  tl_code rc = ylo && yhi ? TL_OK : tl_fail(st, TL_ENOMEM, "bab: out of memory");
  int ex = 0, f32 = 0, ok = 1;
  if (rc == TL_OK)
    rc = exact_violates(c, x, ylo, yhi, &ex, st);
  if (rc == TL_OK && ex)
    rc = f32_violates(c, x, ylo, &f32, st);
  if (rc == TL_OK && ex && f32 && c->o->accept_cex) {
    ok = c->o->accept_cex(c->o->accept_user, x);
    if (ok < 0)
      rc = tl_fail(st, TL_EVALUE, "bab: the counterexample confirmation failed");
  }
  if (rc == TL_OK && ex && f32 && ok > 0) {
    *cex = malloc((size_t)(c->n ? c->n : 1) * sizeof **cex);
    if (!*cex)
      rc = tl_fail(st, TL_ENOMEM, "bab: out of memory");
    else
      memcpy(*cex, x, (size_t)c->n * sizeof *x);
  }
  free(ylo), free(yhi);
  return rc;
}

tl_code bab_attack_points(bab_ctx *c, const tl_region *reg, const double *coef, float **cex, tl_status *st) {
  *cex = NULL;
  float *x = malloc((size_t)(c->n ? c->n : 1) * sizeof *x);
  if (!x)
    return tl_fail(st, TL_ENOMEM, "bab: out of memory");
  tl_code rc = TL_OK;
  for (int pt = 0; pt < 2 && rc == TL_OK && !*cex; pt++) { /* the worst corner, then the center */
    int ok = 1;
    for (int64_t i = 0; i < c->n && ok; i++) {
      double lo = reg->lo[i], hi = reg->hi[i], mid = lo / 2 + hi / 2;
      double v = pt == 1 ? mid : coef[i] > 0 ? lo : coef[i] < 0 ? hi : mid;
      ok = to_f32_in(v, lo, hi, &x[i]);
    }
    if (ok)
      rc = confirm(c, x, cex, st);
  }
  free(x);
  return rc;
}

tl_code bab_attack_pgd(bab_ctx *c, const tl_region *reg, uint64_t seed, float **cex, tl_status *st) {
  *cex = NULL;
  tl_verify_opts vo = tl_verify_opts_default();
  vo.method = TL_METHOD_IBP, vo.sem = c->o->sem, vo.falsify = 1, vo.seed = seed;
  vo.pgd_steps = c->o->pgd_steps, vo.pgd_restarts = c->o->pgd_restarts, vo.plan = c->pl;
  tl_verify_result *res = NULL;
  TL_TRY(tl_verify_sample(c->g, reg, c->p, &vo, &res, st));
  tl_code rc = TL_OK;
  if (res->verdict == TL_VERDICT_FALSIFIED && res->cex && res->cex_exact && res->cex_f32)
    rc = confirm(c, res->cex, cex, st); /* the same checks again, and the caller's hook */
  tl_verify_result_free(res);
  return rc;
}
