/* norm.c - eval batch norm y = (x - mean_c) s_c + beta_c, s_c = gamma_c / sqrt(var_c + eps): the
 * scale enclosure, the IBP box and f32-any error radius (f32model.h's TL_F32_BN row), CROWN's
 * backward rule and the exact value, side by side.  (Layer norm has no rule in verify/.) */
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

int64_t tlv_channel(const tl_node *n, int64_t o) {
  int64_t inner = 1;
  for (int i = 2; i < n->ndim; i++)
    inner *= n->shape[i];
  return (o / inner) % n->shape[1];
}

tl_code tlv_bn_scale(const tl_graph *g, int node, int64_t c, double *slo, double *shi) {
  const tl_node *n = &g->nodes[node];
  double gm = g->weights[g->nodes[n->parents[1]].woff + c];
  double var = g->weights[g->nodes[n->parents[4]].woff + c];
  int old = fegetround();
  double eps = n->attrs.eps;
  rnd_down();
  double tlo = var + eps;
  double sqlo = sqrt(tlo);
  TLV_OPAQUE(sqlo);
  rnd_up();
  TLV_OPAQUE(var);
  TLV_OPAQUE(eps);
  double thi = var + eps;
  double sqhi = sqrt(thi);
  if (!(tlo > 0) || !isfinite(thi)) {
    fesetround(old);
    return TL_EDOMAIN;
  }
  double hi = gm >= 0 ? gm / sqlo : gm / sqhi;
  TLV_OPAQUE(hi);
  rnd_down();
  TLV_OPAQUE(gm);
  TLV_OPAQUE(sqlo);
  TLV_OPAQUE(sqhi);
  double lo = gm >= 0 ? gm / sqhi : gm / sqlo;
  TLV_OPAQUE(lo);
  fesetround(old);
  *slo = lo, *shi = hi;
  return TL_OK;
}

/* ---- IBP ---------------------------------------------------------------------------------------- */
/* f32-any widening of element o (the TL_F32_BN row), and unbounded when the model's assumptions
 * may fail */
static void ibp_bn_f32(const tl_graph *g, const tl_node *n, int64_t o, int64_t c, const double *xl,
                       const double *xh, double slo, double shi, double *lo, double *hi) {
  const float *mu = g->weights + g->nodes[n->parents[3]].woff;
  const float *beta = g->weights + g->nodes[n->parents[2]].woff;
  const tl_f32_err *m = tl_f32_model(TL_OP_BATCH_NORM);
  rnd_up();
  double e =
      m->rel * (fmax(fabs(slo), fabs(shi)) * (fmax(fabs(xl[o]), fabs(xh[o])) + fabs(mu[c])) + fabs(beta[c])) +
      m->eabs;
  hi[o] = hi[o] + e;
  rnd_down();
  lo[o] = lo[o] - e;
  /* The 2^-20 model needs var + eps far from underflow (a subnormal (float)eps is off by up
   * to eta/2, relatively far more than u) and no overflowing intermediate in any formula
   * order (x - mu, its quotient by the root, gamma / root, products with x and mu): else
   * the node is unbounded. */
  double var = g->weights[g->nodes[n->parents[4]].woff + c];
  double gm = g->weights[g->nodes[n->parents[1]].woff + c];
  double ve = fmin(var + n->attrs.eps, var + (double)(float)n->attrs.eps); /* (float): rounded down */
  double sq = sqrt(ve);
  TLV_OPAQUE(sq); /* rounded down: never moved past the switch */
  rnd_up();
  double q = 1.0 / sq;
  double big = ((fmax(fabs(xl[o]), fabs(xh[o])) + fabs(mu[c]) + 1) * fmax(1.0, q) * fmax(1.0, fabs(gm)) +
                fabs(beta[c]) + fabs(var) + fabs(n->attrs.eps) + 1) *
               2;
  if (!(ve >= 0x1p-100) || !(big <= FLT_MAX))
    lo[o] = -INFINITY, hi[o] = INFINITY;
}

