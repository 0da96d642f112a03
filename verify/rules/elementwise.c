/* elementwise.c - neg and the broadcasting binary ops add, sub, mul: the IBP box, CROWN's
 * backward rule (mul: one operand a parameter), the exact value and the fixed-point form, side
 * by side.  f32-any: the rows of include/torchlean/f32model.h. */
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

/* ---- neg: y = -x (exact) ---------------------------------------------------------------------- */
tl_code tlv_ibp_neg(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                    const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg, (void)sem, (void)st;
  const tl_node *n = &g->nodes[id];
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  for (int64_t i = 0; i < n->numel; i++)
    lo[i] = -xh[i], hi[i] = -xl[i];
  return TL_OK;
}
/* CROWN: tlv_back_copy (shape.c) with the sign */

tl_code tlv_exact_neg(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x, (void)st;
  qbox *y = &v[id], *p = &v[g->nodes[id].parents[0]];
  for (int64_t i = 0; i < g->nodes[id].numel; i++)
    mpq_neg(y->lo[i], p->hi[i]), mpq_neg(y->hi[i], p->lo[i]);
  return TL_OK;
}

tl_code tlv_fx_neg(xst *X, int id, int *done) {
  const fxv *p;
  TL_TRY(tlv_fx_begin(X, id, &p, done));
  if (!*done)
    return TL_OK;
  fxv *y = &X->f[id];
  for (int64_t i = 0; i < X->g->nodes[id].numel; i++)
    mpz_neg(y->v[i], p->v[i]);
  return TL_OK;
}

/* ---- add, sub, mul: y = a + b, a - b, a b (broadcasting) ------------------------------------- */
/* dst = src + c (op 0), src - c (op 1), src * c (op 2) */
TLV_CLONES static void scalar_pass(double *dst, const double *src, double c, int op, int64_t n) {
  if (op == 0)
    for (int64_t o = 0; o < n; o++)
      dst[o] = src[o] + c;
  else if (op == 1)
    for (int64_t o = 0; o < n; o++)
      dst[o] = src[o] - c;
  else
    for (int64_t o = 0; o < n; o++)
      dst[o] = src[o] * c;
}

/* one variable operand, one one-element constant operand (input normalisation): no broadcasting,
 * and a product with a constant c is monotone (the min / max of the four products is xl c or xh c) */
static void ibp_scalar(const tl_node *n, const double *xl, const double *xh, double cv, double *lo,
                       double *hi) {
  int64_t N = n->numel;
  for (int pass = 0; pass < 2; pass++) {
    pass ? rnd_up() : rnd_down();
    double *dst = pass ? hi : lo;
    const double *src = n->op == TL_OP_SUB         ? (pass ? xh : xl)
                        : n->op == TL_OP_ADD       ? (pass ? xh : xl)
                        : (cv >= 0) == (pass != 0) ? xh
                                                   : xl;
    scalar_pass(dst, src, cv, n->op == TL_OP_ADD ? 0 : n->op == TL_OP_SUB ? 1 : 2, N);
  }
}

tl_code tlv_ibp_binary(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                       const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg;
  const tl_node *n = &g->nodes[id];
  int64_t N = n->numel;
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  tl_bcast bc;
  TL_TRY(tlv_bcast_init(g, id, &bc, st));
  const double *yl = b->lo[n->parents[1]], *yh = b->hi[n->parents[1]];
  if (g->nodes[n->parents[1]].numel == 1 && yl[0] == yh[0] && bc.trivial[0] == 1) {
    ibp_scalar(n, xl, xh, yl[0], lo, hi);
    return tlv_ibp_finish(g, id, sem, lo, hi, st);
  }
  for (int pass = 0; pass < 2; pass++) {
    pass ? rnd_up() : rnd_down();
    for (int64_t o = 0; o < N; o++) {
      int64_t i = tlv_bcast_index(&bc, 0, o), j = tlv_bcast_index(&bc, 1, o);
      double v;
      if (n->op == TL_OP_ADD)
        v = pass ? xh[i] + yh[j] : xl[i] + yl[j];
      else if (n->op == TL_OP_SUB)
        v = pass ? xh[i] - yl[j] : xl[i] - yh[j];
      else {
        double p1 = xl[i] * yl[j], p2 = xl[i] * yh[j], p3 = xh[i] * yl[j], p4 = xh[i] * yh[j];
        v = pass ? vmax(vmax(p1, p2), vmax(p3, p4)) : vmin(vmin(p1, p2), vmin(p3, p4));
      }
      (pass ? hi : lo)[o] = v;
    }
  }
  return tlv_ibp_finish(g, id, sem, lo, hi, st);
}

