/* ad/tangent.c - forward-mode (JVP) rule of every op: dy = sum_k J_k dx_k.
 *
 * Reuses the backend kernels wherever the Jacobian allows:
 *  - ops linear in all inputs jointly (shape ops, sums, average pools, add/sub, neg, dropout with
 *    its mask, embedding in the table): the forward kernel applied to the tangents;
 *  - bilinear ops (linear, matmul, conv2d): forward(dx, W) + forward(x, dW) (+ db);
 *  - diagonal Jacobians (unary elementwise) and softmax (J = diag(y) - y y^T is symmetric): the
 *    backward (VJP) kernel with seed dx, since J^T dx = J dx;
 *  - scalar outputs (mse, cross entropy): dy = sum_k <VJP_k(1), dx_k>.
 * The rest (mul/div/max/min with broadcasting, log_softmax, max pool, batch/layer norm) are short
 * loops below; multi-head attention is the product rule through its internal steps (k_attn_ad.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ad/ad_rules.h"

tl_code tl_ad_call_fwd(const tl_kctx *k, const tl_node *n, const float *const *in, float *out) {
  tl_kctx c = *k;
  c.n = n, c.in = in, c.out = out, c.fuse_relu = 0, c.weights = NULL, c.gout = NULL, c.gin = NULL;
  c.gin_assign = 0;
  return k->be->forward[n->op](&c);
}

tl_code tl_ad_call_bwd(const tl_kctx *k, const tl_node *n, const float *const *in, const float *out,
                       const float *gout, float *const *gin) {
  tl_kctx c = *k;
  c.n = n, c.in = in, c.out = (float *)out, c.gout = gout, c.gin = gin, c.gin_assign = 0, c.fuse_relu = 0;
  return k->be->backward[n->op](&c);
}

void tl_ad_bcast_index(const tl_node *y, const tl_node *a, const tl_node *b, int64_t *ia, int64_t *ib) {
  for (int64_t i = 0; i < y->numel; i++) {
    int64_t t = i, oa = 0, ob = 0, sa = 1, sb = 1;
    for (int d = y->ndim - 1; d >= 0; d--) {
      int64_t c = t % y->shape[d];
      t /= y->shape[d];
      int ka = d - (y->ndim - a->ndim), kb = d - (y->ndim - b->ndim);
      int64_t da = ka >= 0 ? a->shape[ka] : 1, db = kb >= 0 ? b->shape[kb] : 1;
      if (da != 1)
        oa += c * sa;
      if (db != 1)
        ob += c * sb;
      sa *= da, sb *= db;
    }
    ia[i] = oa, ib[i] = ob;
  }
}

void tl_ad_axis_geom(const tl_node *n, int64_t axis, int64_t *outer, int64_t *D, int64_t *inner) {
  *outer = 1, *inner = 1;
  for (int i = 0; i < axis; i++)
    *outer *= n->shape[i];
  for (int i = (int)axis + 1; i < n->ndim; i++)
    *inner *= n->shape[i];
  *D = n->shape[axis];
}

void tl_ad_norm_group(const float *x, const float *dx, const int64_t *idx, int64_t M, double eps, double *xh,
                      double *dxh, double *inv, double *dinv) {
  double s = 0, v = 0, mdx = 0, mxd = 0;
  for (int64_t j = 0; j < M; j++)
    s += x[idx[j]];
  double mean = M ? s / (double)M : 0;
  for (int64_t j = 0; j < M; j++) {
    double d = x[idx[j]] - mean;
    v += d * d;
  }
  double iv = 1.0 / sqrt((M ? v / (double)M : 0) + eps);
  for (int64_t j = 0; j < M; j++)
    xh[j] = (x[idx[j]] - mean) * iv;
  *inv = iv, *dinv = 0;
  if (!dx || !M)
    return;
  for (int64_t j = 0; j < M; j++) {
    mdx += dx[idx[j]];
    mxd += xh[j] * dx[idx[j]];
  }
  mdx /= (double)M, mxd /= (double)M;
  for (int64_t j = 0; j < M; j++) /* d xhat = inv (dx - mean dx - xhat mean(xhat dx)) */
    dxh[j] = iv * (dx[idx[j]] - mdx - xh[j] * mxd);
  *dinv = -iv * iv * mxd; /* d inv = -inv^3 d var / 2, d var = 2 mean(xhat dx) / inv */
}

