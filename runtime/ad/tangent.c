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
 * loops below; multi-head attention is the product rule through its internal steps (ad/attention.c). */
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

/* ---- the rules: dy = J dx, d = the parents' tangents (the +0 buffer where zero) ---- */

/* linear in all inputs jointly: dy = f(dx) (the forward kernel on the tangents) */
static tl_code jvp_linear_map(const tl_adrule *r, const float *const *d, float *dy) {
  return tl_ad_call_fwd(r->k, r->k->n, d, dy);
}

/* dy[r, :] = dtable[idx[r], :] (indices have no tangent) */
static tl_code jvp_embedding(const tl_adrule *r, const float *const *d, float *dy) {
  const float *in[2] = {r->k->in[0], d[1]};
  return tl_ad_call_fwd(r->k, r->k->n, in, dy);
}

/* diagonal Jacobian f'(x), or symmetric (softmax): dy = J^T dx = the VJP with seed dx */
static tl_code jvp_vjp_seeded(const tl_adrule *r, const float *const *d, float *dy) {
  const tl_kctx *k = r->k;
  memset(dy, 0, sizeof(float) * (size_t)k->n->numel);
  float *gin[1] = {dy};
  return tl_ad_call_bwd(k, k->n, k->in, k->out, d[0], gin);
}

static tl_code jvp_binary(const tl_adrule *r, const float *const *d, float *dy) {
  return binary_tangent(r, d[0], d[1], dy);
}

static tl_code jvp_log_softmax(const tl_adrule *r, const float *const *d, float *dy) {
  log_softmax_tangent(r->k, d[0], dy);
  return TL_OK;
}

/* argmax fixed: dy = dx at the first maximum of each window */
static tl_code jvp_max_pool(const tl_adrule *r, const float *const *d, float *dy) {
  return tl_k_maxpool_jvp(r->k, d[0], dy);
}

static tl_code jvp_bilinear(const tl_adrule *r, const float *const *d, float *dy) {
  return bilinear_tangent(r, dy);
}

static tl_code jvp_scalar(const tl_adrule *r, const float *const *d, float *dy) {
  return scalar_tangent(r, dy);
}

/* one row per op of ops.def: a missing row is a compile error; JVP_NONE: no rule (a leaf) */
typedef tl_code (*tl_jvp_fn)(const tl_adrule *r, const float *const *d, float *dy);
#define JVP_NONE NULL
#define JVP_input JVP_NONE                    /* a leaf: the driver seeds its tangent */
#define JVP_param JVP_NONE                    /* a leaf: the driver seeds its tangent */
#define JVP_linear jvp_bilinear               /* dy = dx W^T + x dW^T + db */
#define JVP_matmul jvp_bilinear               /* dy = da b + a db */
#define JVP_add jvp_linear_map                /* dy = da + db */
#define JVP_sub jvp_linear_map                /* dy = da - db */
#define JVP_mul jvp_binary                    /* dy = da b + a db */
#define JVP_div jvp_binary                    /* dy = (da - y db) / b */
#define JVP_max jvp_binary                    /* dy = w da + (1 - w) db, w = [a > b] (1/2 on ties) */
#define JVP_min jvp_binary                    /* dy = w da + (1 - w) db, w = [a < b] (1/2 on ties) */
#define JVP_neg jvp_linear_map                /* dy = -dx */
#define JVP_abs jvp_vjp_seeded                /* dy = sign(x) dx */
#define JVP_sqrt jvp_vjp_seeded               /* dy = dx / (2 y) */
#define JVP_exp jvp_vjp_seeded                /* dy = y dx */
#define JVP_log jvp_vjp_seeded                /* dy = dx / x */
#define JVP_relu jvp_vjp_seeded               /* dy = [y > 0] dx */
#define JVP_leaky_relu jvp_vjp_seeded         /* dy = (x >= 0 ? 1 : alpha) dx */
#define JVP_sigmoid jvp_vjp_seeded            /* dy = y (1 - y) dx */
#define JVP_tanh jvp_vjp_seeded               /* dy = (1 - y^2) dx */
#define JVP_gelu jvp_vjp_seeded               /* dy = gelu'(x) dx */
#define JVP_silu jvp_vjp_seeded               /* dy = (s + x s (1 - s)) dx, s = sigmoid(x) */
#define JVP_softmax jvp_vjp_seeded            /* dy = y (dx - <y, dx>)  (J symmetric) */
#define JVP_log_softmax jvp_log_softmax       /* dy = dx - <e^y, dx> */
#define JVP_clamp jvp_vjp_seeded              /* dy = [lo <= x <= hi] dx */
#define JVP_sum jvp_linear_map                /* dy = sum dx */
#define JVP_mean jvp_linear_map               /* dy = mean dx */
#define JVP_reshape jvp_linear_map            /* dy = reshape(dx) */
#define JVP_flatten jvp_linear_map            /* dy = flatten(dx) */
#define JVP_permute jvp_linear_map            /* dy = permute(dx) */
#define JVP_concat jvp_linear_map             /* dy = concat(dx_k) */
#define JVP_slice jvp_linear_map              /* dy = slice(dx) */
#define JVP_conv2d jvp_bilinear               /* dy = conv(dx, W) + conv(x, dW) + db */
#define JVP_max_pool2d jvp_max_pool           /* dy = dx at the window's first argmax */
#define JVP_avg_pool2d jvp_linear_map         /* dy = avg_pool(dx) */
#define JVP_global_avg_pool jvp_linear_map    /* dy = mean over positions of dx */
#define JVP_batch_norm batchnorm_tangent      /* dy = gamma dxhat + xhat dgamma + dbeta */
#define JVP_layer_norm layernorm_tangent      /* dy = gamma dxhat + xhat dgamma + dbeta */
#define JVP_dropout jvp_linear_map            /* dy = dx m / (1 - p), the same mask */
#define JVP_embedding jvp_embedding           /* dy[r, :] = dtable[idx[r], :] */
#define JVP_attention tl_ad_attention_tangent /* product rule through the heads (ad/attention.c) */
#define JVP_mse_loss jvp_scalar               /* dy = <2 (a - b) / n, da - db> */
#define JVP_cross_entropy jvp_scalar          /* dy = sum_k <VJP_k(1), dx_k> */
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = JVP_##name,
static const tl_jvp_fn jvp_rules[TL_OP_COUNT] = {
#include "torchlean/ops.def"
};
#undef TL_OP

int tl_ad_has_jvp(tl_op op) { return (unsigned)op < TL_OP_COUNT && jvp_rules[op] != NULL; }

tl_code tl_ad_tangent(const tl_adrule *r, float *dy) {
  const tl_kctx *k = r->k;
  const tl_node *n = k->n;
  int np = n->nparents;
  const float *dl[8], **d = np <= 8 ? dl : malloc(sizeof *d * (size_t)np);
  if (!d)
    return nomem(k);
  for (int p = 0; p < np; p++) /* zero tangents as a +0 buffer */
    d[p] = r->din[p] ? r->din[p] : r->zeros;
  tl_code rc;
  char w[96];
  if (tl_ad_has_jvp(n->op))
    rc = jvp_rules[n->op](r, d, dy);
  else
    rc = tl_fail(k->st, TL_EUNSUPPORTED, "%s: forward-mode autodiff has no tangent rule for this op",
                 tl_node_where(k, w, sizeof w));
  if (d != dl)
    free((void *)d);
  return rc;
}