/* CROWN, one variable operand indexed like the output and a one-element constant: the same sums
 * as back_bcast without broadcasting */
static void back_scalar(tlv_cstate *s, const tl_node *n, const double *lam, int c0, double *q0l, double *q0h,
                        double *q1l, double *q1h) {
  int64_t N = n->numel;
  double sg1 = n->op == TL_OP_SUB ? -1.0 : 1.0;
  int vk = c0 ? 1 : 0, ck = 1 - vk;
  double cval = s->b->lo[n->parents[ck]][0];
  double f = n->op == TL_OP_MUL ? cval : vk == 1 ? sg1 : 1.0;       /* coefficient of the variable */
  double fc = n->op == TL_OP_MUL ? 0 : ck == 1 ? sg1 * cval : cval; /* constant term */
  for (int pass = 0; pass < 2; pass++) {
    pass ? rnd_up() : rnd_down();
    double *d = vk ? (pass ? q1h : q1l) : (pass ? q0h : q0l);
    for (int k = 0; k < s->m; k++) {
      const double *lk = lam + (size_t)k * N;
      double *dk = d + (size_t)k * N;
      double cs = 0;
      for (int64_t o = 0; o < N; o++) {
        double l = lk[o];
        if (l == 0)
          continue;
        dk[o] = dk[o] + l * f;
        if (n->op != TL_OP_MUL && !pass)
          cs = cs + l * fc;
      }
      if (!pass && n->op != TL_OP_MUL)
        s->cst[k] = s->cst[k] + cs;
    }
  }
}

/* CROWN with broadcasting: what acc2 does per element, as two passes: products rounded down into
 * the lower coefficients and the constant, then up into the upper coefficients */
static void back_bcast(tlv_cstate *s, const tl_node *n, const tl_bcast *bc, const double *lam, int c0, int c1,
                       double *q0l, double *q0h, double *q1l, double *q1h) {
  const tl_graph *g = s->g;
  int64_t N = n->numel;
  int p0 = n->parents[0], p1 = n->parents[1];
  int64_t n0 = g->nodes[p0].numel, n1 = g->nodes[p1].numel;
  double sg1 = n->op == TL_OP_SUB ? -1.0 : 1.0;
  for (int pass = 0; pass < 2; pass++) {
    pass ? rnd_up() : rnd_down();
    double *d0 = pass ? q0h : q0l, *d1 = pass ? q1h : q1l;
    for (int k = 0; k < s->m; k++)
      for (int64_t o = 0; o < N; o++) {
        double l = lam[(size_t)k * N + o];
        if (l == 0)
          continue;
        int64_t i0 = tlv_bcast_index(bc, 0, o), i1 = tlv_bcast_index(bc, 1, o);
        if (n->op == TL_OP_MUL) {
          double cval = c0 ? s->b->lo[p0][i0] : s->b->lo[p1][i1];
          if (!c0)
            d0[(size_t)k * n0 + i0] = d0[(size_t)k * n0 + i0] + l * cval;
          else
            d1[(size_t)k * n1 + i1] = d1[(size_t)k * n1 + i1] + l * cval;
          continue;
        }
        if (c0) {
          if (!pass)
            s->cst[k] = s->cst[k] + l * s->b->lo[p0][i0];
        } else {
          d0[(size_t)k * n0 + i0] = d0[(size_t)k * n0 + i0] + l * 1.0;
        }
        if (c1) {
          if (!pass)
            s->cst[k] = s->cst[k] + l * sg1 * s->b->lo[p1][i1];
        } else {
          d1[(size_t)k * n1 + i1] = d1[(size_t)k * n1 + i1] + l * sg1;
        }
      }
  }
}

/* lam (a + b) = lam a + lam b (sub: - lam b); a constant (parameter) operand goes into the
 * constant; mul: lam c x with c the parameter operand (a product of two variables is concretised) */
tl_code tlv_back_binary(tlv_cstate *s, int v, const double *lam, int *done) {
  const tl_graph *g = s->g;
  const tl_node *n = &g->nodes[v];
  int p0 = n->parents[0], p1 = n->parents[1];
  int c0 = g->nodes[p0].op == TL_OP_PARAM, c1 = g->nodes[p1].op == TL_OP_PARAM;
  if (n->op == TL_OP_MUL && c0 == c1)
    return TL_OK; /* product of two variables: concretise */
  tl_bcast bc;
  TL_TRY(tlv_bcast_init(g, v, &bc, s->st));
  if (s->b->sem == TL_SEM_F32_ANY)
    TL_TRY(tlv_pay_node_err(s, v, lam));
  double *q0l = NULL, *q0h = NULL, *q1l = NULL, *q1h = NULL;
  if (!c0)
    TL_TRY(tlv_coef_get(s, p0, &q0l, &q0h));
  if (!c1)
    TL_TRY(tlv_coef_get(s, p1, &q1l, &q1h));
  int vk = c0 ? 1 : 0, ck = 1 - vk;
  *done = 1;
  if (c0 != c1 && g->nodes[n->parents[ck]].numel == 1 && bc.trivial[vk] == 1)
    back_scalar(s, n, lam, c0, q0l, q0h, q1l, q1h);
  else
    back_bcast(s, n, &bc, lam, c0, c1, q0l, q0h, q1l, q1h);
  return TL_OK;
}