void tl_ad_bn_index(const tl_node *x, int64_t c, int64_t *idx) {
  int64_t N = x->shape[0], C = x->shape[1], S = (N > 0 && C > 0) ? x->numel / (N * C) : 0, j = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < S; i++)
      idx[j++] = (n * C + c) * S + i;
}

static tl_code nomem(const tl_kctx *k) {
  char w[96];
  return tl_fail(k->st, TL_ENOMEM, "%s: out of memory for tangents", tl_node_where(k, w, sizeof w));
}

/* mul: dy = da b + a db; div: dy = (da - y db) / b; max/min: dy = w da + (1 - w) db, w as in the VJP */
static tl_code binary_tangent(const tl_adrule *r, const float *da, const float *db, float *dy) {
  const tl_kctx *k = r->k;
  const tl_node *y = k->n, *pa = &k->g->nodes[y->parents[0]], *pb = &k->g->nodes[y->parents[1]];
  int64_t n = y->numel, *ia = malloc(sizeof(int64_t) * (size_t)(2 * n + 1)), *ib = ia + n;
  if (!ia)
    return nomem(k);
  tl_ad_bcast_index(y, pa, pb, ia, ib);
  const float *a = k->in[0], *b = k->in[1], *yv = k->out;
  for (int64_t i = 0; i < n; i++) {
    float av = a[ia[i]], bv = b[ib[i]], dav = da[ia[i]], dbv = db[ib[i]];
    switch (y->op) {
    case TL_OP_MUL: dy[i] = dav * bv + av * dbv; break;
    case TL_OP_DIV: dy[i] = (dav - yv[i] * dbv) / bv; break;
    default: {
      float w = av == bv ? 0.5f : ((y->op == TL_OP_MAX) == (av > bv) ? 1.0f : 0.0f);
      dy[i] = w * dav + (1.0f - w) * dbv;
    }
    }
  }
  free(ia);
  return TL_OK;
}

/* dy_i = dx_i - sum_j p_j dx_j along the axis, p = e^y */
static void log_softmax_tangent(const tl_kctx *k, const float *dx, float *dy) {
  int64_t outer, D, inner;
  tl_ad_axis_geom(k->n, k->n->attrs.axis, &outer, &D, &inner);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * D * inner + j;
      double s = 0;
      for (int64_t i = 0; i < D; i++)
        s += exp((double)k->out[base + i * inner]) * dx[base + i * inner];
      for (int64_t i = 0; i < D; i++)
        dy[base + i * inner] = (float)(dx[base + i * inner] - s);
    }
}

/* bilinear y = f(x, W) + b: dy = f(dx, W) + f(x, dW) + db (bias broadcast over rows / positions) */
static tl_code bilinear_tangent(const tl_adrule *r, float *dy) {
  const tl_kctx *k = r->k;
  tl_node nb = *k->n;
  nb.nparents = 2; /* the kernels without the bias */
  int64_t n = nb.numel;
  if (r->din[0]) {
    const float *in[2] = {r->din[0], k->in[1]};
    TL_TRY(tl_ad_call_fwd(k, &nb, in, dy));
  } else {
    memset(dy, 0, sizeof(float) * (size_t)n);
  }
  if (r->din[1]) {
    float *t = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!t)
      return nomem(k);
    const float *in[2] = {k->in[0], r->din[1]};
    tl_code rc = tl_ad_call_fwd(k, &nb, in, t);
    for (int64_t i = 0; rc == TL_OK && i < n; i++)
      dy[i] += t[i];
    free(t);
    TL_TRY(rc);
  }
  if (k->n->nparents > 2 && r->din[2]) {
    const float *db = r->din[2];
    if (k->n->op == TL_OP_LINEAR) {
      int64_t O = k->g->nodes[k->n->parents[1]].shape[0];
      for (int64_t i = 0; i < n; i++)
        dy[i] += db[i % O];
    } else { /* conv2d (N, O, H, W) */
      int64_t O = k->n->shape[1], P = k->n->shape[2] * k->n->shape[3];
      for (int64_t i = 0; i < n; i++)
        dy[i] += db[(i / P) % O];
    }
  }
  return TL_OK;
}

