/* ad/second.c - second-order rule of every op for forward-over-reverse HVP (Pearlmutter):
 * dgx_k += sum_j [d_{x_j} B_k(x, g)] dx_j, the part of the reverse pass's tangent that comes from
 * the inputs' tangents (the part from the output cotangent's tangent is the VJP kernel with seed
 * dg, run by the driver).  g = k->gout is the node's output cotangent, dx = r->din, dy = r->dy.
 *
 * Zero for ops whose VJP does not depend on the inputs (linear ops, shape ops, sums, pools with
 * the argmax fixed, dropout, embedding) or only through a piecewise-constant factor (relu,
 * leaky_relu, abs, clamp, max, min: zero almost everywhere).  Bilinear ops (linear, matmul,
 * conv2d) reuse the backward kernel with the tangents in place of the inputs:
 * d(gx) = B_x(dW, g), d(gW) = B_W(dx, g).  Multi-head attention: the tangent of its VJP with
 * every intermediate carried as a dual number (ad/attention.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ad/ad_rules.h"

static tl_code nomem(const tl_kctx *k) {
  char w[96];
  return tl_fail(k->st, TL_ENOMEM, "%s: out of memory for second-order terms", tl_node_where(k, w, sizeof w));
}

static const float GELU_C = 0.7978845608028654f, GELU_A = 0.044715f;

/* f''(x) of the smooth unary ops, from x and y = f(x), in double */
static double second_derivative(tl_op op, double x, double y) {
  switch (op) {
  case TL_OP_SQRT: return -0.25 / (y * y * y);          /* (sqrt x)'' = -1 / (4 y^3) */
  case TL_OP_EXP: return y;                             /* (e^x)'' = e^x */
  case TL_OP_LOG: return -1.0 / (x * x);                /* (ln x)'' = -1 / x^2 */
  case TL_OP_SIGMOID: return y * (1 - y) * (1 - 2 * y); /* s'' = s (1 - s) (1 - 2 s) */
  case TL_OP_TANH: return -2 * y * (1 - y * y);         /* tanh'' = -2 y (1 - y^2) */
  case TL_OP_SILU: {                                    /* (x s)'' = s (1 - s) (2 + x (1 - 2 s)) */
    double s = 1 / (1 + exp(-x));
    return s * (1 - s) * (2 + x * (1 - 2 * s));
  }
  case TL_OP_GELU: { /* f = x/2 (1 + t), t = tanh u: f'' = (1 - t^2) (u' + x/2 (u'' - 2 t u'^2)) */
    double c = GELU_C, a = GELU_A, u = c * (x + a * x * x * x), t = tanh(u);
    double u1 = c * (1 + 3 * a * x * x), u2 = 6 * a * c * x;
    return (1 - t * t) * (u1 + 0.5 * x * (u2 - 2 * t * u1 * u1));
  }
  default: return 0;
  }
}

/* mul: dga += g db, dgb += g da; div (ga = g/b, gb = -g a/b^2): dga += -g db/b^2,
 * dgb += -g da/b^2 + 2 g a db/b^3  (broadcast axes sum) */
static tl_code binary_second(const tl_adrule *r, float *const *dgin) {
  const tl_kctx *k = r->k;
  const tl_node *y = k->n, *pa = &k->g->nodes[y->parents[0]], *pb = &k->g->nodes[y->parents[1]];
  int64_t n = y->numel, *ia = malloc(sizeof(int64_t) * (size_t)(2 * n + 1)), *ib = ia + n;
  if (!ia)
    return nomem(k);
  tl_ad_bcast_index(y, pa, pb, ia, ib);
  const float *a = k->in[0], *b = k->in[1], *g = k->gout;
  const float *da = r->din[0] ? r->din[0] : r->zeros, *db = r->din[1] ? r->din[1] : r->zeros;
  float *ga = dgin[0], *gb = dgin[1];
  for (int64_t i = 0; i < n; i++) {
    double gi = g[i], av = a[ia[i]], bv = b[ib[i]], dav = da[ia[i]], dbv = db[ib[i]];
    if (y->op == TL_OP_MUL) {
      if (ga)
        ga[ia[i]] += (float)(gi * dbv);
      if (gb)
        gb[ib[i]] += (float)(gi * dav);
    } else {
      if (ga)
        ga[ia[i]] += (float)(-gi * dbv / (bv * bv));
      if (gb)
        gb[ib[i]] += (float)(-gi * dav / (bv * bv) + 2 * gi * av * dbv / (bv * bv * bv));
    }
  }
  free(ia);
  return TL_OK;
}