void tlv_qmul_iv(mpq_t rl, mpq_t rh, const mpq_t al, const mpq_t ah, const mpq_t bl, const mpq_t bh) {
  mpq_t p[4];
  for (int i = 0; i < 4; i++)
    mpq_init(p[i]);
  mpq_mul(p[0], al, bl), mpq_mul(p[1], al, bh), mpq_mul(p[2], ah, bl), mpq_mul(p[3], ah, bh);
  mpq_set(rl, p[0]), mpq_set(rh, p[0]);
  for (int i = 1; i < 4; i++) {
    if (mpq_cmp(p[i], rl) < 0)
      mpq_set(rl, p[i]);
    if (mpq_cmp(p[i], rh) > 0)
      mpq_set(rh, p[i]);
  }
  for (int i = 0; i < 4; i++)
    mpq_clear(p[i]);
}

tl_code tlv_exact_binary(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x;
  const tl_node *n = &g->nodes[id];
  qbox *y = &v[id], *p = &v[n->parents[0]], *q = &v[n->parents[1]];
  tl_bcast bc;
  tl_code rc = tlv_bcast_init(g, id, &bc, st);
  for (int64_t o = 0; rc == TL_OK && o < n->numel; o++) {
    int64_t i = tlv_bcast_index(&bc, 0, o), j = tlv_bcast_index(&bc, 1, o);
    if (n->op == TL_OP_ADD)
      mpq_add(y->lo[o], p->lo[i], q->lo[j]), mpq_add(y->hi[o], p->hi[i], q->hi[j]);
    else if (n->op == TL_OP_SUB)
      mpq_sub(y->lo[o], p->lo[i], q->hi[j]), mpq_sub(y->hi[o], p->hi[i], q->lo[j]);
    else
      tlv_qmul_iv(y->lo[o], y->hi[o], p->lo[i], p->hi[i], q->lo[j], q->hi[j]);
  }
  return rc;
}

/* fixed point: sums on the common scale (and denominator), products of scales */
static void fx_binary_body(const tl_node *n, const tl_bcast *bc, const fxv *p, const fxv *q, fxv *y) {
  int same = mpz_cmp(p->den, q->den) == 0;
  long s = p->s > q->s ? p->s : q->s;
  mpz_t u, w;
  mpz_init(u), mpz_init(w);
  if (n->op == TL_OP_MUL) {
    y->s = p->s + q->s;
    mpz_mul(y->den, p->den, q->den);
  } else {
    y->s = s;
    if (!same)
      mpz_mul(y->den, p->den, q->den);
  }
  for (int64_t o = 0; o < n->numel; o++) {
    int64_t i = tlv_bcast_index(bc, 0, o), j = tlv_bcast_index(bc, 1, o);
    if (n->op == TL_OP_MUL) {
      mpz_mul(y->v[o], p->v[i], q->v[j]);
      continue;
    }
    mpz_mul_2exp(u, p->v[i], (mp_bitcnt_t)(s - p->s));
    mpz_mul_2exp(w, q->v[j], (mp_bitcnt_t)(s - q->s));
    if (!same)
      mpz_mul(u, u, q->den), mpz_mul(w, w, p->den);
    if (n->op == TL_OP_ADD)
      mpz_add(y->v[o], u, w);
    else
      mpz_sub(y->v[o], u, w);
  }
  mpz_clear(u), mpz_clear(w);
}

tl_code tlv_fx_binary(xst *X, int id, int *done) {
  const tl_node *n = &X->g->nodes[id];
  int ok1 = 0;
  TL_TRY(tlv_need_fx(X, n->parents[1], &ok1));
  if (!ok1)
    return TL_OK;
  const fxv *p;
  TL_TRY(tlv_fx_begin(X, id, &p, done));
  if (!*done)
    return TL_OK;
  const fxv *q = &X->f[n->parents[1]];
  tl_bcast bc;
  TL_TRY(tlv_bcast_init(X->g, id, &bc, X->st));
  fx_binary_body(n, &bc, p, q, &X->f[id]);
  return TL_OK;
}