/* element o: (x - mu) [slo, shi] + beta in interval arithmetic */
static tl_code ibp_bn_elem(const tl_graph *g, int id, int64_t o, const double *xl, const double *xh,
                           tl_semantics sem, double *lo, double *hi, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  const float *mu = g->weights + g->nodes[n->parents[3]].woff;
  const float *beta = g->weights + g->nodes[n->parents[2]].woff;
  int64_t c = tlv_channel(n, o);
  double slo, shi;
  if (tlv_bn_scale(g, id, c, &slo, &shi) != TL_OK)
    return tl_fail(st, TL_EDOMAIN, "verify: node %d: batch norm variance + eps not positive (channel %lld)",
                   id, (long long)c);
  /* TLV_OPAQUE: without it the compiler reuses dl * slo rounded down as dl * slo rounded up */
  rnd_down();
  double dl = xl[o] - mu[c];
  double p1 = dl * slo, p2 = dl * shi;
  TLV_OPAQUE(p1);
  TLV_OPAQUE(p2);
  TLV_OPAQUE(dl);
  rnd_up();
  TLV_OPAQUE(slo);
  TLV_OPAQUE(shi);
  double dh = xh[o] - mu[c];
  double q1 = dh * slo, q2 = dh * shi;
  double h = fmax(fmax(dl * slo, dl * shi), fmax(q1, q2)) + beta[c];
  TLV_OPAQUE(h);
  TLV_OPAQUE(dh);
  rnd_down();
  TLV_OPAQUE(slo);
  TLV_OPAQUE(shi);
  double l = fmin(fmin(p1, p2), fmin(dh * slo, dh * shi)) + beta[c];
  TLV_OPAQUE(l);
  lo[o] = l, hi[o] = h;
  if (sem == TL_SEM_F32_ANY)
    ibp_bn_f32(g, n, o, c, xl, xh, slo, shi, lo, hi);
  return TL_OK;
}

tl_code tlv_ibp_batch_norm(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                           const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg;
  const tl_node *n = &g->nodes[id];
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  for (int64_t o = 0; o < n->numel; o++)
    TL_TRY(ibp_bn_elem(g, id, o, xl, xh, sem, lo, hi, st));
  return tlv_ibp_finish(g, id, sem, lo, hi, st);
}

/* E[o] = rel (|s| (|x| + |mean|) + |beta|) + eabs, rounded up (the TL_F32_BN row) */
tl_code tlv_bn_err(const tl_graph *g, int id, const tl_bounds *b, double *E, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  const tl_f32_err *m = tl_f32_model(TL_OP_BATCH_NORM);
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  const float *mu = g->weights + g->nodes[n->parents[3]].woff;
  const float *beta = g->weights + g->nodes[n->parents[2]].woff;
  for (int64_t o = 0; o < n->numel; o++) {
    int64_t c = tlv_channel(n, o);
    double slo, shi;
    if (tlv_bn_scale(g, id, c, &slo, &shi) != TL_OK)
      return tl_fail(st, TL_EDOMAIN, "verify: node %d: batch norm variance + eps not positive", id);
    rnd_up();
    E[o] = m->rel *
               (fmax(fabs(slo), fabs(shi)) * (fmax(fabs(xl[o]), fabs(xh[o])) + fabs(mu[c])) + fabs(beta[c])) +
           m->eabs;
  }
  return TL_OK;
}

/* ---- CROWN: l y = (l s) x + l beta - (l mu) s, s in [slo, shi] ------------------------------- */
/* one coefficient l of element j (channel c): the constant is bounded in interval arithmetic
 * ([pl, ph] encloses l mu; rounding -l slo down and then multiplying by a negative mean would
 * round the wrong way); every operand is laundered after each switch (l * mu, l * slo, l * shi
 * are each evaluated in both modes), every result before the next one */
static void back_bn_coef(double l, double slo, double shi, double mu, double beta, double *plo, double *phi,
                         double *cst) {
  rnd_down();
  TLV_OPAQUE(l);
  TLV_OPAQUE(slo);
  TLV_OPAQUE(shi);
  double pl = l * mu;
  TLV_OPAQUE(pl);
  rnd_up();
  TLV_OPAQUE(l);
  TLV_OPAQUE(slo);
  TLV_OPAQUE(shi);
  double ph = l * mu;
  double cm = -fmax(fmax(pl * slo, pl * shi), fmax(ph * slo, ph * shi)); /* <= -(l mu) s */
  TLV_OPAQUE(cm);
  rnd_down();
  TLV_OPAQUE(l);
  TLV_OPAQUE(slo);
  TLV_OPAQUE(shi);
  *plo = *plo + fmin(l * slo, l * shi);
  *cst = *cst + l * beta + cm;
  rnd_up();
  TLV_OPAQUE(l);
  TLV_OPAQUE(slo);
  TLV_OPAQUE(shi);
  *phi = *phi + fmax(l * slo, l * shi);
}