/* softmax (gx = y (g - <g,y>)): dgx += dy (g - <g,y>) - y <g,dy>;
 * log_softmax (gx = g - p sum g, p = e^y): dgx -= p dy sum g */
static void softmax_second(const tl_adrule *r, float *gx, int log) {
  const tl_kctx *k = r->k;
  int64_t outer, D, inner;
  tl_ad_axis_geom(k->n, k->n->attrs.axis, &outer, &D, &inner);
  const float *y = k->out, *g = k->gout, *dy = r->dy;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * D * inner + j;
      double gy = 0, gdy = 0, sg = 0;
      for (int64_t i = 0; i < D; i++) {
        int64_t a = base + i * inner;
        gy += (double)g[a] * y[a], gdy += (double)g[a] * dy[a], sg += g[a];
      }
      for (int64_t i = 0; i < D; i++) {
        int64_t a = base + i * inner;
        gx[a] += log ? (float)(-exp((double)y[a]) * dy[a] * sg) : (float)(dy[a] * (g[a] - gy) - y[a] * gdy);
      }
    }
}

/* bilinear: d(gx) = B_x(dW, g), d(gW) = B_W(dx, g): the VJP kernel on the tangents (no bias term) */
static tl_code bilinear_second(const tl_adrule *r, float *const *dgin) {
  const tl_kctx *k = r->k;
  tl_node nb = *k->n;
  nb.nparents = 2;
  const float *in[2] = {r->din[0] ? r->din[0] : r->zeros, r->din[1] ? r->din[1] : r->zeros};
  float *gin[2] = {r->din[1] ? dgin[0] : NULL, r->din[0] ? dgin[1] : NULL};
  if (!gin[0] && !gin[1])
    return TL_OK;
  return tl_ad_call_bwd(k, &nb, in, NULL, k->gout, gin);
}

/* mse (ga = 2 g (a - b) / n, gb = -ga): dga += 2 g (da - db) / n, dgb -= the same */
static void mse_second(const tl_adrule *r, float *const *dgin) {
  const tl_kctx *k = r->k;
  int64_t n = k->g->nodes[k->n->parents[0]].numel;
  const float *da = r->din[0] ? r->din[0] : r->zeros, *db = r->din[1] ? r->din[1] : r->zeros;
  double f = 2.0 * k->gout[0] / (double)n;
  for (int64_t i = 0; i < n; i++) {
    double v = f * ((double)da[i] - db[i]);
    if (dgin[0])
      dgin[0][i] += (float)v;
    if (dgin[1])
      dgin[1][i] -= (float)v;
  }
}

/* cross entropy (gx = f (p ts - t), gt = -f ls, f = g/N): per row, dls = dx - <p,dx>, dp = p dls:
 * dgx += f (dp ts + p sum(dt) - dt); dgt += -f dls */
static tl_code cross_entropy_second(const tl_adrule *r, float *const *dgin) {
  const tl_kctx *k = r->k;
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  int64_t N = xn->shape[0], K = xn->shape[1];
  double *p = malloc(sizeof(double) * (size_t)(K + 1)), f = (double)k->gout[0] / (double)N;
  if (!p)
    return nomem(k);
  const float *dx = r->din[0] ? r->din[0] : r->zeros, *dt = r->din[1] ? r->din[1] : r->zeros;
  for (int64_t n = 0; n < N; n++) {
    const float *x = k->in[0] + n * K, *t = k->in[1] + n * K;
    double m = -INFINITY, s = 0, pdx = 0, ts = 0, dts = 0;
    for (int64_t c = 0; c < K; c++)
      m = fmax(m, x[c]);
    for (int64_t c = 0; c < K; c++)
      s += (p[c] = exp(x[c] - m));
    for (int64_t c = 0; c < K; c++) {
      p[c] /= s;
      pdx += p[c] * dx[n * K + c], ts += t[c], dts += dt[n * K + c];
    }
    for (int64_t c = 0; c < K; c++) {
      double dls = dx[n * K + c] - pdx;
      if (dgin[0])
        dgin[0][n * K + c] += (float)(f * (p[c] * dls * ts + p[c] * dts - dt[n * K + c]));
      if (dgin[1])
        dgin[1][n * K + c] += (float)(-f * dls);
    }
  }
  free(p);
  return TL_OK;
}

