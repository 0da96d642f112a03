/* oracle_prop.c - the oracle's exact tests of a property, of a claimed row bound and of a claimed
 * box on value enclosures (doubles that enclose the value), and its static checks (no sampling):
 * the region inside the verified box, a label's clause, the relaxation lines of CROWN samples. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <string.h>

#include "cm_oracle.h"

/* exact min and max of c.y over the enclosure ylo <= y <= yhi; 0, or -1 for a non-finite bound */
static int row_range(const mpq_t *c, int n, const double *ylo, const double *yhi, mpq_t mn, mpq_t mx) {
  mpq_t t;
  mpq_init(t);
  mpq_set_ui(mn, 0, 1), mpq_set_ui(mx, 0, 1);
  int rc = 0;
  for (int j = 0; j < n && rc == 0; j++) {
    if (!isfinite(ylo[j]) || !isfinite(yhi[j])) {
      rc = -1;
      break;
    }
    int pos = mpq_sgn(c[j]) > 0;
    mpq_set_d(t, pos ? ylo[j] : yhi[j]), mpq_mul(t, t, c[j]), mpq_add(mn, mn, t);
    mpq_set_d(t, pos ? yhi[j] : ylo[j]), mpq_mul(t, t, c[j]), mpq_add(mx, mx, t);
  }
  mpq_clear(t);
  return rc;
}

/* row r on the enclosure: +1 certainly holds, -1 certainly fails, 0 undecided */
static int row_state(const cmo_prop *p, int r, const double *ylo, const double *yhi) {
  mpq_t mn, mx;
  mpq_init(mn), mpq_init(mx);
  int s = 0;
  if (row_range(p->c + (size_t)r * p->nout, p->nout, ylo, yhi, mn, mx) == 0) {
    int hmx = mpq_cmp(mx, p->d[r]), fmn = mpq_cmp(mn, p->d[r]);
    if (p->strict[r] ? hmx < 0 : hmx <= 0)
      s = 1;
    else if (p->strict[r] ? fmn >= 0 : fmn > 0)
      s = -1;
  }
  mpq_clear(mn), mpq_clear(mx);
  return s;
}

int cmo_prop_eval(const cmo_prop *p, const double *ylo, const double *yhi) {
  int any_all_hold = 0, all_have_fail = 1;
  for (int k = 0; k < p->ncl; k++) {
    int all_hold = 1, has_fail = 0;
    for (int r = p->cstart[k]; r < p->cstart[k + 1]; r++) {
      int s = row_state(p, r, ylo, yhi);
      all_hold &= s == 1, has_fail |= s == -1;
    }
    any_all_hold |= all_hold, all_have_fail &= has_fail;
  }
  /* safe DNF: violated when every clause certainly fails; unsafe DNF: when some clause certainly holds */
  if (!p->unsafe)
    return all_have_fail ? 1 : any_all_hold ? -1 : 0;
  return any_all_hold ? 1 : all_have_fail ? -1 : 0;
}

int cmo_row_beaten(const cmo_prop *p, int k, const double *ylo, const double *yhi, const mpq_t L, int Lf) {
  if (Lf)
    return Lf > 0;
  mpq_t mn, mx;
  mpq_init(mn), mpq_init(mx);
  int rc = row_range(p->c + (size_t)k * p->nout, p->nout, ylo, yhi, mn, mx);
  /* a = c (unsafe rows) or -c (safe rows): max a.y is max c.y or -min c.y */
  if (!p->unsafe)
    mpq_neg(mx, mn);
  int beaten = rc == 0 && mpq_cmp(mx, L) < 0;
  mpq_clear(mn), mpq_clear(mx);
  return beaten;
}

