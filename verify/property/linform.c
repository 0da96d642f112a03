/* linform.c - exact linear forms scale * (k + sum c_i v_i).  The lazy scale makes (* q t) and (- t)
 * O(1); vn_lin_add merges the smaller form into the larger (O(n log n) over any nesting). */
#include <stdlib.h>

#include "vn_internal.h"

vn_lin *vn_lin_new(void) {
  vn_lin *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  mpq_init(a->scale), mpq_init(a->k);
  mpq_set_ui(a->scale, 1, 1);
  return a;
}

void vn_lin_free(vn_lin *a) {
  if (!a)
    return;
  for (int i = 0; i < a->n; i++)
    mpq_clear(a->c[i]);
  free(a->c), free(a->var);
  mpq_clear(a->scale), mpq_clear(a->k);
  free(a);
}

int vn_lin_push(vn_lin *a, int64_t var, const mpq_t c) {
  if (a->n == a->cap) {
    int cap = a->cap ? 2 * a->cap : 4;
    if (cap < a->cap) /* int overflow */
      return -1;
    int64_t *v = realloc(a->var, (size_t)cap * sizeof *v);
    if (!v)
      return -1;
    a->var = v;
    mpq_t *cc = realloc(a->c, (size_t)cap * sizeof *cc);
    if (!cc)
      return -1;
    a->c = cc, a->cap = cap;
  }
  mpq_init(a->c[a->n]);
  mpq_set(a->c[a->n], c);
  a->var[a->n++] = var;
  return 0;
}

/* a + sign*b: b's terms are rescaled by sign * b.scale / a.scale into the larger form */
vn_lin *vn_lin_add(vn_lin *a, vn_lin *b, int sign) {
  if (b->n > a->n) { /* merge into the larger b (scales are never 0: vn_lin_scale) */
    if (sign < 0)
      mpq_neg(b->scale, b->scale);
    vn_lin *t = a;
    a = b, b = t, sign = 1;
  }
  mpq_t r, t;
  mpq_inits(r, t, NULL);
  mpq_div(r, b->scale, a->scale);
  if (sign < 0)
    mpq_neg(r, r);
  mpq_mul(t, r, b->k);
  mpq_add(a->k, a->k, t);
  int ok = 1;
  for (int i = 0; i < b->n && ok; i++) {
    mpq_mul(t, r, b->c[i]);
    ok = vn_lin_push(a, b->var[i], t) == 0;
  }
  mpq_clears(r, t, NULL);
  vn_lin_free(b);
  if (!ok) {
    vn_lin_free(a);
    return NULL;
  }
  return a;
}

void vn_lin_scale(vn_lin *a, const mpq_t q) {
  mpq_mul(a->scale, a->scale, q);
  if (mpq_sgn(q) == 0) { /* 0 * t: forget t */
    for (int i = 0; i < a->n; i++)
      mpq_clear(a->c[i]);
    a->n = 0;
    mpq_set_ui(a->k, 0, 1), mpq_set_ui(a->scale, 1, 1);
  }
}

typedef struct vn_ord {
  int64_t var;
  int i;
} vn_ord;
static int cmp_ord(const void *x, const void *y) {
  const vn_ord *a = x, *b = y;
  return a->var < b->var ? -1 : a->var > b->var ? 1 : (a->i > b->i) - (a->i < b->i);
}

int vn_lin_canon(vn_lin *a) {
  size_t n1 = (size_t)(a->n ? a->n : 1);
  vn_ord *ord = malloc(n1 * sizeof *ord);
  int64_t *nv = malloc(n1 * sizeof *nv);
  mpq_t *nc = malloc(n1 * sizeof *nc);
  if (!ord || !nv || !nc) {
    free(ord), free(nv), free(nc);
    return -1;
  }
  for (int i = 0; i < a->n; i++)
    ord[i].var = a->var[i], ord[i].i = i;
  qsort(ord, (size_t)a->n, sizeof *ord, cmp_ord);
  int m = 0;
  for (int i = 0; i < a->n; i++) { /* sum c of equal vars; times scale later */
    int j = ord[i].i;
    if (m > 0 && nv[m - 1] == a->var[j]) {
      mpq_add(nc[m - 1], nc[m - 1], a->c[j]);
    } else {
      mpq_init(nc[m]);
      mpq_set(nc[m], a->c[j]);
      nv[m++] = a->var[j];
    }
  }
  int w = 0;
  for (int i = 0; i < m; i++) {
    mpq_mul(nc[i], nc[i], a->scale);
    if (mpq_sgn(nc[i]) == 0) {
      mpq_clear(nc[i]);
      continue;
    }
    nv[w] = nv[i];
    if (w != i)
      nc[w][0] = nc[i][0]; /* move the struct */
    w++;
  }
  for (int i = 0; i < a->n; i++)
    mpq_clear(a->c[i]);
  free(a->c), free(a->var), free(ord);
  a->c = nc, a->var = nv, a->n = w, a->cap = (int)n1;
  mpq_mul(a->k, a->k, a->scale);
  mpq_set_ui(a->scale, 1, 1);
  return 0;
}

vn_lin *vn_lin_copy(const vn_lin *a) {
  vn_lin *b = vn_lin_new();
  if (!b)
    return NULL;
  mpq_set(b->scale, a->scale), mpq_set(b->k, a->k);
  for (int i = 0; i < a->n; i++)
    if (vn_lin_push(b, a->var[i], a->c[i])) {
      vn_lin_free(b);
      return NULL;
    }
  return b;
}
