/* claims.c - torchlean-check: the claims of a sample beyond its bounds: the robustness label bound
 * to the property's clause, and a falsified verdict's counterexample re-checked (in the exact
 * region; the property violated by its exact output (real) or by every binary32 evaluation
 * (f32-any), decided on the enclosure the box rules derive from the point). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <math.h>

/* property.label (optional, an integer in [0, nout)): the property must then be exactly the
 * robustness of that class: one safe clause whose rows are y_j - y_label < 0 for j != label, in
 * increasing j (the form docs/certificates.md defines) */
int check_label(ctx *c, const cJSON *pj, const prop *p) {
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(pj, "label");
  if (!l)
    return OK;
  double v = cJSON_IsNumber(l) ? l->valuedouble : -1;
  if (!(v >= 0 && v < (double)p->nout && v == (double)(int64_t)v))
    return fail(c, BAD, "malformed: property.label must be an integer in [0, %lld)", (long long)p->nout);
  int64_t t = (int64_t)v;
  int ok = !p->unsafe && p->nclauses == 1 && p->nrows == p->nout - 1;
  for (int64_t j = 0, r = 0; ok && j < p->nout; j++) {
    if (j == t)
      continue;
    for (int64_t k = 0; ok && k < p->nout; k++)
      ok = mpq_cmp_si(p->cf[(size_t)r * p->nout + k], (k == j) - (k == t), 1) == 0;
    ok = ok && mpq_sgn(p->d[r]) == 0 && p->strict[r];
    r++;
  }
  if (!ok)
    return fail(c, REJ,
                "REJECT: property.label %lld does not match the property (not the robustness clause "
                "y_j - y_%lld < 0 for all j != %lld) (node -1, index 0)",
                (long long)t, (long long)t, (long long)t);
  return OK;
}

/* the point x lies in the exact region: box: lo <= x <= hi; linf: c - eps <= x <= c + eps and, with
 * a domain, dlo <= x <= dhi */
static int point_in_region(ctx *c, const cJSON *rj, const cgraph *g, const qv *x) {
  int64_t n = g->nodes[g->input].numel;
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(rj, "kind");
  int linf = cJSON_IsString(kind) && !strcmp(kind->valuestring, "linf");
  const cJSON *dom = cJSON_GetObjectItemCaseSensitive(rj, "domain");
  int clamp = linf && dom && !cJSON_IsNull(dom);
  if (clamp && (!cJSON_IsArray(dom) || cJSON_GetArraySize(dom) != 2))
    return fail(c, BAD, "malformed: region.domain must be two numbers");
  qv *a = qv_new(n), *b = qv_new(n);
  mpq_t eps, dlo, dhi;
  mpq_init(eps), mpq_init(dlo), mpq_init(dhi);
  int inf = 0, rc = a && b ? OK : fail(c, BAD, "out of memory");
  if (rc == OK)
    rc = get_qarr(c, rj, linf ? "center" : "lo", "region", n, a, 0);
  if (rc == OK)
    rc = linf ? get_num(c, rj, "eps", "region", eps) : get_qarr(c, rj, "hi", "region", n, b, 0);
  if (rc == OK && clamp &&
      (num_item(c, dom->child, dlo, &inf, 0, "region.domain", 0) ||
       num_item(c, dom->child->next, dhi, &inf, 0, "region.domain", 1)))
    rc = BAD;
  for (int64_t i = 0; rc == OK && linf && i < n; i++) {
    mpq_add(b[i].q, a[i].q, eps);
    mpq_sub(a[i].q, a[i].q, eps);
    if (clamp && mpq_cmp(a[i].q, dlo) < 0)
      mpq_set(a[i].q, dlo);
    if (clamp && mpq_cmp(b[i].q, dhi) > 0)
      mpq_set(b[i].q, dhi);
  }
  for (int64_t i = 0; rc == OK && i < n; i++)
    if (mpq_cmp(x[i].q, a[i].q) < 0 || mpq_cmp(x[i].q, b[i].q) > 0)
      rc = fail(c, REJ, "REJECT: falsified: the counterexample lies outside the region (node %d, index %lld)",
                g->input, (long long)i);
  qv_free(a, n), qv_free(b, n);
  mpq_clear(eps), mpq_clear(dlo), mpq_clear(dhi);
  return rc;
}

/* [mn, mx] = the range of c . y over the box y in [lo, hi] (row r of the property) */
static void row_range(const prop *p, int r, const box *y, mpq_t mn, mpq_t mx, mpq_t t) {
  mpq_set_ui(mn, 0, 1), mpq_set_ui(mx, 0, 1);
  for (int64_t j = 0; j < p->nout; j++) {
    mpq_srcptr cj = p->cf[(size_t)r * p->nout + j];
    int neg = mpq_sgn(cj) < 0;
    mpq_mul(t, cj, neg ? y->hi[j].q : y->lo[j].q), mpq_add(mn, mn, t);
    mpq_mul(t, cj, neg ? y->lo[j].q : y->hi[j].q), mpq_add(mx, mx, t);
  }
}

/* Every output in the box y violates the property (is outside the safe set, inside the unsafe
 * set)?  safe DNF: every clause has a row c.y <= d (< d) that fails on the whole box, i.e.
 * min c.y > d (>= d); unsafe DNF: some clause has all rows holding on the whole box, max c.y <= d
 * (< d).  *margin: the worst clause's best row's slack (> 0, or >= 0 for the strict cases, decides). */