double cmo_prop_score(const cmo_prop *p, const float *y) {
  double best = p->unsafe ? -INFINITY : INFINITY;
  for (int k = 0; k < p->ncl; k++) {
    double acc = p->unsafe ? INFINITY : -INFINITY;
    for (int r = p->cstart[k]; r < p->cstart[k + 1]; r++) {
      double v = -mpq_get_d(p->d[r]);
      for (int j = 0; j < p->nout; j++)
        v += mpq_get_d(p->c[(size_t)r * p->nout + j]) * y[j];
      acc = p->unsafe ? fmin(acc, -v) : fmax(acc, v); /* unsafe: all rows hold; safe: some row fails */
    }
    best = p->unsafe ? fmax(best, acc) : fmin(best, acc);
  }
  return best;
}

static int cmp_dq(double v, const mpq_t q) {
  mpq_t t;
  mpq_init(t);
  mpq_set_d(t, v);
  int r = mpq_cmp(t, q);
  mpq_clear(t);
  return r;
}

int cmo_outside(double lo, double hi, const mpq_t L, int Lf, const mpq_t H, int Hf) {
  if (isnan(lo) || isnan(hi))
    return 0;
  /* hi < L (a lower end of +inf is beaten by every finite value), or lo > H */
  int under = Lf > 0 ? hi < INFINITY : Lf < 0 ? 0 : isinf(hi) ? hi < 0 : cmp_dq(hi, L) < 0;
  int over = Hf < 0 ? lo > -INFINITY : Hf > 0 ? 0 : isinf(lo) ? lo > 0 : cmp_dq(lo, H) > 0;
  return under || over;
}

/* the label's clause: safe, one clause of nout - 1 rows e_j - e_t < 0 (docs/certificates.md) */
static int label_ok(const cmo_prop *p) {
  if (p->label < 0)
    return 1;
  if (p->unsafe || p->ncl != 1 || p->nrows != p->nout - 1)
    return 0;
  int r = 0;
  for (int j = 0; j < p->nout; j++) {
    if (j == p->label)
      continue;
    for (int i = 0; i < p->nout; i++) {
      int want = i == j ? 1 : i == p->label ? -1 : 0;
      if (mpq_cmp_si(p->c[(size_t)r * p->nout + i], want, 1) != 0)
        return 0;
    }
    if (mpq_sgn(p->d[r]) != 0 || !p->strict[r])
      return 0;
    r++;
  }
  return 1;
}

/* the exact region inside the claimed verified box */
static int region_in_box(const cmo_region *r) {
  for (int64_t i = 0; i < r->n; i++) {
    if (r->vlo.f[i] > 0 || (r->vlo.f[i] == 0 && mpq_cmp(r->lo[i], r->vlo.q[i]) < 0))
      return 0;
    if (r->vhi.f[i] < 0 || (r->vhi.f[i] == 0 && mpq_cmp(r->hi[i], r->vhi.q[i]) > 0))
      return 0;
  }
  return 1;
}

/* f(t) for an activation at the exact rational t, enclosed in [lo, hi] (MPFR, 256 bits) */
static void act_value(const tl_node *n, const mpq_t t, mpfr_t lo, mpfr_t hi) {
  if (n->op == TL_OP_SIGMOID || n->op == TL_OP_TANH) {
    mpfr_rnd_t rd[2] = {MPFR_RNDD, MPFR_RNDU};
    mpfr_ptr out[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
      mpfr_set_q(out[k], t, rd[k]);
      if (n->op == TL_OP_TANH)
        mpfr_tanh(out[k], out[k], rd[k]);
      else { /* 1 / (1 + e^-t): e^-t rounded the opposite way */
        mpfr_neg(out[k], out[k], MPFR_RNDN);
        mpfr_exp(out[k], out[k], rd[1 - k]);
        mpfr_add_ui(out[k], out[k], 1, rd[1 - k]);
        mpfr_ui_div(out[k], 1, out[k], rd[k]);
      }
    }
    return;
  }
  mpq_t v;
  mpq_init(v);
  mpq_set(v, t);
  if (mpq_sgn(t) < 0) {
    mpq_t a;
    mpq_init(a);
    mpq_set_d(a, n->op == TL_OP_LEAKY_RELU ? n->attrs.alpha : 0.0); /* the double alpha of the graph */
    mpq_mul(v, v, a);
    mpq_clear(a);
  }
  mpfr_set_q(lo, v, MPFR_RNDD), mpfr_set_q(hi, v, MPFR_RNDU);
  mpq_clear(v);
}