/* scalar output: dy = sum_k <VJP_k(1), dx_k> */
static tl_code scalar_tangent(const tl_adrule *r, float *dy) {
  const tl_kctx *k = r->k;
  const tl_node *n = k->n;
  float one = 1.0f, *gin[2] = {NULL, NULL};
  double s = 0;
  tl_code rc = TL_OK;
  for (int p = 0; p < 2 && rc == TL_OK; p++)
    if (r->din[p] && !(gin[p] = calloc((size_t)k->g->nodes[n->parents[p]].numel + 1, sizeof(float))))
      rc = nomem(k);
  if (rc == TL_OK)
    rc = tl_ad_call_bwd(k, n, k->in, k->out, &one, gin);
  for (int p = 0; p < 2 && rc == TL_OK; p++)
    if (gin[p])
      for (int64_t i = 0; i < k->g->nodes[n->parents[p]].numel; i++)
        s += (double)gin[p][i] * r->din[p][i];
  dy[0] = (float)s;
  free(gin[0]);
  free(gin[1]);
  return rc;
}

/* batch norm: dy = gamma dxhat + xhat dgamma + dbeta; eval (running stats) xhat = (x - rm) inv,
 * dxhat = (dx - drm) inv + (x - rm) dinv, dinv = -inv^3 drv / 2; training: batch statistics */
static tl_code batchnorm_tangent(const tl_adrule *r, const float *const *d, float *dy) {
  const tl_kctx *k = r->k;
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  int64_t N = xn->shape[0], C = xn->shape[1], S = (N > 0 && C > 0) ? xn->numel / (N * C) : 0, M = N * S;
  const float *x = k->in[0], *gam = k->in[1], *rm = k->in[3], *rv = k->in[4];
  double eps = (float)k->n->attrs.eps;
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(M + 1));
  double *xh = malloc(sizeof(double) * (size_t)(2 * M + 1)), *dxh = xh ? xh + M : NULL;
  if (!idx || !xh) {
    free(idx), free(xh);
    return nomem(k);
  }
  for (int64_t c = 0; c < C; c++) {
    tl_ad_bn_index(xn, c, idx);
    double inv, dinv;
    if (k->training && M > 0) {
      tl_ad_norm_group(x, d[0], idx, M, eps, xh, dxh, &inv, &dinv);
    } else {
      inv = 1.0 / sqrt((double)rv[c] + eps);
      dinv = -0.5 * inv * inv * inv * d[4][c];
      for (int64_t j = 0; j < M; j++) {
        double xm = (double)x[idx[j]] - rm[c];
        xh[j] = xm * inv;
        dxh[j] = ((double)d[0][idx[j]] - d[3][c]) * inv + xm * dinv;
      }
    }
    for (int64_t j = 0; j < M; j++)
      dy[idx[j]] = (float)(gam[c] * dxh[j] + xh[j] * d[1][c] + d[2][c]);
  }
  free(idx);
  free(xh);
  return TL_OK;
}

/* layer norm over the last axis: dy = gamma dxhat + xhat dgamma + dbeta */
static tl_code layernorm_tangent(const tl_adrule *r, const float *const *d, float *dy) {
  const tl_kctx *k = r->k;
  const tl_node *y = k->n;
  int64_t D = y->shape[y->ndim - 1], R = D ? y->numel / D : 0;
  int np = y->nparents;
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(D + 1));
  double *xh = malloc(sizeof(double) * (size_t)(2 * D + 1)), *dxh = xh ? xh + D : NULL;
  if (!idx || !xh) {
    free(idx), free(xh);
    return nomem(k);
  }
  for (int64_t rr = 0; rr < R; rr++) {
    for (int64_t i = 0; i < D; i++)
      idx[i] = rr * D + i;
    double inv, dinv;
    tl_ad_norm_group(k->in[0], d[0], idx, D, (float)y->attrs.eps, xh, dxh, &inv, &dinv);
    for (int64_t i = 0; i < D; i++) {
      double v = np > 1 ? k->in[1][i] * dxh[i] + xh[i] * d[1][i] : dxh[i];
      if (np > 2)
        v += d[2][i];
      dy[rr * D + i] = (float)v;
    }
  }
  free(idx);
  free(xh);
  return TL_OK;
}