tl_code tlv_back_batch_norm(tlv_cstate *s, int v, const double *lam, int *done) {
  const tl_graph *g = s->g;
  const tl_node *n = &g->nodes[v];
  int64_t N = n->numel;
  double *plo, *phi;
  *done = 1;
  TL_TRY(tlv_coef_get(s, n->parents[0], &plo, &phi));
  if (s->b->sem == TL_SEM_F32_ANY)
    TL_TRY(tlv_pay_node_err(s, v, lam));
  const float *mu = g->weights + g->nodes[n->parents[3]].woff;
  const float *beta = g->weights + g->nodes[n->parents[2]].woff;
  for (int64_t i = 0; i < N; i++) {
    int64_t c = tlv_channel(n, i);
    double slo, shi;
    if (tlv_bn_scale(g, v, c, &slo, &shi) != TL_OK)
      return tl_fail(s->st, TL_EDOMAIN, "verify: node %d: batch norm variance + eps not positive", v);
    for (int k = 0; k < s->m; k++) {
      size_t j = (size_t)k * N + i;
      double l = lam[j];
      if (l == 0)
        continue;
      back_bn_coef(l, slo, shi, (double)mu[c], (double)beta[c], &plo[j], &phi[j], &s->cst[k]);
    }
  }
  return TL_OK;
}

/* ---- exact ------------------------------------------------------------------------------------ */
/* enclosure of gamma / sqrt(var + eps) */
static void bn_scale_q(mpq_t slo, mpq_t shi, double gm, double var, double eps) {
  mpfr_t a, b;
  mpfr_init2(a, XPREC), mpfr_init2(b, XPREC);
  for (int up = 0; up < 2; up++) {
    /* gamma >= 0: result increases when sqrt decreases */
    int sq_up = (gm >= 0) ? !up : up;
    mpfr_set_d(a, var, MPFR_RNDN);
    mpfr_add_d(a, a, eps, sq_up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_sqrt(a, a, sq_up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_set_d(b, gm, MPFR_RNDN);
    mpfr_div(b, b, a, up ? MPFR_RNDU : MPFR_RNDD);
    mpfr_get_q(up ? shi : slo, b);
  }
  mpfr_clear(a), mpfr_clear(b);
}

tl_code tlv_exact_batch_norm(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x;
  const tl_node *n = &g->nodes[id];
  qbox *y = &v[id], *p = &v[n->parents[0]];
  const float *gm = g->weights + g->nodes[n->parents[1]].woff,
              *bt = g->weights + g->nodes[n->parents[2]].woff;
  const float *mu = g->weights + g->nodes[n->parents[3]].woff,
              *var = g->weights + g->nodes[n->parents[4]].woff;
  tl_code rc = TL_OK;
  mpq_t t, sl, sh, dl, dh;
  mpq_init(t), mpq_init(sl), mpq_init(sh), mpq_init(dl), mpq_init(dh);
  for (int64_t o = 0; o < n->numel; o++) {
    int64_t c = tlv_channel(n, o);
    if (!((double)var[c] + n->attrs.eps > 0)) {
      rc = tl_fail(st, TL_EDOMAIN, "exact: node %d: variance + eps not positive", id);
      break;
    }
    bn_scale_q(sl, sh, gm[c], var[c], n->attrs.eps);
    mpq_set_d(t, mu[c]);
    mpq_sub(dl, p->lo[o], t), mpq_sub(dh, p->hi[o], t);
    tlv_qmul_iv(y->lo[o], y->hi[o], dl, dh, sl, sh);
    mpq_set_d(t, bt[c]);
    mpq_add(y->lo[o], y->lo[o], t), mpq_add(y->hi[o], y->hi[o], t);
  }
  mpq_clear(t), mpq_clear(sl), mpq_clear(sh), mpq_clear(dl), mpq_clear(dh);
  return rc;
}
