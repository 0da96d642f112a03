/* pool.c - max pool: the window walk, the IBP box, CROWN's lines and backward rule, the exact
 * value and the fixed-point form, side by side.  Exact in both semantics (a float max is one of
 * its operands).  (Average pools are affine: rules/affine.c.) */
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

void tlv_window_init(tlv_window *w, const tl_graph *g, int id, int64_t o) {
  const tl_node *n = &g->nodes[id];
  const tl_node *x = &g->nodes[n->parents[0]];
  int64_t Ho = n->shape[2], Wo = n->shape[3];
  int64_t j = o % Wo, i = (o / Wo) % Ho, bc = o / (Wo * Ho);
  w->n = n, w->H = x->shape[2], w->W = x->shape[3], w->plane = bc * w->H * w->W;
  w->h0 = i * n->attrs.stride[0] - n->attrs.padding[0];
  w->w0 = j * n->attrs.stride[1] - n->attrs.padding[1];
  w->p = 0, w->q = 0;
}

int tlv_window_next(tlv_window *w, int64_t *xi) {
  const tl_attrs *a = &w->n->attrs;
  for (; w->p < a->kernel[0]; w->p++, w->q = 0)
    for (; w->q < a->kernel[1]; w->q++) {
      int64_t hh = w->h0 + w->p * a->dilation[0], ww = w->w0 + w->q * a->dilation[1];
      if (hh < 0 || hh >= w->H || ww < 0 || ww >= w->W)
        continue;
      *xi = w->plane + hh * w->W + ww;
      w->q++;
      return 1;
    }
  return 0;
}

/* ---- IBP: y = max over the window, on each end --------------------------------------------- */
/* 2x2 max pool, stride 2, of planes (H, W) (finite values: parents are checked first) */
TLV_CLONES static void maxpool22(const double *x, double *y, int64_t planes, int64_t H, int64_t W) {
  int64_t Ho = H / 2, Wo = W / 2;
  for (int64_t p = 0; p < planes; p++)
    for (int64_t i = 0; i < Ho; i++) {
      const double *r0 = x + (p * H + 2 * i) * W, *r1 = r0 + W;
      double *out = y + (p * Ho + i) * Wo;
      for (int64_t j = 0; j < Wo; j++) {
        double a = r0[2 * j] > r0[2 * j + 1] ? r0[2 * j] : r0[2 * j + 1];
        double b = r1[2 * j] > r1[2 * j + 1] ? r1[2 * j] : r1[2 * j + 1];
        out[j] = a > b ? a : b;
      }
    }
}

tl_code tlv_ibp_max_pool(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                         const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  (void)pl, (void)reg, (void)sem, (void)st;
  const tl_node *n = &g->nodes[id];
  int64_t N = n->numel;
  const double *xl = b->lo[n->parents[0]], *xh = b->hi[n->parents[0]];
  const tl_node *x = &g->nodes[n->parents[0]];
  int64_t H = x->shape[2], W = x->shape[3], Ho = n->shape[2], Wo = n->shape[3];
  if (n->attrs.kernel[0] == 2 && n->attrs.kernel[1] == 2 && n->attrs.stride[0] == 2 &&
      n->attrs.stride[1] == 2 && n->attrs.padding[0] == 0 && n->attrs.padding[1] == 0 &&
      n->attrs.dilation[0] == 1 && n->attrs.dilation[1] == 1 && Ho == H / 2 && Wo == W / 2) {
    maxpool22(xl, lo, N / (Ho * Wo), H, W);
    maxpool22(xh, hi, N / (Ho * Wo), H, W);
    return TL_OK;
  }
  for (int64_t o = 0; o < N; o++) {
    double ml = -INFINITY, mh = -INFINITY;
    tlv_window w;
    tlv_window_init(&w, g, id, o);
    for (int64_t xi; tlv_window_next(&w, &xi);)
      ml = vmax(ml, xl[xi]), mh = vmax(mh, xh[xi]);
    lo[o] = ml, hi[o] = mh;
  }
  return TL_OK;
}

/* ---- CROWN: y >= x_j (j the first argmax of the lower ends); y <= x_j when l_j >= u_k for every
 * other k of the window, else y <= max_k u_k ------------------------------------------------- */
int64_t tlv_maxpool_line(const tl_graph *g, int id, const double *xl, const double *xh, int64_t o, int *exact,
                         double *c) {
  int64_t best = -1, xi;
  double mu = -INFINITY;
  tlv_window w;
  tlv_window_init(&w, g, id, o);
  while (tlv_window_next(&w, &xi)) {
    if (best < 0 || xl[xi] > xl[best])
      best = xi;
    mu = fmax(mu, xh[xi]);
  }
  *exact = best >= 0;
  if (best >= 0) { /* second look: dominance over every other element */
    tlv_window_init(&w, g, id, o);
    while (tlv_window_next(&w, &xi))
      if (xi != best && !(xl[best] >= xh[xi]))
        *exact = 0;
  }
  *c = mu;
  return best;
}

