/* bound.c - one box of the input-splitting search: IBP and CROWN bounds, the verdict, the worst
 * undecided margin and the split choice (bab_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bab_internal.h"

/* slack of row r given its lower bound L: > 0 (or >= 0 for the rows decided at equality) decides it
 * (tl_objective_rows: safe rows hold when L > -d, unsafe rows fail when L > d) */
static double row_slack(const tl_property *p, int r, double L) {
  return p->unsafe ? L - p->d[r] : L + p->d[r];
}

/* The box's margin: unsafe DNF, the smallest over clauses of the best row slack (every clause must
 * have a failing row); safe DNF, the largest over clauses of the worst row slack.  *crit: the row that
 * sets it (the one to improve). */
static double box_margin(const tl_property *p, const double *L, int *crit) {
  double best = p->unsafe ? INFINITY : -INFINITY;
  *crit = 0;
  for (int k = 0; k < p->nclauses; k++) {
    double cv = p->unsafe ? -INFINITY : INFINITY;
    int cr = p->clause_start[k];
    for (int q = p->clause_start[k]; q < p->clause_start[k + 1]; q++) {
      double s = row_slack(p, q, L[q]);
      if (isnan(s))
        s = -INFINITY;
      if (p->unsafe ? s > cv : s < cv)
        cv = s, cr = q;
    }
    if (p->unsafe ? cv < best : cv > best)
      best = cv, *crit = cr;
  }
  return best;
}

static tl_verify_result *result_new(const bab_ctx *c) {
  tl_verify_result *res = calloc(1, sizeof *res);
  if (res && !(res->row_lower = malloc((size_t)c->p->nrows * sizeof *res->row_lower))) {
    free(res);
    return NULL;
  }
  if (res)
    res->nrows = c->p->nrows, res->method = TL_METHOD_CROWN, res->sem = c->o->sem;
  return res;
}

void bab_box_free(bab_box *x) {
  free(x->lo), free(x->hi), free(x->coef);
  tl_region_free(x->reg);
  tl_verify_result_free(x->res);
  memset(x, 0, sizeof *x);
}

tl_code bab_bound(bab_ctx *c, bab_box *x, tl_status *st) {
  int64_t m = c->p->nrows;
  TL_TRY(tl_region_box(&x->reg, x->lo, x->hi, c->n, st));
  tl_verify_result *rs = x->res = result_new(c);
  double *l2 = malloc((size_t)m * sizeof *l2);
  x->coef = malloc((size_t)(c->n ? c->n : 1) * sizeof *x->coef);
  tl_code rc = rs && l2 && x->coef ? TL_OK : tl_fail(st, TL_ENOMEM, "bab: out of memory");
  tl_bounds *b = NULL;
  if (rc == TL_OK)
    rc = tl_ibp_plan(c->pl, x->reg, c->o->sem, &b, st);
  if (rc == TL_OK)
    rc = tl_ibp_rows_plan(c->pl, x->reg, b, (int)m, c->a, rs->row_lower, st);
  if (rc == TL_OK) {
    memset(c->incoef, 0, (size_t)m * (size_t)c->n * sizeof *c->incoef);
    rc = tlv_crown_coef_plan(c->pl, x->reg, b, (int)m, c->a, c->o->intermediate_crown, c->o->alpha_steps, l2,
                             c->o->keep_evidence ? &rs->crown : NULL, c->incoef, st);
  }
  for (int k = 0; rc == TL_OK && k < m; k++)
    rs->row_lower[k] = fmax(rs->row_lower[k], l2[k]); /* both are sound lower bounds */
  if (rc == TL_OK) {
    rs->verdict = tl_property_decide(c->p, rs->row_lower) ? TL_VERDICT_VERIFIED : TL_VERDICT_UNKNOWN;
    x->margin = box_margin(c->p, rs->row_lower, &x->crit);
    memcpy(x->coef, c->incoef + (size_t)x->crit * (size_t)c->n, (size_t)c->n * sizeof *x->coef);
    if (c->o->keep_evidence)
      rs->bounds = b, b = NULL;
  }
  tl_bounds_free(b);
  free(l2);
  return rc;
}

double bab_split_at(double lo, double hi) {
  double at = lo + (hi - lo) / 2; /* hi - lo may round; at is then moved strictly inside */
  if (!isfinite(at))
    at = lo / 2 + hi / 2;
  if (!(at > lo))
    at = nextafter(lo, INFINITY);
  if (!(at < hi))
    at = nextafter(hi, -INFINITY);
  return at;
}

/* can [lo, hi] be cut at a double strictly inside? */
static int splittable(double lo, double hi) { return nextafter(lo, INFINITY) < hi; }

int bab_candidates(const bab_ctx *c, const double *lo, const double *hi, const double *coef, int k,
                   int *dims) {
  int cnt = 0, kk = k > 0 ? k : 1;
  for (int r = 0; r < kk; r++) { /* the kk largest smears |d(bound)/dx_i| x width_i, in order */
    int best = -1;
    double bs = 0;
    for (int64_t i = 0; i < c->n; i++) {
      double s = fabs(coef[i]) * (hi[i] - lo[i]);
      int taken = 0;
      for (int q = 0; q < cnt; q++)
        taken |= dims[q] == i;
      if (!taken && splittable(lo[i], hi[i]) && isfinite(s) && s > bs)
        bs = s, best = (int)i;
    }
    if (best < 0)
      break;
    dims[cnt++] = best;
  }
  int wide = -1; /* the widest dimension relative to the root: what the coefficients may not see */
  double wb = -1;
  for (int64_t i = 0; i < c->n; i++) {
    double w = c->rootw[i] > 0 ? (hi[i] - lo[i]) / c->rootw[i] : 0;
    if (splittable(lo[i], hi[i]) && w > wb)
      wb = w, wide = (int)i;
  }
  if (k <= 0 && cnt > 0)
    return cnt; /* the largest smear alone */
  for (int q = 0; q < cnt && wide >= 0; q++)
    if (dims[q] == wide)
      wide = -1;
  if (wide >= 0)
    dims[cnt++] = wide;
  return cnt;
}
