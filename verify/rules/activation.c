/* activation.c - relu, leaky relu, sigmoid, tanh and clamp: the IBP box, CROWN's relaxation
 * lines and backward rule, the exact value (and relu's fixed-point form), side by side.
 * f32-any: the rows of include/torchlean/f32model.h (applied by tlv_ibp_finish / tlv_elem_err). */
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

/* ---- directed values of sigmoid and tanh ---------------------------------------------------- */
/* sigmoid(x) = 1 / (1 + exp(-x)) with every step rounded in the direction that moves the result
 * the right way (up: exp(-x) down, 1 + . down, 1 / . up) */
static double act_dir(tl_op op, double x, int up) {
  mpfr_t t;
  mpfr_init2(t, 53);
  mpfr_set_d(t, x, MPFR_RNDN); /* exact */
  if (op == TL_OP_TANH) {
    mpfr_tanh(t, t, up ? MPFR_RNDU : MPFR_RNDD);
  } else {
    mpfr_neg(t, t, MPFR_RNDN);
    mpfr_exp(t, t, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_add_ui(t, t, 1, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_ui_div(t, 1, t, up ? MPFR_RNDU : MPFR_RNDD);
  }
  double r = mpfr_get_d(t, up ? MPFR_RNDU : MPFR_RNDD);
  mpfr_clear(t);
  return r;
}
double tlv_act_down(tl_op op, double x) { return act_dir(op, x, 0); }
double tlv_act_up(tl_op op, double x) { return act_dir(op, x, 1); }

double tlv_act_deriv_down(tl_op op, double x) {
  double lo = act_dir(op, x, 0), hi = act_dir(op, x, 1);
  int old = fegetround();
  double r;
  if (op == TL_OP_TANH) {
    rnd_up();
    double m = fmax(lo * lo, hi * hi);
    TLV_OPAQUE(m);
    rnd_down();
    r = 1.0 - m;
  } else {
    rnd_down();
    r = lo * (1.0 - hi); /* sigma' = sigma (1 - sigma), both factors positive */
  }
  TLV_OPAQUE(r);
  fesetround(old);
  return r < 0 ? 0 : r;
}

/* ---- IBP -------------------------------------------------------------------------------------- */
/* y = max(x, 0): exact */
tl_code tlv_ibp_relu(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                     const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg, (void)sem, (void)st;
  const tl_node *n = &g->nodes[id];
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  for (int64_t i = 0; i < n->numel; i++)
    lo[i] = vmax(xl[i], 0), hi[i] = vmax(xh[i], 0);
  return TL_OK;
}

static double leaky(double x, double al) { return x >= 0 ? x : al * x; }

/* y = x >= 0 ? x : alpha x, alpha in [2^-100, 1] or 0 (monotone) */
tl_code tlv_ibp_leaky_relu(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                           const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg;
  const tl_node *n = &g->nodes[id];
  int64_t N = n->numel;
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  double al = n->attrs.alpha;
  if (!(al >= 0 && al <= 1) || (al != 0 && al < 0x1p-100))
    return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d: leaky_relu alpha %g outside [2^-100, 1]", id, al);
  rnd_down();
  for (int64_t i = 0; i < N; i++)
    lo[i] = leaky(xl[i], al);
  rnd_up();
  for (int64_t i = 0; i < N; i++)
    hi[i] = leaky(xh[i], al);
  return tlv_ibp_finish(g, id, sem, lo, hi, st);
}

/* y = sigmoid(x), tanh(x): increasing, MPFR values rounded outward */
tl_code tlv_ibp_sigmoid_tanh(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                             const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg;
  const tl_node *n = &g->nodes[id];
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  for (int64_t i = 0; i < n->numel; i++)
    lo[i] = tlv_act_down(n->op, xl[i]), hi[i] = tlv_act_up(n->op, xh[i]);
  return tlv_ibp_finish(g, id, sem, lo, hi, st);
}

/* y = min(max(x, lo), hi): monotone, exact */
tl_code tlv_ibp_clamp(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                      const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg;
  const tl_node *n = &g->nodes[id];
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  for (int64_t i = 0; i < n->numel; i++) {
    lo[i] = fmin(fmax(xl[i], n->attrs.lo), n->attrs.hi);
    hi[i] = fmin(fmax(xh[i], n->attrs.lo), n->attrs.hi);
  }
  return tlv_ibp_finish(g, id, sem, lo, hi, st);
}

/* ---- CROWN ------------------------------------------------------------------------------------ */
/* relu / leaky relu lines on [l, u] */
static void relu_lines(tl_op op, double al, double l, double u, double *la, double *lb, double *ua,
                       double *ub) {
  if (op == TL_OP_RELU)
    al = 0;
  if (l >= 0) {
    *la = *ua = 1, *lb = *ub = 0;
  } else if (u <= 0) {
    *la = *ua = al, *lb = *ub = 0;
  } else {
    rnd_up();
    TLV_OPAQUE(l);
    TLV_OPAQUE(u);
    double a = (u - al * l) / (u - l);
    if (!(a >= al && a <= 1))
      a = 1;
    double t1 = al * l + (-a) * l, t2 = u + (-a) * u;
    *ua = a, *ub = fmax(fmax(t1, t2), 0);
    *la = u > -l ? 1 : al, *lb = 0;
  }
}

/* relaxation lines of one neuron on [l, u] (finite): relu / leaky relu the triangle (adaptive
 * lower slope); sigmoid / tanh chord and tangent on a convex or concave piece, else constants */
void tlv_act_lines(tl_op op, double al, double l, double u, double *la, double *lb, double *ua, double *ub) {
  if (op == TL_OP_RELU || op == TL_OP_LEAKY_RELU) {
    relu_lines(op, al, l, u, la, lb, ua, ub);
    return;
  }
  double fl_d = tlv_act_down(op, l), fl_u = tlv_act_up(op, l), fu_d = tlv_act_down(op, u),
         fu_u = tlv_act_up(op, u);
  if (!(l < u) || (l < 0 && u > 0)) {
    *la = *ua = 0, *lb = fl_d, *ub = fu_u;
    return;
  }
  double chord = (fu_u - fl_d) / (u - l);
  if (!(chord >= 0) || !isfinite(chord))
    chord = 0;
  /* the slope may be computed in any mode (the intercept is rounded for the slope it gets); the
   * operands are laundered after each switch, the intercepts before the next */
  if (u <= 0) { /* convex: upper chord, lower tangent at l */
    rnd_up();
    TLV_OPAQUE(l);
    TLV_OPAQUE(u);
    TLV_OPAQUE(chord);
    double b = fmax(fl_u + (-chord) * l, fu_u + (-chord) * u);
    TLV_OPAQUE(b);
    *ua = chord, *ub = b;
    double d = tlv_act_deriv_down(op, l);
    rnd_down();
    TLV_OPAQUE(l);
    b = fl_d + (-d) * l;
    TLV_OPAQUE(b);
    *la = d, *lb = b;
  } else { /* concave: lower chord, upper tangent at u */
    rnd_down();
    TLV_OPAQUE(l);
    TLV_OPAQUE(u);
    TLV_OPAQUE(chord);
    double b = fmin(fl_d + (-chord) * l, fu_d + (-chord) * u);
    TLV_OPAQUE(b);
    *la = chord, *lb = b;
    double d = tlv_act_deriv_down(op, u);
    rnd_up();
    TLV_OPAQUE(u);
    b = fu_u + (-d) * u;
    TLV_OPAQUE(b);
    *ua = d, *ub = b;
  }
}

/* lam f(x) >= lam (la x + lb) for lam > 0, lam (ua x + ub) for lam < 0 (the lines of
 * crown_run; an activation without lines, e.g. on an unbounded box, is concretised) */
tl_code tlv_back_act(tlv_cstate *s, int v, const double *lam, int *done) {
  const tl_node *n = &s->g->nodes[v];
  int64_t N = n->numel;
  int ai = s->act_of[v];
  if (ai < 0)
    return TL_OK;
  const tl_crown_act *A = &s->acts->acts[ai];
  double *plo, *phi;
  TL_TRY(tlv_coef_get(s, n->parents[0], &plo, &phi));
  if (s->b->sem == TL_SEM_F32_ANY && n->op != TL_OP_RELU)
    TL_TRY(tlv_pay_node_err(s, v, lam));
  /* the same products rounded down into the lower and up into the upper coefficients */
  for (int pass = 0; pass < 2; pass++) {
    pass ? rnd_up() : rnd_down();
    double *dst = pass ? phi : plo;
    for (int k = 0; k < s->m; k++)
      for (int64_t i = 0; i < N; i++) {
        size_t j = (size_t)k * N + i;
        double l = lam[j];
        if (l != 0)
          dst[j] = dst[j] + l * (l > 0 ? A->la[i] : A->ua[i]);
      }
  }
  rnd_down();
  for (int k = 0; k < s->m; k++)
    for (int64_t i = 0; i < N; i++) {
      double l = lam[(size_t)k * N + i];
      if (l != 0)
        s->cst[k] = s->cst[k] + l * (l > 0 ? A->lb[i] : A->ub[i]);
    }
  *done = 1;
  return TL_OK;
}

/* ---- exact ------------------------------------------------------------------------------------ */
/* relu, leaky relu: x >= 0 ? x : alpha x on both ends (alpha >= 0: monotone) */
tl_code tlv_exact_relu(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x;
  const tl_node *n = &g->nodes[id];
  qbox *y = &v[id], *p = &v[n->parents[0]];
  mpq_t u;
  mpq_init(u);
  mpq_set_d(u, n->op == TL_OP_RELU ? 0.0 : n->attrs.alpha);
  tl_code rc = TL_OK;
  if (mpq_sgn(u) < 0)
    rc = tl_fail(st, TL_EUNSUPPORTED, "exact: node %d: negative leaky_relu slope", id);
  for (int64_t i = 0; rc == TL_OK && i < n->numel; i++)
    for (int s = 0; s < 2; s++) {
      mpq_ptr r = s ? y->hi[i] : y->lo[i];
      mpq_srcptr xx = s ? p->hi[i] : p->lo[i];
      if (mpq_sgn(xx) >= 0)
        mpq_set(r, xx);
      else
        mpq_mul(r, xx, u);
    }
  mpq_clear(u);
  return rc;
}

/* r = f(x) rounded down (up = 0) or up, for sigmoid/tanh, as a rational */
static void act_q(mpq_t r, tl_op op, const mpq_t x, int up) {
  mpfr_t t;
  mpfr_init2(t, XPREC);
  mpfr_set_q(t, x, up ? MPFR_RNDU : MPFR_RNDD); /* f increasing */
  if (op == TL_OP_TANH) {
    mpfr_tanh(t, t, up ? MPFR_RNDU : MPFR_RNDD);
  } else {
    mpfr_neg(t, t, MPFR_RNDN);
    mpfr_exp(t, t, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_add_ui(t, t, 1, up ? MPFR_RNDD : MPFR_RNDU);
    mpfr_ui_div(t, 1, t, up ? MPFR_RNDU : MPFR_RNDD);
  }
  mpfr_get_q(r, t);
  mpfr_clear(t);
}

/* sigmoid, tanh: increasing, 256-bit MPFR rounded outward */
tl_code tlv_exact_sigmoid_tanh(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x, (void)st;
  const tl_node *n = &g->nodes[id];
  qbox *y = &v[id], *p = &v[n->parents[0]];
  for (int64_t i = 0; i < n->numel; i++)
    act_q(y->lo[i], n->op, p->lo[i], 0), act_q(y->hi[i], n->op, p->hi[i], 1);
  return TL_OK;
}

static void qmin(mpq_t r, const mpq_t a, const mpq_t b) { mpq_set(r, mpq_cmp(a, b) <= 0 ? a : b); }
static void qmax(mpq_t r, const mpq_t a, const mpq_t b) { mpq_set(r, mpq_cmp(a, b) >= 0 ? a : b); }

/* clamp: min(max(x, lo), hi) on both ends */
tl_code tlv_exact_clamp(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x, (void)st;
  const tl_node *n = &g->nodes[id];
  qbox *y = &v[id], *p = &v[n->parents[0]];
  mpq_t t, u;
  mpq_init(t), mpq_init(u);
  mpq_set_d(t, n->attrs.lo), mpq_set_d(u, n->attrs.hi);
  for (int64_t i = 0; i < n->numel; i++) {
    qmax(y->lo[i], p->lo[i], t), qmin(y->lo[i], y->lo[i], u);
    qmax(y->hi[i], p->hi[i], t), qmin(y->hi[i], y->hi[i], u);
  }
  mpq_clear(t), mpq_clear(u);
  return TL_OK;
}

/* relu in fixed point: max(v, 0) (the value starts at 0) */
tl_code tlv_fx_relu(xst *X, int id, int *done) {
  const fxv *p;
  TL_TRY(tlv_fx_begin(X, id, &p, done));
  if (!*done)
    return TL_OK;
  fxv *y = &X->f[id];
  for (int64_t i = 0; i < X->g->nodes[id].numel; i++)
    if (mpz_sgn(p->v[i]) > 0)
      mpz_set(y->v[i], p->v[i]);
  return TL_OK;
}