/* lam y >= lam x_j (lam > 0, or lam < 0 on an exact line), lam c (lam < 0 otherwise) */
static void back_lines(tlv_cstate *s, int64_t N, int64_t nin, const double *lam, const int64_t *arg,
                       const double *cu, const unsigned char *ex, double *plo, double *phi) {
  for (int pass = 0; pass < 2; pass++) {
    pass ? rnd_up() : rnd_down();
    double *dst = pass ? phi : plo;
    for (int k = 0; k < s->m; k++)
      for (int64_t o = 0; o < N; o++) {
        double l = lam[(size_t)k * N + o];
        if (l > 0 || (l < 0 && ex[o]))
          dst[(size_t)k * nin + arg[o]] = dst[(size_t)k * nin + arg[o]] + l;
      }
  }
  rnd_down();
  for (int k = 0; k < s->m; k++)
    for (int64_t o = 0; o < N; o++) {
      double l = lam[(size_t)k * N + o];
      if (l < 0 && !ex[o])
        s->cst[k] = s->cst[k] + l * cu[o];
    }
}

tl_code tlv_back_max_pool(tlv_cstate *s, int v, const double *lam, int *done) {
  const tl_graph *g = s->g;
  const tl_node *n = &g->nodes[v];
  int64_t N = n->numel;
  int x = n->parents[0];
  int64_t nin = g->nodes[x].numel;
  const double *xl = s->b->lo[x], *xh = s->b->hi[x];
  int64_t *arg = malloc((size_t)(N ? N : 1) * sizeof *arg);
  double *cu = malloc((size_t)(N ? N : 1) * sizeof *cu);
  unsigned char *ex = malloc((size_t)(N ? N : 1));
  tl_code rc = arg && cu && ex ? TL_OK : tl_fail(s->st, TL_ENOMEM, "verify: out of memory");
  int empty = 0;
  for (int64_t o = 0; rc == TL_OK && o < N; o++) {
    int e = 0;
    arg[o] = tlv_maxpool_line(g, v, xl, xh, o, &e, &cu[o]);
    ex[o] = (unsigned char)e;
    empty |= arg[o] < 0;
  }
  if (rc == TL_OK && empty) { /* a window without an input element: no lines, concretise */
    free(arg), free(cu), free(ex);
    return TL_OK;
  }
  *done = 1;
  double *plo = NULL, *phi = NULL;
  if (rc == TL_OK)
    rc = tlv_coef_get(s, x, &plo, &phi);
  if (rc == TL_OK)
    back_lines(s, N, nin, lam, arg, cu, ex, plo, phi);
  free(arg), free(cu), free(ex);
  return rc;
}

/* ---- exact -------------------------------------------------------------------------------------- */
tl_code tlv_exact_max_pool(const tl_graph *g, int id, const float *x, qbox *v, tl_status *st) {
  (void)x, (void)st;
  qbox *y = &v[id], *p = &v[g->nodes[id].parents[0]];
  for (int64_t o = 0; o < g->nodes[id].numel; o++) {
    int first = 1;
    tlv_window w;
    tlv_window_init(&w, g, id, o);
    for (int64_t xi; tlv_window_next(&w, &xi);) {
      if (first || mpq_cmp(p->lo[xi], y->lo[o]) > 0)
        mpq_set(y->lo[o], p->lo[xi]);
      if (first || mpq_cmp(p->hi[xi], y->hi[o]) > 0)
        mpq_set(y->hi[o], p->hi[xi]);
      first = 0;
    }
  }
  return TL_OK;
}

tl_code tlv_fx_max_pool(xst *X, int id, int *done) {
  const fxv *p;
  TL_TRY(tlv_fx_begin(X, id, &p, done));
  if (!*done)
    return TL_OK;
  const tl_node *n = &X->g->nodes[id];
  fxv *y = &X->f[id];
  const tl_node *xn = &X->g->nodes[n->parents[0]];
  int64_t H = xn->shape[2], W = xn->shape[3], Ho = n->shape[2], Wo = n->shape[3];
  for (int64_t o = 0; o < n->numel; o++) {
    int64_t j = o % Wo, i = (o / Wo) % Ho, bc = o / (Wo * Ho);
    int first = 1;
    for (int64_t ka = 0; ka < n->attrs.kernel[0]; ka++)
      for (int64_t kc = 0; kc < n->attrs.kernel[1]; kc++) {
        int64_t hh = i * n->attrs.stride[0] - n->attrs.padding[0] + ka * n->attrs.dilation[0];
        int64_t ww = j * n->attrs.stride[1] - n->attrs.padding[1] + kc * n->attrs.dilation[1];
        if (hh < 0 || hh >= H || ww < 0 || ww >= W)
          continue;
        int64_t xi = (bc * H + hh) * W + ww;
        if (first || mpz_cmp(p->v[xi], y->v[o]) > 0)
          mpz_set(y->v[o], p->v[xi]);
        first = 0;
      }
  }
  return TL_OK;
}