/* Normalisation with batch statistics over one group (layer norm row, training batch norm
 * channel), gh = g gamma, A = sum gh, B = sum gh xhat, gx = inv (gh - A/M - xhat B/M):
 * dgx += dinv (gh - A/M - xhat B/M) + inv (dgh - dA/M - dxhat B/M - xhat dB/M) with dgh = g dgamma,
 * dA = sum dgh, dB = sum (dgh xhat + gh dxhat).  gdx_j = g_j dxhat_j (for dgamma) is returned. */
static void norm_group_second(const float *x, const float *dx, const float *g, const int64_t *idx, int64_t M,
                              double eps, const double *gam, const double *dgam, double *xh, double *dxh,
                              double *gdx, float *dgx) {
  double inv, dinv, A = 0, B = 0, dA = 0, dB = 0;
  tl_ad_norm_group(x, dx, idx, M, eps, xh, dxh, &inv, &dinv);
  for (int64_t j = 0; j < M; j++) {
    double gh = g[idx[j]] * gam[j], dgh = g[idx[j]] * dgam[j];
    A += gh, B += gh * xh[j], dA += dgh, dB += dgh * xh[j] + gh * dxh[j];
    gdx[j] = g[idx[j]] * dxh[j];
  }
  if (!dgx || !M)
    return;
  double m = (double)M;
  for (int64_t j = 0; j < M; j++) {
    double gh = g[idx[j]] * gam[j], dgh = g[idx[j]] * dgam[j];
    dgx[idx[j]] +=
        (float)(dinv * (gh - A / m - xh[j] * B / m) + inv * (dgh - dA / m - dxh[j] * B / m - xh[j] * dB / m));
  }
}

/* batch norm eval (gx = g gamma inv, ggamma = sum g xhat, grm = -sum g gamma inv,
 * grv = -1/2 sum g gamma (x - rm) inv^3), q = dgamma inv + gamma dinv, dinv = -inv^3 drv / 2:
 * dgx += g q; dggamma += sum g dxhat; dgrm += -sum g q;
 * dgrv += -1/2 sum g (dgamma (x-rm) inv^3 + gamma (dx - drm) inv^3 + 3 gamma (x-rm) inv^2 dinv);
 * training: norm_group_second per channel */
static tl_code batchnorm_second(const tl_adrule *r, const float *const *d, float *const *dgin) {
  const tl_kctx *k = r->k;
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  int64_t N = xn->shape[0], C = xn->shape[1], S = (N > 0 && C > 0) ? xn->numel / (N * C) : 0, M = N * S;
  const float *x = k->in[0], *gam = k->in[1], *rm = k->in[3], *rv = k->in[4], *g = k->gout;
  double eps = (float)k->n->attrs.eps;
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(M + 1));
  double *buf = malloc(sizeof(double) * (size_t)(5 * M + 1));
  if (!idx || !buf) {
    free(idx), free(buf);
    return nomem(k);
  }
  double *xh = buf, *dxh = buf + M, *gdx = dxh + M, *gv = gdx + M, *dgv = gv + M;
  for (int64_t c = 0; c < C; c++) {
    tl_ad_bn_index(xn, c, idx);
    if (k->training && M > 0) {
      for (int64_t j = 0; j < M; j++)
        gv[j] = gam[c], dgv[j] = d[1][c];
      norm_group_second(x, d[0], g, idx, M, eps, gv, dgv, xh, dxh, gdx, dgin[0]);
      double s = 0;
      for (int64_t j = 0; j < M; j++)
        s += gdx[j];
      if (dgin[1])
        dgin[1][c] += (float)s;
      continue;
    }
    double inv = 1.0 / sqrt((double)rv[c] + eps), dinv = -0.5 * inv * inv * inv * d[4][c];
    double q = d[1][c] * inv + gam[c] * dinv, sgdxh = 0, sg = 0, srv = 0;
    for (int64_t j = 0; j < M; j++) {
      int64_t at = idx[j];
      double xm = (double)x[at] - rm[c], dxm = (double)d[0][at] - d[3][c];
      sgdxh += g[at] * (dxm * inv + xm * dinv);
      sg += g[at];
      srv += g[at] * (d[1][c] * xm * inv * inv * inv + gam[c] * dxm * inv * inv * inv +
                      3 * gam[c] * xm * inv * inv * dinv);
      if (dgin[0])
        dgin[0][at] += (float)(g[at] * q);
    }
    if (dgin[1])
      dgin[1][c] += (float)sgdxh;
    if (dgin[3])
      dgin[3][c] += (float)(-sg * q);
    if (dgin[4])
      dgin[4][c] += (float)(-0.5 * srv);
  }
  free(idx);
  free(buf);
  return TL_OK;
}

