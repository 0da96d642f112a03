/* build.c - the result: per distinct exact box, the binary64 box (lo rounded down, hi up: it
 * contains the exact box) and the unsafe tl_property (c exact, d rounded up: c.y <= d implies
 * c.y <= d'; a row whose d rounds to +inf, and the always-true row of a term without output atom,
 * become 0.y <= 0, a superset of the unsafe set, which is sound). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vn_internal.h"

static int box_empty(const vn_xbox *b) {
  for (int i = 0; i < b->nb; i++) {
    unsigned char f = b->flags[i];
    if ((f & VN_HAS_LO) && (f & VN_HAS_HI)) {
      int c = mpq_cmp(b->lo[i], b->hi[i]);
      if (c > 0 || (c == 0 && (f & (VN_LO_STRICT | VN_HI_STRICT))))
        return 1;
    }
  }
  return 0;
}

static int box_doubles(const vn_xbox *x, int64_t n, tl_vnnlib_box *b) {
  b->lo = malloc((size_t)n * sizeof *b->lo);
  b->hi = malloc((size_t)n * sizeof *b->hi);
  if (!b->lo || !b->hi)
    return -1;
  for (int64_t i = 0; i < n; i++)
    b->lo[i] = -INFINITY, b->hi[i] = INFINITY;
  for (int i = 0; i < x->nb; i++) {
    if (x->flags[i] & VN_HAS_LO)
      b->lo[x->var[i]] = vn_round_down(x->lo[i]);
    if (x->flags[i] & VN_HAS_HI)
      b->hi[x->var[i]] = vn_round_up(x->hi[i]);
  }
  b->empty = box_empty(x);
  return 0;
}

/* the unsafe DNF of box x over m outputs, as doubles */
static tl_code box_property(const tl_vnnlib_exact *e, const vn_xbox *x, int64_t m, tl_property **p,
                            tl_status *st) {
  double *c = calloc((size_t)x->nrows * (size_t)m, sizeof *c), *d = calloc((size_t)x->nrows, sizeof *d);
  unsigned char *s = calloc((size_t)x->nrows, 1);
  tl_code rc = TL_ENOMEM;
  if (c && d && s) {
    for (int r = 0; r < x->nrows; r++) {
      if (x->row[r] < 0)
        continue; /* 0.y <= 0 */
      const vn_atom *a = &e->atoms[x->row[r]];
      d[r] = vn_round_up(a->b);
      if (!isfinite(d[r])) { /* d > DBL_MAX: the row is replaced by 0.y <= 0 (superset) */
        d[r] = 0;
        continue;
      }
      s[r] = (unsigned char)a->strict;
      for (int j = 0; j < a->nnz; j++)
        vn_q_is_double(a->c[j], &c[(size_t)r * (size_t)m + (size_t)a->yvar[j]]);
    }
    rc = tl_property_new(p, m, x->nrows, c, d, s, x->nclauses, x->clause_start, 1, st);
  } else {
    tl_fail(st, rc, "vnnlib: out of memory");
  }
  free(c), free(d), free(s);
  return rc;
}

static tl_code fill(vn_parser *P, tl_vnnlib *v) {
  tl_vnnlib_exact *e = v->exact;
  long rows = 0;
  for (int i = 0; i < e->nboxes; i++)
    rows += e->box[i].nrows;
  if ((double)e->nboxes * (double)v->n_inputs > VN_MAX_DENSE ||
      (double)rows * (double)v->n_outputs > VN_MAX_DENSE)
    return vn_err(P, TL_EUNSUPPORTED, P->eof_line, P->eof_col,
                  "%d boxes of %lld inputs with %ld rows of %lld outputs: too large", e->nboxes,
                  (long long)v->n_inputs, rows, (long long)v->n_outputs);
  v->boxes = calloc((size_t)(e->nboxes ? e->nboxes : 1), sizeof *v->boxes);
  if (!v->boxes)
    return vn_err(P, TL_ENOMEM, P->eof_line, P->eof_col, "out of memory");
  v->nboxes = e->nboxes;
  for (int i = 0; i < e->nboxes; i++) {
    if (box_doubles(&e->box[i], v->n_inputs, &v->boxes[i]))
      return vn_err(P, TL_ENOMEM, P->eof_line, P->eof_col, "out of memory");
    tl_code c = box_property(e, &e->box[i], v->n_outputs, &v->boxes[i].prop, P->st);
    if (c != TL_OK)
      return tl_status_prefix(P->st, "%s: ", P->name);
  }
  return TL_OK;
}

tl_code vn_build(vn_parser *P, vn_dnf *d, tl_vnnlib **out) {
  tl_vnnlib *v = calloc(1, sizeof *v);
  tl_vnnlib_exact *e = v ? calloc(1, sizeof *e) : NULL;
  if (!e) {
    free(v);
    return vn_err(P, TL_ENOMEM, P->eof_line, P->eof_col, "out of memory");
  }
  v->exact = e;
  v->n_inputs = P->maxdecl[0], v->n_outputs = P->maxdecl[1];
  tl_code c = TL_OK;
  if (vn_group(P, d, &e->box, &e->nboxes))
    c = vn_err(P, TL_ENOMEM, P->eof_line, P->eof_col, "out of memory");
  e->atoms = P->atoms, e->natoms = P->natoms; /* moved: the rows refer to them */
  P->atoms = NULL, P->natoms = 0, P->capatoms = 0;
  if (c == TL_OK)
    c = fill(P, v);
  if (c != TL_OK) {
    tl_vnnlib_free(v);
    return c;
  }
  *out = v;
  return TL_OK;
}