tl_code tl_ad_tangent(const tl_adrule *r, float *dy) {
  const tl_kctx *k = r->k;
  const tl_node *n = k->n;
  int np = n->nparents;
  const float *dl[8], **d = np <= 8 ? dl : malloc(sizeof *d * (size_t)np);
  if (!d)
    return nomem(k);
  for (int p = 0; p < np; p++) /* zero tangents as a +0 buffer */
    d[p] = r->din[p] ? r->din[p] : r->zeros;
  tl_code rc = TL_OK;
  char w[96];
  switch (n->op) {
  /* linear in all inputs jointly: dy = f(dx) */
  case TL_OP_NEG: case TL_OP_ADD: case TL_OP_SUB: case TL_OP_SUM: case TL_OP_MEAN: case TL_OP_RESHAPE:
  case TL_OP_FLATTEN: case TL_OP_PERMUTE: case TL_OP_CONCAT: case TL_OP_SLICE: case TL_OP_AVG_POOL2D:
  case TL_OP_GLOBAL_AVG_POOL: case TL_OP_DROPOUT:
    rc = tl_ad_call_fwd(k, n, d, dy);
    break;
  case TL_OP_EMBEDDING: { /* dy[r, :] = dtable[idx[r], :] (indices have no tangent) */
    const float *in[2] = {k->in[0], d[1]};
    rc = tl_ad_call_fwd(k, n, in, dy);
    break;
  }
  /* diagonal Jacobian f'(x), or symmetric (softmax): dy = J^T dx = the VJP with seed dx */
  case TL_OP_ABS: case TL_OP_SQRT: case TL_OP_EXP: case TL_OP_LOG: case TL_OP_RELU: case TL_OP_LEAKY_RELU:
  case TL_OP_SIGMOID: case TL_OP_TANH: case TL_OP_GELU: case TL_OP_SILU: case TL_OP_CLAMP: case TL_OP_SOFTMAX: {
    memset(dy, 0, sizeof(float) * (size_t)n->numel);
    float *gin[1] = {dy};
    rc = tl_ad_call_bwd(k, n, k->in, k->out, d[0], gin);
    break;
  }
  case TL_OP_MUL: case TL_OP_DIV: case TL_OP_MAX: case TL_OP_MIN:
    rc = binary_tangent(r, d[0], d[1], dy);
    break;
  case TL_OP_LOG_SOFTMAX:
    log_softmax_tangent(k, d[0], dy);
    break;
  case TL_OP_MAX_POOL2D: /* argmax fixed: dy = dx at the first maximum */
    rc = tl_k_maxpool_jvp(k, d[0], dy);
    break;
  case TL_OP_LINEAR: case TL_OP_MATMUL: case TL_OP_CONV2D:
    rc = bilinear_tangent(r, dy);
    break;
  case TL_OP_MSE_LOSS: case TL_OP_CROSS_ENTROPY:
    rc = scalar_tangent(r, dy);
    break;
  case TL_OP_BATCH_NORM:
    rc = batchnorm_tangent(r, d, dy);
    break;
  case TL_OP_LAYER_NORM:
    rc = layernorm_tangent(r, d, dy);
    break;
  case TL_OP_ATTENTION:
    rc = tl_ad_attention_tangent(r, d, dy);
    break;
  default:
    rc = tl_fail(k->st, TL_EUNSUPPORTED, "%s: forward-mode autodiff has no tangent rule for this op",
                 tl_node_where(k, w, sizeof w));
  }
  if (d != dl)
    free((void *)d);
  return rc;
}