static tl_code layernorm_second(const tl_adrule *r, const float *const *d, float *const *dgin) {
  const tl_kctx *k = r->k;
  const tl_node *y = k->n;
  int64_t D = y->shape[y->ndim - 1], R = D ? y->numel / D : 0;
  int np = y->nparents;
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(D + 1));
  double *buf = malloc(sizeof(double) * (size_t)(5 * D + 1));
  if (!idx || !buf) {
    free(idx), free(buf);
    return nomem(k);
  }
  double *xh = buf, *dxh = buf + D, *gdx = dxh + D, *gv = gdx + D, *dgv = gv + D;
  for (int64_t i = 0; i < D; i++) {
    gv[i] = np > 1 ? k->in[1][i] : 1.0;
    dgv[i] = np > 1 ? d[1][i] : 0.0;
  }
  for (int64_t rr = 0; rr < R; rr++) {
    for (int64_t i = 0; i < D; i++)
      idx[i] = rr * D + i;
    norm_group_second(k->in[0], d[0], k->gout, idx, D, (float)y->attrs.eps, gv, dgv, xh, dxh, gdx, dgin[0]);
    if (np > 1 && dgin[1]) /* ggamma = sum g xhat: d = sum g dxhat */
      for (int64_t i = 0; i < D; i++)
        dgin[1][i] += (float)gdx[i];
  }
  free(idx);
  free(buf);
  return TL_OK;
}

/* ---- the rules: dgx_k += sum_j [d_{x_j} B_k(x, g)] dx_j ---- */

/* VJP independent of the inputs, or piecewise constant in them: no second-order term */
static tl_code hvp_zero(const tl_adrule *r, float *const *dgin) { return TL_OK; }

/* smooth unary f (gx = g f'(x)): dgx += g f''(x) dx */
static tl_code hvp_smooth_unary(const tl_adrule *r, float *const *dgin) {
  const tl_kctx *k = r->k;
  const tl_node *n = k->n;
  const float *x = k->in[0], *y = k->out, *g = k->gout, *dx = r->din[0];
  if (!dx || !dgin[0])
    return TL_OK;
  for (int64_t i = 0; i < n->numel; i++)
    dgin[0][i] += (float)((double)g[i] * second_derivative(n->op, x[i], y[i]) * dx[i]);
  return TL_OK;
}

static tl_code hvp_softmax(const tl_adrule *r, float *const *dgin) {
  if (r->dy && dgin[0])
    softmax_second(r, dgin[0], 0);
  return TL_OK;
}

static tl_code hvp_log_softmax(const tl_adrule *r, float *const *dgin) {
  if (r->dy && dgin[0])
    softmax_second(r, dgin[0], 1);
  return TL_OK;
}

static tl_code hvp_mse(const tl_adrule *r, float *const *dgin) {
  mse_second(r, dgin);
  return TL_OK;
}

/* the parents' tangents with the +0 buffer where zero (np <= 5) */
static void tangents_or_zeros(const tl_adrule *r, int np, const float **dl) {
  for (int p = 0; p < np; p++)
    dl[p] = r->din[p] ? r->din[p] : r->zeros;
}

static tl_code hvp_batch_norm(const tl_adrule *r, float *const *dgin) {
  const float *dl[5];
  tangents_or_zeros(r, r->k->n->nparents, dl);
  return batchnorm_second(r, dl, dgin);
}

static tl_code hvp_layer_norm(const tl_adrule *r, float *const *dgin) {
  const float *dl[5];
  tangents_or_zeros(r, r->k->n->nparents, dl);
  return layernorm_second(r, dl, dgin);
}

static tl_code hvp_attention(const tl_adrule *r, float *const *dgin) {
  const float *dl[5];
  tangents_or_zeros(r, 5, dl);
  return tl_ad_attention_second(r, dl, dgin);
}

