/* exact.c - exact (real-semantics) evaluation of a graph at one input point: the drivers and the
 * value stores; the per-op rules (rational and fixed point) are in rules/ (vrules.h).
 * Values are rational intervals [lo, hi] (GMP mpq): exact points for rational ops (affine, relu,
 * leaky relu, add, sub, mul, max pool, clamp, ...); sigmoid, tanh and the batch-norm scale are
 * enclosed with 256-bit MPFR outward rounding.  Used to confirm counterexamples and by tests. */
#include <gmp.h>
#include <limits.h>
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

static int qbox_init(qbox *q, int64_t n) {
  q->n = n;
  q->lo = malloc((size_t)(n ? n : 1) * sizeof(mpq_t));
  q->hi = malloc((size_t)(n ? n : 1) * sizeof(mpq_t));
  if (!q->lo || !q->hi) {
    free(q->lo), free(q->hi);
    q->lo = q->hi = NULL;
    return 0;
  }
  for (int64_t i = 0; i < n; i++)
    mpq_init(q->lo[i]), mpq_init(q->hi[i]);
  return 1;
}

static void qbox_clear(qbox *q) {
  if (!q->lo)
    return;
  for (int64_t i = 0; i < q->n; i++)
    mpq_clear(q->lo[i]), mpq_clear(q->hi[i]);
  free(q->lo), free(q->hi);
  q->lo = q->hi = NULL;
}

/* node id through its row of the rule table (INPUT reads x) */
static tl_code eval_node(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  const tlv_rule *r = tlv_rule_of(n->op);
  if (!r->exact)
    return tl_fail(st, TL_EUNSUPPORTED, "exact: node %d: op %s not supported", id, tl_op_get(n->op)->name);
  return r->exact(g, id, x, v, st);
}

tl_code tl_exact_eval_reference(const tl_graph *g, const float *x, double *ylo, double *yhi, tl_status *st) {
  if (g->ninputs != 1)
    return tl_fail(st, TL_EUNSUPPORTED, "exact: the graph must have exactly one input");
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  qbox *v = calloc((size_t)g->nnodes, sizeof *v);
  if (!v)
    return tl_fail(st, TL_ENOMEM, "exact: out of memory");
  tl_code rc = TL_OK;
  for (int i = 0; i <= out && rc == TL_OK; i++) {
    if (!qbox_init(&v[i], g->nodes[i].numel))
      rc = tl_fail(st, TL_ENOMEM, "exact: out of memory");
    else
      rc = eval_node(g, i, x, v, st);
  }
  if (rc == TL_OK) {
    mpfr_t f;
    mpfr_init2(f, 53);
    for (int64_t i = 0; i < v[out].n; i++) {
      mpfr_set_q(f, v[out].lo[i], MPFR_RNDD);
      ylo[i] = mpfr_get_d(f, MPFR_RNDD);
      mpfr_set_q(f, v[out].hi[i], MPFR_RNDU);
      yhi[i] = mpfr_get_d(f, MPFR_RNDU);
    }
    mpfr_clear(f);
  }
  for (int i = 0; i < g->nnodes; i++)
    qbox_clear(&v[i]);
  free(v);
  return rc;
}

/* ---- fast path: exact points in fixed point ------------------------------------------------
 * At a point input, every node computed only by rational ops (affine maps with binary32/binary64
 * weights, relu, neg, flatten, max pool, add, sub, mul) has an exact rational value; we keep a
 * whole node as integers v[i] with one common denominator 2^s den (den: 1, or a product of the
 * average-pool divisors), so sums of products are exact mpz accumulations without gcds.  A weight
 * w = m 2^e (m odd, |m| < 2^53) times v is added as m 2^(e - emin) v, split into bands of 32
 * binary exponents so that each step is one mpz_addmul_ui by m 2^((e - emin) mod 32) when
 * |m| < 2^32 (every binary32 weight).  Nodes of other ops (sigmoid, tanh, batch norm, leaky relu,
 * clamp, ...) and everything after them use the rational-interval path above; the value handed
 * over is the same rational, so results equal tl_exact_eval_reference's exactly. */
int tlv_fxv_init(fxv *f, int64_t n) {
  f->v = malloc((size_t)(n ? n : 1) * sizeof(mpz_t));
  if (!f->v)
    return 0;
  f->n = n, f->s = 0;
  for (int64_t i = 0; i < n; i++)
    mpz_init(f->v[i]);
  mpz_init_set_ui(f->den, 1);
  return 1;
}

static void fxv_clear(fxv *f) {
  if (!f->v)
    return;
  for (int64_t i = 0; i < f->n; i++)
    mpz_clear(f->v[i]);
  free(f->v);
  mpz_clear(f->den);
  f->v = NULL;
}

