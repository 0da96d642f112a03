/* atoms.c - classify an atom  L <= 0 / L < 0  (L = k + sum c_i v_i, exact): constant (evaluated),
 * a bound of one input, or an output row; and the directed mpq -> binary64 roundings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpfr.h>

#include "vn_internal.h"

void vn_atom_clear(vn_atom *a) {
  if (a->nnz >= 0 && a->c)
    for (int i = 0; i < a->nnz; i++)
      mpq_clear(a->c[i]);
  free(a->c), free(a->yvar);
  mpq_clear(a->b);
  a->c = NULL, a->yvar = NULL, a->nnz = 0;
}

/* q rounded toward -inf (down) or +inf (up) to binary64; MPFR's RNDD/RNDU composed are still directed */
static double round_dir(const mpq_t q, mpfr_rnd_t r) {
  mpfr_t f;
  mpfr_init2(f, 53);
  mpfr_set_q(f, q, r);
  double d = mpfr_get_d(f, r);
  mpfr_clear(f);
  return d;
}
double vn_round_down(const mpq_t q) { return round_dir(q, MPFR_RNDD); }
double vn_round_up(const mpq_t q) { return round_dir(q, MPFR_RNDU); }

int vn_q_is_double(const mpq_t q, double *d) {
  double v = vn_round_down(q);
  if (!isfinite(v))
    return 0;
  mpq_t t;
  mpq_init(t);
  mpq_set_d(t, v);
  int eq = mpq_equal(t, q);
  mpq_clear(t);
  if (eq)
    *d = v;
  return eq;
}

/* scale the row sum c.y <= d by a positive factor making c primitive integers (same set of y) */
static void make_integral(mpq_t *c, int n, mpq_t d) {
  mpz_t l, g;
  mpz_init_set_ui(l, 1);
  mpz_init_set_ui(g, 0);
  for (int i = 0; i < n; i++)
    mpz_lcm(l, l, mpq_denref(c[i]));
  mpq_t f;
  mpq_init(f);
  mpq_set_z(f, l);
  for (int i = 0; i < n; i++) {
    mpq_mul(c[i], c[i], f);
    mpz_gcd(g, g, mpq_numref(c[i]));
  }
  mpq_set_z(f, g); /* g > 0: the row has a nonzero coefficient */
  mpq_inv(f, f);
  for (int i = 0; i < n; i++)
    mpq_mul(c[i], c[i], f);
  mpq_set_z(f, l);
  mpq_mul(d, d, f);
  mpq_set_z(f, g);
  mpq_div(d, d, f);
  mpq_clear(f);
  mpz_clears(l, g, NULL);
}

/* output row sum c_j y_j <= -k from the canonical L; coefficients must end up binary64 */
static tl_code output_row(vn_parser *P, vn_lin *L, vn_atom *a) {
  a->out = 1;
  a->yvar = malloc((size_t)L->n * sizeof *a->yvar);
  a->c = malloc((size_t)L->n * sizeof *a->c);
  if (!a->yvar || !a->c)
    return vn_err(P, TL_ENOMEM, a->line, a->col, "out of memory");
  for (int i = 0; i < L->n; i++) {
    a->yvar[i] = (int)(L->var[i] / 2);
    mpq_init(a->c[i]);
    mpq_set(a->c[i], L->c[i]);
    a->nnz++;
  }
  mpq_neg(a->b, L->k);
  double t;
  int ok = 1;
  for (int i = 0; i < a->nnz && ok; i++)
    ok = vn_q_is_double(a->c[i], &t);
  if (!ok)
    make_integral(a->c, a->nnz, a->b);
  for (int i = 0; i < a->nnz; i++)
    if (!vn_q_is_double(a->c[i], &t))
      return vn_err(P, TL_EUNSUPPORTED, a->line, a->col,
                    "output coefficient is not a binary64 value, even after scaling the row");
  return TL_OK;
}

/* an atom over the variables of L */
static tl_code classify(vn_parser *P, vn_lin *L, vn_atom *a) {
  int nx = 0, ny = 0;
  for (int i = 0; i < L->n; i++) {
    if (L->var[i] % 2)
      ny++;
    else
      nx++;
  }
  if (nx && ny)
    return vn_err(P, TL_EUNSUPPORTED, a->line, a->col,
                  "an atom mixing inputs X_ and outputs Y_ is not supported");
  if (nx > 1)
    return vn_err(P, TL_EUNSUPPORTED, a->line, a->col,
                  "input constraint over %d variables: only bounds of one X_i are supported", nx);
  if (ny)
    return output_row(P, L, a);
  /* c x + k <= 0:  x <= -k/c when c > 0, x >= -k/c when c < 0 */
  a->var = (int)(L->var[0] / 2);
  a->upper = mpq_sgn(L->c[0]) > 0;
  mpq_div(a->b, L->k, L->c[0]);
  mpq_neg(a->b, a->b);
  return TL_OK;
}

tl_code vn_atom_make(vn_parser *P, vn_lin *L, int strict, int line, int col, int *node) {
  *node = -1;
  if (vn_lin_canon(L)) {
    vn_lin_free(L);
    return vn_err(P, TL_ENOMEM, line, col, "out of memory");
  }
  tl_code c = TL_OK;
  if (L->n == 0) { /* k <= 0 / k < 0 decided exactly */
    int s = mpq_sgn(L->k), holds = strict ? s < 0 : s <= 0;
    *node = vn_node_add(P, holds ? VN_TRUE : VN_FALSE, -1, NULL, 0, line, col);
  } else if (P->natoms == INT32_MAX ||
             vn_grow((void **)&P->atoms, &P->capatoms, (size_t)P->natoms + 1, sizeof *P->atoms)) {
    c = vn_err(P, TL_ENOMEM, line, col, "out of memory");
  } else {
    vn_atom *a = &P->atoms[P->natoms++];
    *a = (vn_atom){0};
    mpq_init(a->b);
    a->strict = strict, a->line = line, a->col = col;
    c = classify(P, L, a);
    if (c == TL_OK)
      *node = vn_node_add(P, VN_ATOM, P->natoms - 1, NULL, 0, line, col);
  }
  vn_lin_free(L);
  if (c == TL_OK && *node < 0)
    c = vn_err(P, TL_ENOMEM, line, col, "out of memory");
  return c;
}
