/* kernels/softmax.c - softmax, log_softmax, mse loss, cross entropy.
 *
 * f32-ref order (docs/f32-ref-order.md); FAST and REF kernels are this same code.  For one
 * row x_0..x_{D-1} along the axis (elements in increasing index order):
 *   m   = max of x_i (first maximum, left to right; a NaN makes every output NaN via e_i)
 *   e_i = expf(x_i - m)            (the subtraction rounded, then libm expf)
 *   s   = left fold of e_i starting from e_0
 *   softmax      y_i = e_i / s
 *   log_softmax  y_i = (x_i - m) - logf(s)
 *   mse_loss     y = (left fold over i of d_i*d_i, d_i = a_i - b_i) / (float)n
 *   cross_entropy, logits (N, K), target t (N, K):
 *                ls = log_softmax of the row as above; r_n = left fold over k of t_k*ls_k;
 *                T = left fold over n of r_n; y = -(T / (float)N)
 * No FMA anywhere (-ffp-contract=off). */
#include <math.h>

#include "exec/backend.h"

/* geometry of a reduction along `axis`: outer x D x inner */
static void axis_geom(const tl_node *n, int64_t axis, int64_t *outer, int64_t *D, int64_t *inner) {
  *outer = 1, *inner = 1;
  for (int i = 0; i < axis; i++)
    *outer *= n->shape[i];
  for (int i = (int)axis + 1; i < n->ndim; i++)
    *inner *= n->shape[i];
  *D = n->shape[axis];
}

/* one row with stride `st`: y = softmax (log=0) or log_softmax (log=1) */
static void softmax_row(const float *x, float *y, int64_t D, int64_t st, int log) {
  if (D == 0)
    return;
  float m = x[0];
  for (int64_t i = 1; i < D; i++)
    if (x[i * st] > m)
      m = x[i * st];
  float s = -0.0f;
  for (int64_t i = 0; i < D; i++) {
    float e = expf(x[i * st] - m);
    if (!log)
      y[i * st] = e;
    s = s + e;
  }
  if (log) {
    float ls = logf(s);
    for (int64_t i = 0; i < D; i++)
      y[i * st] = (x[i * st] - m) - ls;
  } else {
    for (int64_t i = 0; i < D; i++)
      y[i * st] = y[i * st] / s;
  }
}

static tl_code sm_fwd(const tl_kctx *k, int log) {
  int64_t outer, D, inner;
  axis_geom(k->n, k->n->attrs.axis, &outer, &D, &inner);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++)
      softmax_row(k->in[0] + o * D * inner + j, k->out + o * D * inner + j, D, inner, log);
  return TL_OK;
}

/* y_i = e^(x_i - m) / sum_j e^(x_j - m) */
tl_code tl_k_softmax_fwd(const tl_kctx *k) { return sm_fwd(k, 0); }
/* y_i = x_i - m - ln sum_j e^(x_j - m) */
tl_code tl_k_log_softmax_fwd(const tl_kctx *k) { return sm_fwd(k, 1); }

/* softmax: gx_i += y_i (g_i - sum_j g_j y_j); log_softmax: gx_i += g_i - e^(y_i) sum_j g_j */
static tl_code sm_bwd(const tl_kctx *k, int log) {
  int64_t outer, D, inner;
  axis_geom(k->n, k->n->attrs.axis, &outer, &D, &inner);
  float *gx = k->gin[0];
  if (!gx)
    return TL_OK;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * D * inner + j;
      const float *y = k->out + base, *g = k->gout + base;
      float *gr = gx + base;
      float s = 0.0f;
      for (int64_t i = 0; i < D; i++)
        s += log ? g[i * inner] : g[i * inner] * y[i * inner];
      for (int64_t i = 0; i < D; i++) {
        int64_t a = i * inner;
        gr[a] += log ? g[a] - expf(y[a]) * s : y[a] * (g[a] - s);
      }
    }
  return TL_OK;
}
tl_code tl_k_softmax_bwd(const tl_kctx *k) { return sm_bwd(k, 0); }
tl_code tl_k_log_softmax_bwd(const tl_kctx *k) { return sm_bwd(k, 1); }

/* y = mean (a - b)^2 */
tl_code tl_k_mse_fwd(const tl_kctx *k) {
  int64_t n = k->g->nodes[k->n->parents[0]].numel;
  const float *a = k->in[0], *b = k->in[1];
  float s = n ? -0.0f : 0.0f;
  for (int64_t i = 0; i < n; i++) {
    float d = a[i] - b[i];
    float p = d * d;
    s = s + p;
  }
  k->out[0] = s / (float)n;
  return TL_OK;
}

/* ga += 2 (a - b) g / n, gb -= the same */
tl_code tl_k_mse_bwd(const tl_kctx *k) {
  int64_t n = k->g->nodes[k->n->parents[0]].numel;
  const float *a = k->in[0], *b = k->in[1];
  float f = 2.0f * k->gout[0] / (float)n;
  for (int64_t i = 0; i < n; i++) {
    float v = f * (a[i] - b[i]);
    if (k->gin[0])
      k->gin[0][i] += v;
    if (k->gin[1])
      k->gin[1][i] -= v;
  }
  return TL_OK;
}

/* y = -(1/N) sum_n sum_k t_nk log_softmax(x_n)_k */
tl_code tl_k_cross_entropy_fwd(const tl_kctx *k) {
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  int64_t N = xn->shape[0], K = xn->shape[1];
  float *ls = tl_ws_get(k->ws, (size_t)(K ? K : 1));
  if (!ls)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory");
  float T = N ? -0.0f : 0.0f;
  for (int64_t n = 0; n < N; n++) {
    const float *t = k->in[1] + n * K;
    softmax_row(k->in[0] + n * K, ls, K, 1, 1);
    float r = K ? -0.0f : 0.0f;
    for (int64_t c = 0; c < K; c++) {
      float p = t[c] * ls[c];
      r = r + p;
    }
    T = T + r;
  }
  k->out[0] = -(T / (float)N);
  return TL_OK;
}

/* gx_nk += g/N (softmax_nk sum_k t_nk - t_nk); gt_nk -= g/N log_softmax_nk */
tl_code tl_k_cross_entropy_bwd(const tl_kctx *k) {
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  int64_t N = xn->shape[0], K = xn->shape[1];
  float *ls = tl_ws_get(k->ws, (size_t)(K ? K : 1));
  if (!ls)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory");
  float f = k->gout[0] / (float)N;
  for (int64_t n = 0; n < N; n++) {
    const float *t = k->in[1] + n * K;
    softmax_row(k->in[0] + n * K, ls, K, 1, 1);
    float ts = 0.0f;
    for (int64_t c = 0; c < K; c++)
      ts += t[c];
    for (int64_t c = 0; c < K; c++) {
      if (k->gin[0])
        k->gin[0][n * K + c] += f * (expf(ls[c]) * ts - t[c]);
      if (k->gin[1])
        k->gin[1][n * K + c] -= f * ls[c];
    }
  }
  return TL_OK;
}
