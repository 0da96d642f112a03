/* exact.c - exact confirmation of a candidate counterexample against the rationals of the file
 * (never the rounded doubles): x inside the exact box (strict bounds respected), and every y of an
 * output enclosure inside one unsafe clause (max over the enclosure of c.y, exactly). */
#include <math.h>

#include "vn_internal.h"

int tl_vnnlib_input_in_box(const tl_vnnlib *v, int b, const float *x) {
  if (!v || !v->exact || b < 0 || b >= v->nboxes || !x)
    return 0;
  for (int64_t i = 0; i < v->n_inputs; i++)
    if (!isfinite(x[i])) /* a counterexample is a vector of reals */
      return 0;
  const vn_xbox *B = &v->exact->box[b];
  mpq_t q;
  mpq_init(q);
  int in = 1;
  for (int i = 0; i < B->nb && in; i++) {
    mpq_set_d(q, (double)x[B->var[i]]); /* exact: a float is a binary64 */
    unsigned char f = B->flags[i];
    if (f & VN_HAS_LO) { /* lo < x, or lo <= x */
      int c = mpq_cmp(q, B->lo[i]);
      in = (f & VN_LO_STRICT) ? c > 0 : c >= 0;
    }
    if (in && (f & VN_HAS_HI)) { /* x < hi, or x <= hi */
      int c = mpq_cmp(q, B->hi[i]);
      in = (f & VN_HI_STRICT) ? c < 0 : c <= 0;
    }
  }
  mpq_clear(q);
  return in;
}

/* does c.y <= d (< d) hold for every y in [ylo, yhi]?  max c.y = sum_j c_j * (c_j > 0 ? yhi_j : ylo_j) */
static int row_holds(const vn_atom *a, const double *ylo, const double *yhi, mpq_t s, mpq_t t) {
  mpq_set_ui(s, 0, 1);
  for (int j = 0; j < a->nnz; j++) {
    double y = mpq_sgn(a->c[j]) > 0 ? yhi[a->yvar[j]] : ylo[a->yvar[j]];
    if (!isfinite(y))
      return 0;
    mpq_set_d(t, y);
    mpq_mul(t, t, a->c[j]);
    mpq_add(s, s, t);
  }
  int c = mpq_cmp(s, a->b);
  return a->strict ? c < 0 : c <= 0;
}

int tl_vnnlib_output_unsafe(const tl_vnnlib *v, int b, const double *ylo, const double *yhi) {
  if (!v || !v->exact || b < 0 || b >= v->nboxes || !ylo || !yhi)
    return 0;
  for (int64_t j = 0; j < v->n_outputs; j++)
    if (isnan(ylo[j]) || isnan(yhi[j]) || ylo[j] > yhi[j])
      return 0;
  const vn_xbox *B = &v->exact->box[b];
  mpq_t s, t;
  mpq_inits(s, t, NULL);
  int unsafe = 0;
  for (int k = 0; k < B->nclauses && !unsafe; k++) {
    int all = 1;
    for (int r = B->clause_start[k]; r < B->clause_start[k + 1] && all; r++)
      all = B->row[r] < 0 || row_holds(&v->exact->atoms[B->row[r]], ylo, yhi, s, t);
    unsafe = all;
  }
  mpq_clears(s, t, NULL);
  return unsafe;
}