/* la t + lb <= f(t) <= ua t + ub at t (element i of activation a); 0, or -1 */
static int line_at(const cmo_act *a, int64_t i, const tl_node *n, const mpq_t t, mpfr_t lo, mpfr_t hi) {
  mpq_t l, u;
  mpq_init(l), mpq_init(u);
  mpq_mul(l, a->v[2].q[i], t), mpq_add(l, l, a->v[3].q[i]);
  mpq_mul(u, a->v[4].q[i], t), mpq_add(u, u, a->v[5].q[i]);
  act_value(n, t, lo, hi);
  int bad = mpfr_cmp_q(hi, l) < 0 || mpfr_cmp_q(lo, u) > 0;
  mpq_clear(l), mpq_clear(u);
  return bad ? -1 : 0;
}

/* the lines of one activation entry at the ends of each pre-activation box, 0 and interior points */
static int lines_ok(const tl_graph *g, const cmo_act *a, int64_t *bad_i) {
  const tl_node *n = &g->nodes[a->node];
  mpfr_t lo, hi;
  mpfr_inits2(256, lo, hi, (mpfr_ptr)0);
  mpq_t t, w;
  mpq_init(t), mpq_init(w);
  int rc = 0;
  for (int64_t i = 0; i < a->v[0].n && rc == 0; i++) {
    if (a->v[0].f[i] || a->v[1].f[i] || mpq_cmp(a->v[0].q[i], a->v[1].q[i]) > 0)
      continue; /* unbounded or empty: the sampled pre-activation values refute what is false */
    for (int k = 0; k <= 8 && rc == 0; k++) { /* t = lo + k/8 (hi - lo), and 0 when inside */
      mpq_sub(w, a->v[1].q[i], a->v[0].q[i]);
      mpq_set_ui(t, (unsigned long)k, 8), mpq_mul(t, t, w), mpq_add(t, t, a->v[0].q[i]);
      rc = line_at(a, i, n, t, lo, hi);
    }
    if (rc == 0 && mpq_sgn(a->v[0].q[i]) < 0 && mpq_sgn(a->v[1].q[i]) > 0)
      mpq_set_ui(t, 0, 1), rc = line_at(a, i, n, t, lo, hi);
    *bad_i = i;
  }
  mpq_clear(t), mpq_clear(w);
  mpfr_clears(lo, hi, (mpfr_ptr)0);
  return rc;
}

int cmo_static_checks(const tl_graph *g, const cmo_claim *c, char *why, size_t nwhy) {
  if (!c->reg.empty && !region_in_box(&c->reg))
    return snprintf(why, nwhy, "the region's verified box (lo, hi) does not contain the exact region"),
           OR_FALSE;
  if (!label_ok(&c->prop))
    return snprintf(why, nwhy, "label %d is not the class the property's clause proves", c->prop.label),
           OR_FALSE;
  for (int k = 0; k < c->nact; k++) {
    tl_op op = g->nodes[c->act[k].node].op;
    int64_t bi = 0;
    if (op != TL_OP_RELU && op != TL_OP_LEAKY_RELU && op != TL_OP_SIGMOID && op != TL_OP_TANH)
      return snprintf(why, nwhy, "crown entry %d names node %d, not an activation", k, c->act[k].node),
             OR_FALSE;
    if (lines_ok(g, &c->act[k], &bi))
      return snprintf(why, nwhy, "crown entry %d (node %d) index %lld: a line is not a relaxation on its box",
                      k, c->act[k].node, (long long)bi),
             OR_FALSE;
  }
  return OR_CONFIRMED;
}