/* make the fixed-point value of node p available (PARAM nodes on demand); 0: p is not fixed point */
tl_code tlv_need_fx(xst *X, int p, int *ok) {
  *ok = 0;
  if (X->kind[p] == XK_FX) {
    *ok = 1;
    return TL_OK;
  }
  const tl_node *n = &X->g->nodes[p];
  if (X->kind[p] != XK_NONE || n->op != TL_OP_PARAM)
    return TL_OK;
  fxv *f = &X->f[p];
  if (!tlv_fxv_init(f, n->numel))
    return tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  X->kind[p] = XK_FX;
  f->s = 149;
  for (int64_t i = 0; i < n->numel; i++) {
    double w = X->g->weights[n->woff + i];
    if (!isfinite(w))
      return tl_fail(X->st, TL_EDOMAIN, "exact: node %d: weight %lld is not finite", p, (long long)i);
    int64_t m;
    long e;
    dsplit(w, &m, &e);
    set_m2e(f->v[i], m, e + 149); /* binary32: e >= -149 */
  }
  *ok = 1;
  return TL_OK;
}

/* make the rational-interval value of node p available */
static tl_code need_q(xst *X, int p) {
  if (X->kind[p] == XK_Q)
    return TL_OK;
  const tl_node *n = &X->g->nodes[p];
  if (!qbox_init(&X->q[p], n->numel))
    return tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  if (X->kind[p] == XK_NONE) {
    X->kind[p] = XK_Q;
    return eval_node(X->g, p, X->x, X->q, X->st);
  }
  fxv *f = &X->f[p];
  mpz_t d;
  mpz_init(d);
  mpz_mul_2exp(d, f->den, (mp_bitcnt_t)f->s);
  for (int64_t i = 0; i < n->numel; i++) {
    mpq_set_num(X->q[p].lo[i], f->v[i]);
    mpq_set_den(X->q[p].lo[i], d);
    mpq_canonicalize(X->q[p].lo[i]);
    mpq_set(X->q[p].hi[i], X->q[p].lo[i]);
  }
  mpz_clear(d);
  X->kind[p] = XK_Q;
  fxv_clear(f);
  return TL_OK;
}

tl_code tlv_fx_begin(xst *X, int id, const fxv **p, int *done) {
  const tl_node *n = &X->g->nodes[id];
  int ok0 = 0;
  TL_TRY(tlv_need_fx(X, n->parents[0], &ok0));
  if (!ok0)
    return TL_OK;
  *p = &X->f[n->parents[0]];
  fxv *y = &X->f[id];
  if (!tlv_fxv_init(y, n->numel))
    return tl_fail(X->st, TL_ENOMEM, "exact: out of memory");
  X->kind[id] = XK_FX;
  *done = 1;
  y->s = (*p)->s;
  mpz_set(y->den, (*p)->den);
  return TL_OK;
}

/* node id in fixed point from fixed-point parents (the op's fixed-point rule); *done = 0 when
 * the op has no fixed-point form (or its parents are not fixed point) */
static tl_code fx_node(xst *X, int id, int *done) {
  const tlv_rule *r = tlv_rule_of(X->g->nodes[id].op);
  *done = 0;
  return r->fx ? r->fx(X, id, done) : TL_OK;
}

tl_code tl_exact_eval(const tl_graph *g, const float *x, double *ylo, double *yhi, tl_status *st) {
  if (g->ninputs != 1)
    return tl_fail(st, TL_EUNSUPPORTED, "exact: the graph must have exactly one input");
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  xst X = {g,
           x,
           calloc((size_t)g->nnodes, 1),
           calloc((size_t)g->nnodes, sizeof(fxv)),
           calloc((size_t)g->nnodes, sizeof(qbox)),
           st};
  tl_code rc = X.kind && X.f && X.q ? TL_OK : tl_fail(st, TL_ENOMEM, "exact: out of memory");
  for (int i = 0; i <= out && rc == TL_OK; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op == TL_OP_PARAM && i != out)
      continue; /* on demand */
    int done = 0;
    rc = fx_node(&X, i, &done);
    if (rc != TL_OK || done)
      continue;
    if (X.kind[i] == XK_FX) /* partially built */
      continue;
    for (int k = 0; rc == TL_OK && k < n->nparents; k++) {
      int pk = n->parents[k];
      int used = k == 0 || n->op == TL_OP_ADD || n->op == TL_OP_SUB || n->op == TL_OP_MUL;
      if (used)
        rc = need_q(&X, pk);
    }
    if (rc == TL_OK)
      rc = need_q(&X, i);
  }
  if (rc == TL_OK && X.kind[out] == XK_FX)
    rc = need_q(&X, out);
  if (rc == TL_OK) {
    mpfr_t f;
    mpfr_init2(f, 53);
    for (int64_t i = 0; i < X.q[out].n; i++) {
      mpfr_set_q(f, X.q[out].lo[i], MPFR_RNDD);
      ylo[i] = mpfr_get_d(f, MPFR_RNDD);
      mpfr_set_q(f, X.q[out].hi[i], MPFR_RNDU);
      yhi[i] = mpfr_get_d(f, MPFR_RNDU);
    }
    mpfr_clear(f);
  }
  for (int i = 0; X.f && X.q && i < g->nnodes; i++)
    fxv_clear(&X.f[i]), qbox_clear(&X.q[i]);
  free(X.kind), free(X.f), free(X.q);
  return rc;
}