static int box_violates(const prop *p, const box *y, double *margin) {
  mpq_t mn, mx, t, m;
  mpq_init(mn), mpq_init(mx), mpq_init(t), mpq_init(m);
  int viol = !p->unsafe;
  double worst = p->unsafe ? -HUGE_VAL : HUGE_VAL;
  for (int k = 0; k < p->nclauses; k++) {
    int all = 1, any = 0;
    double best = p->unsafe ? HUGE_VAL : -HUGE_VAL;
    for (int r = p->cstart[k]; r < p->cstart[k + 1]; r++) {
      row_range(p, r, y, mn, mx, t);
      if (!p->unsafe) { /* the row fails everywhere: c.y > d (c.y >= d when strict) */
        mpq_sub(m, mn, p->d[r]);
        any |= p->strict[r] ? mpq_sgn(m) >= 0 : mpq_sgn(m) > 0;
        double v = mpq_get_d(m);
        best = v > best ? v : best;
      } else { /* the row holds everywhere: c.y <= d (c.y < d when strict) */
        mpq_sub(m, p->d[r], mx);
        all &= p->strict[r] ? mpq_sgn(m) > 0 : mpq_sgn(m) >= 0;
        double v = mpq_get_d(m);
        best = v < best ? v : best;
      }
    }
    if (!p->unsafe)
      viol &= any, worst = best < worst ? best : worst;
    else
      viol |= all, worst = best > worst ? best : worst;
  }
  *margin = worst;
  mpq_clear(mn), mpq_clear(mx), mpq_clear(t), mpq_clear(m);
  return viol;
}

/* the enclosure of every evaluation at the point x (real: the exact output; f32-any: every binary32
 * evaluation in any order), node by node from the degenerate input box, then the property decided
 * on the output's enclosure */
static int point_violates(ctx *c, const cgraph *g, const qv *x, const prop *p, int f32) {
  sample s;
  int rc = sample_init(c, &s, g, f32);
  const cnode *in = &g->nodes[g->input];
  for (int64_t i = 0; rc == OK && i < in->numel; i++) {
    qv *l = &s.b[g->input].lo[i], *h = &s.b[g->input].hi[i];
    mpq_set(l->q, x[i].q), mpq_set(h->q, x[i].q);
    l->dy = h->dy = x[i].dy, l->de = h->de = x[i].de, l->dm = h->dm = x[i].dm;
  }
  for (int i = 0; rc == OK && i < g->n; i++)
    if (g->nodes[i].op != OP_PARAM && g->nodes[i].op != OP_INPUT)
      rc = derive_box(c, &s, i);
  double margin = 0;
  const char *how = f32 ? "in every f32-any evaluation" : "in the exact evaluation";
  if (rc == OK && s.b[g->output].unb)
    rc = fail(c, REJ,
              "REJECT: falsified: the counterexample does not violate the property %s (its output may "
              "overflow binary32) (node %d, index 0)",
              how, g->output);
  else if (rc == OK && !box_violates(p, &s.b[g->output], &margin))
    rc = fail(c, REJ,
              "REJECT: falsified: the counterexample does not violate the property %s (margin %.6g) (node "
              "%d, index 0)",
              how, margin, g->output);
  sample_free(&s);
  return rc;
}

/* q is a finite binary32 value (subnormals included) */
static int is_binary32(const mpq_t q) {
  mpfr_t f;
  mpfr_init2(f, 24);
  mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
  mpfr_set_emin(-148), mpfr_set_emax(128);
  int inex = mpfr_set_q(f, q, MPFR_RNDN);
  inex = mpfr_subnormalize(f, inex, MPFR_RNDN);
  int ok = inex == 0 && mpfr_number_p(f);
  mpfr_set_emin(emin), mpfr_set_emax(emax);
  mpfr_clear(f);
  return ok;
}

/* a falsified verdict: sample.counterexample (numel(input) exact numbers; binary32 values in f32-any)
 * in the exact region and violating the property in the certificate's semantics */
int check_falsified(ctx *c, const cgraph *g, const cJSON *sj, const prop *p, int f32) {
  int64_t n = g->nodes[g->input].numel;
  if (!cJSON_GetObjectItemCaseSensitive(sj, "counterexample"))
    return fail(c, BAD, "malformed: falsified: sample.counterexample is missing");
  qv *x = qv_new(n);
  int rc = x ? get_qarr(c, sj, "counterexample", "sample", n, x, 0) : fail(c, BAD, "out of memory");
  const cJSON *rj = cJSON_GetObjectItemCaseSensitive(sj, "region");
  if (rc == OK)
    rc = point_in_region(c, rj, g, x);
  /* f32-any: the model runs on float32 inputs, so the point must be one (no rounding of the input) */
  for (int64_t i = 0; rc == OK && f32 && i < n; i++)
    if (!is_binary32(x[i].q))
      rc = fail(
          c, REJ,
          "REJECT: falsified: counterexample element is not a binary32 value (f32-any) (node %d, index %lld)",
          g->input, (long long)i);
  if (rc == OK)
    rc = point_violates(c, g, x, p, f32);
  qv_free(x, n);
  return rc;
}