/* one row per op of ops.def: a missing row is a compile error; HVP_NONE: no rule (a leaf) */
typedef tl_code (*tl_hvp_fn)(const tl_adrule *r, float *const *dgin);
#define HVP_NONE NULL
#define HVP_input HVP_NONE                     /* a leaf: its cotangent is the result */
#define HVP_param HVP_NONE                     /* a leaf: its cotangent is the result */
#define HVP_linear bilinear_second             /* d(gx) = g dW, d(gW) = g^T dx (VJP on the tangents) */
#define HVP_matmul bilinear_second             /* d(ga) = g db^T, d(gb) = da^T g */
#define HVP_add hvp_zero                       /* ga = g, gb = g: no input dependence */
#define HVP_sub hvp_zero                       /* ga = g, gb = -g */
#define HVP_mul binary_second                  /* dga += g db, dgb += g da */
#define HVP_div binary_second                  /* dga += -g db/b^2, dgb += -g da/b^2 + 2 g a db/b^3 */
#define HVP_max hvp_zero                       /* piecewise-constant selector: zero a.e. */
#define HVP_min hvp_zero                       /* piecewise-constant selector: zero a.e. */
#define HVP_neg hvp_zero                       /* gx = -g */
#define HVP_abs hvp_zero                       /* gx = sign(x) g: zero a.e. */
#define HVP_sqrt hvp_smooth_unary              /* f'' = -1 / (4 y^3) */
#define HVP_exp hvp_smooth_unary               /* f'' = e^x */
#define HVP_log hvp_smooth_unary               /* f'' = -1 / x^2 */
#define HVP_relu hvp_zero                      /* gx = [x > 0] g: zero a.e. */
#define HVP_leaky_relu hvp_zero                /* piecewise linear: zero a.e. */
#define HVP_sigmoid hvp_smooth_unary           /* f'' = s (1 - s) (1 - 2 s) */
#define HVP_tanh hvp_smooth_unary              /* f'' = -2 y (1 - y^2) */
#define HVP_gelu hvp_smooth_unary              /* f'' = (1 - t^2) (u' + x/2 (u'' - 2 t u'^2)) */
#define HVP_silu hvp_smooth_unary              /* f'' = s (1 - s) (2 + x (1 - 2 s)) */
#define HVP_softmax hvp_softmax                /* dgx += dy (g - <g,y>) - y <g,dy> */
#define HVP_log_softmax hvp_log_softmax        /* dgx -= e^y dy sum g */
#define HVP_clamp hvp_zero                     /* gx = [lo <= x <= hi] g: zero a.e. */
#define HVP_sum hvp_zero                       /* linear */
#define HVP_mean hvp_zero                      /* linear */
#define HVP_reshape hvp_zero                   /* linear */
#define HVP_flatten hvp_zero                   /* linear */
#define HVP_permute hvp_zero                   /* linear */
#define HVP_concat hvp_zero                    /* linear */
#define HVP_slice hvp_zero                     /* linear */
#define HVP_conv2d bilinear_second             /* d(gx) = B_x(dW, g), d(gW) = B_W(dx, g) */
#define HVP_max_pool2d hvp_zero                /* argmax fixed: linear a.e. */
#define HVP_avg_pool2d hvp_zero                /* linear */
#define HVP_global_avg_pool hvp_zero           /* linear */
#define HVP_batch_norm hvp_batch_norm          /* tangent of gx, ggamma, grm, grv (eval or batch stats) */
#define HVP_layer_norm hvp_layer_norm          /* tangent of gx, ggamma over each row */
#define HVP_dropout hvp_zero                   /* gx = g m / (1 - p): linear */
#define HVP_embedding hvp_zero                 /* gtable = scatter of g: linear */
#define HVP_attention hvp_attention            /* tangent of the VJP as dual numbers (ad/attention.c) */
#define HVP_mse_loss hvp_mse                   /* dga += 2 g (da - db) / n, dgb -= the same */
#define HVP_cross_entropy cross_entropy_second /* dgx += f (dp ts + p sum(dt) - dt), dgt += -f dls */
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = HVP_##name,
static const tl_hvp_fn hvp_rules[TL_OP_COUNT] = {
#include "torchlean/ops.def"
};
#undef TL_OP

int tl_ad_has_hvp(tl_op op) { return (unsigned)op < TL_OP_COUNT && hvp_rules[op] != NULL; }

tl_code tl_ad_second(const tl_adrule *r, float *const *dgin) {
  const tl_kctx *k = r->k;
  char w[96];
  if (tl_ad_has_hvp(k->n->op))
    return hvp_rules[k->n->op](r, dgin);
  return tl_fail(k->st, TL_EUNSUPPORTED, "%s: Hessian-vector products have no second-order rule for this op",
                 tl_node_where(k, w, sizeof w));
}
