/* shape.c - the leaves (input, param) and the ops that move values without arithmetic (reshape,
 * flatten, eval dropout): every face of each, side by side. */
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

/* ---- input: the region's box ---------------------------------------------------------------- */
tl_code tlv_ibp_input(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                      const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)b, (void)sem;
  int64_t N = g->nodes[id].numel;
  if (id != g->inputs[0] || reg->n != N)
    return tl_fail(st, TL_EARG, "verify: node %d: the region has %lld values, the input %lld", id,
                   (long long)reg->n, (long long)N);
  memcpy(lo, reg->lo, (size_t)N * sizeof *lo);
  memcpy(hi, reg->hi, (size_t)N * sizeof *hi);
  return TL_OK;
}

tl_code tlv_exact_input(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)st;
  qbox *y = &v[id];
  for (int64_t i = 0; i < g->nodes[id].numel; i++)
    mpq_set_d(y->lo[i], x[i]), mpq_set_d(y->hi[i], x[i]);
  return TL_OK;
}

tl_code tlv_fx_input(xst *X, int id, int *done) {
  const tl_node *n = &X->g->nodes[id];
  fxv *y = &X->f[id];
  if (!tlv_fxv_init(y, n->numel))
    return tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  X->kind[id] = XK_FX;
  y->s = 149;
  for (int64_t i = 0; i < n->numel; i++) {
    if (!isfinite(X->x[i]))
      return tl_fail(X->st, TL_EARG, "exact: input element %lld is not finite", (long long)i);
    int64_t m;
    long e;
    dsplit(X->x[i], &m, &e);
    set_m2e(y->v[i], m, e + 149);
  }
  *done = 1;
  return TL_OK;
}

/* ---- param: the weights (a point) ----------------------------------------------------------- */
tl_code tlv_ibp_param(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                      const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg, (void)b, (void)sem, (void)st;
  const tl_node *n = &g->nodes[id];
  for (int64_t i = 0; i < n->numel; i++)
    lo[i] = hi[i] = g->weights[n->woff + i];
  return TL_OK;
}

tl_code tlv_exact_param(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x, (void)st;
  const tl_node *n = &g->nodes[id];
  qbox *y = &v[id];
  for (int64_t i = 0; i < n->numel; i++)
    mpq_set_d(y->lo[i], g->weights[n->woff + i]), mpq_set_d(y->hi[i], g->weights[n->woff + i]);
  return TL_OK;
}

/* ---- reshape, flatten, dropout (eval): y = x ------------------------------------------------ */
tl_code tlv_ibp_copy(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                     const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg, (void)sem, (void)st;
  const tl_node *n = &g->nodes[id];
  int64_t N = n->numel;
  memcpy(lo, b->lo[n->parents[0]], (size_t)N * sizeof *lo);
  memcpy(hi, b->hi[n->parents[0]], (size_t)N * sizeof *hi);
  return TL_OK;
}

/* y = x (and neg: y = -x): the coefficients pass to the parent (times -1) */
tl_code tlv_back_copy(tlv_cstate *s, int v, const double *lam, int *done) {
  const tl_node *n = &s->g->nodes[v];
  int64_t N = n->numel;
  double *plo, *phi;
  TL_TRY(tlv_coef_get(s, n->parents[0], &plo, &phi));
  double sg = n->op == TL_OP_NEG ? -1.0 : 1.0;
  size_t tot = (size_t)s->m * (size_t)N;
  /* acc2 for every element, one rounding mode switch per pass (fesetround is slow) */
  rnd_down();
  for (size_t j = 0; j < tot; j++)
    plo[j] = plo[j] + lam[j] * sg;
  rnd_up();
  for (size_t j = 0; j < tot; j++)
    phi[j] = phi[j] + lam[j] * sg;
  *done = 1;
  return TL_OK;
}

tl_code tlv_exact_copy(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x, (void)st;
  qbox *y = &v[id], *p = &v[g->nodes[id].parents[0]];
  for (int64_t i = 0; i < g->nodes[id].numel; i++)
    mpq_set(y->lo[i], p->lo[i]), mpq_set(y->hi[i], p->hi[i]);
  return TL_OK;
}

tl_code tlv_fx_copy(xst *X, int id, int *done) {
  const fxv *p;
  TL_TRY(tlv_fx_begin(X, id, &p, done));
  if (!*done)
    return TL_OK;
  fxv *y = &X->f[id];
  for (int64_t i = 0; i < X->g->nodes[id].numel; i++)
    mpz_set(y->v[i], p->v[i]);
  return TL_OK;
}
