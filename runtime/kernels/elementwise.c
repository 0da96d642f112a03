/* kernels/elementwise.c - broadcasting binary ops and unary ops (forward and VJP).
 * Elementwise ops have no reduction: FAST and REF kernels are the same code (one rounding per
 * float operation, libm's float functions expf/logf/sqrtf/tanhf), in the f32-ref order of
 * docs/semantics.md: C's left-to-right evaluation of each expression as written below. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/backend.h"
#include "kernels/ew_math.h"

/* ---- broadcasting iterator: output index -> flat indices of a and b ---- */
typedef struct bcast {
  int nd;
  int64_t *dim, *sa, *sb, *cnt;
} bcast;

static tl_code bc_init(bcast *b, const tl_node *y, const tl_node *pa, const tl_node *pb, tl_status *st) {
  int nd = y->ndim;
  b->nd = nd;
  b->dim = calloc((size_t)(4 * nd + 1), sizeof(int64_t));
  if (!b->dim)
    return tl_fail(st, TL_ENOMEM, "exec: out of memory");
  b->sa = b->dim + nd, b->sb = b->sa + nd, b->cnt = b->sb + nd;
  int64_t s1 = 1, s2 = 1;
  for (int i = nd - 1; i >= 0; i--) {
    b->dim[i] = y->shape[i];
    int ia = i - (nd - pa->ndim), ib = i - (nd - pb->ndim);
    int64_t da = ia >= 0 ? pa->shape[ia] : 1, db = ib >= 0 ? pb->shape[ib] : 1;
    b->sa[i] = da == 1 ? 0 : s1;
    b->sb[i] = db == 1 ? 0 : s2;
    s1 *= da, s2 *= db;
  }
  return TL_OK;
}

/* advance the multi-index by one output element */
#define BC_NEXT(b, ia, ib)                                                                                   \
  for (int d_ = (b).nd - 1; d_ >= 0; d_--) {                                                                 \
    ia += (b).sa[d_], ib += (b).sb[d_];                                                                      \
    if (++(b).cnt[d_] < (b).dim[d_])                                                                         \
      break;                                                                                                 \
    ia -= (b).sa[d_] * (b).dim[d_];                                                                          \
    ib -= (b).sb[d_] * (b).dim[d_];                                                                          \
    (b).cnt[d_] = 0;                                                                                         \
  }

#define fmax_nan tl_ew_max
#define fmin_nan tl_ew_min

static inline float binop(tl_op op, float a, float b) {
  switch (op) {
  case TL_OP_ADD: return a + b;          /* y = a + b */
  case TL_OP_SUB: return a - b;          /* y = a - b */
  case TL_OP_MUL: return a * b;          /* y = a * b */
  case TL_OP_DIV: return a / b;          /* y = a / b */
  case TL_OP_MAX: return fmax_nan(a, b); /* y = max(a, b), NaN propagates */
  default: return fmin_nan(a, b);        /* y = min(a, b), NaN propagates */
  }
}

tl_code tl_k_binary_fwd(const tl_kctx *k) {
  const tl_node *y = k->n, *pa = &k->g->nodes[y->parents[0]], *pb = &k->g->nodes[y->parents[1]];
  const float *a = k->in[0], *b = k->in[1];
  float *o = k->out;
  int64_t n = y->numel;
  tl_op op = y->op;
  if (pa->numel == n && pb->numel == n) { /* same shape: straight loops the compiler vectorises */
    switch (op) {
    case TL_OP_ADD:
      for (int64_t i = 0; i < n; i++)
        o[i] = a[i] + b[i];
      return TL_OK;
    case TL_OP_SUB:
      for (int64_t i = 0; i < n; i++)
        o[i] = a[i] - b[i];
      return TL_OK;
    case TL_OP_MUL:
      for (int64_t i = 0; i < n; i++)
        o[i] = a[i] * b[i];
      return TL_OK;
    default:
      for (int64_t i = 0; i < n; i++)
        o[i] = binop(op, a[i], b[i]);
      return TL_OK;
    }
  }
  if (k->kernels == TL_KERNELS_FAST && pa->numel == n &&
      pb->numel == 1) { /* tensor op scalar (e.g. x - mean) */
    float bs = b[0];
    switch (op) {
    case TL_OP_ADD:
      for (int64_t i = 0; i < n; i++)
        o[i] = a[i] + bs;
      return TL_OK;
    case TL_OP_SUB:
      for (int64_t i = 0; i < n; i++)
        o[i] = a[i] - bs;
      return TL_OK;
    case TL_OP_MUL:
      for (int64_t i = 0; i < n; i++)
        o[i] = a[i] * bs;
      return TL_OK;
    case TL_OP_DIV:
      for (int64_t i = 0; i < n; i++)
        o[i] = a[i] / bs;
      return TL_OK;
    default:
      for (int64_t i = 0; i < n; i++)
        o[i] = binop(op, a[i], bs);
      return TL_OK;
    }
  }
  bcast bc;
  TL_TRY(bc_init(&bc, y, pa, pb, k->st));
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < n; i++) {
    o[i] = binop(op, a[ia], b[ib]);
    BC_NEXT(bc, ia, ib)
  }
  free(bc.dim);
  return TL_OK;
}

/* VJP: add ga += g, gb += g; sub gb -= g; mul ga += g b, gb += g a; div ga += g / b,
 * gb -= g a / b^2; max/min: g to the winner (split in halves on ties).  Broadcast axes sum. */
tl_code tl_k_binary_bwd(const tl_kctx *k) {
  const tl_node *y = k->n, *pa = &k->g->nodes[y->parents[0]], *pb = &k->g->nodes[y->parents[1]];
  const float *a = k->in[0], *b = k->in[1], *g = k->gout;
  float *ga = k->gin[0], *gb = k->gin[1];
  tl_op op = y->op;
  bcast bc;
  TL_TRY(bc_init(&bc, y, pa, pb, k->st));
  int64_t ia = 0, ib = 0, n = y->numel;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    switch (op) {
    case TL_OP_ADD:
      if (ga)
        ga[ia] += gi;
      if (gb)
        gb[ib] += gi;
      break;
    case TL_OP_SUB:
      if (ga)
        ga[ia] += gi;
      if (gb)
        gb[ib] -= gi;
      break;
    case TL_OP_MUL:
      if (ga)
        ga[ia] += gi * b[ib];
      if (gb)
        gb[ib] += gi * a[ia];
      break;
    case TL_OP_DIV:
      if (ga)
        ga[ia] += gi / b[ib];
      if (gb)
        gb[ib] -= gi * a[ia] / (b[ib] * b[ib]);
      break;
    default: {
      float av = a[ia], bv = b[ib];
      float wa = av == bv ? 0.5f : ((op == TL_OP_MAX) == (av > bv) ? 1.0f : 0.0f);
      if (ga)
        ga[ia] += gi * wa;
      if (gb)
        gb[ib] += gi * (1.0f - wa);
    }
    }
    BC_NEXT(bc, ia, ib)
  }
  free(bc.dim);
  return TL_OK;
}

#define sigmoidf tl_ew_sigmoid
static const float GELU_C = 0.7978845608028654f; /* sqrt(2/pi), as in tl_ew_gelu */

tl_code tl_k_unary_fwd(const tl_kctx *k) {
  const float *x = k->in[0];
  float *y = k->out;
  int64_t n = k->n->numel;
  const tl_attrs *at = &k->n->attrs;
  switch (k->n->op) {
  case TL_OP_NEG:
    for (int64_t i = 0; i < n; i++)
      y[i] = -x[i];
    break; /* y = -x */
  case TL_OP_ABS:
    for (int64_t i = 0; i < n; i++)
      y[i] = fabsf(x[i]);
    break; /* y = |x| */
  case TL_OP_SQRT:
    for (int64_t i = 0; i < n; i++)
      y[i] = sqrtf(x[i]);
    break; /* y = sqrt x */
  case TL_OP_EXP:
    for (int64_t i = 0; i < n; i++)
      y[i] = expf(x[i]);
    break; /* y = e^x */
  case TL_OP_LOG:
    for (int64_t i = 0; i < n; i++)
      y[i] = logf(x[i]);
    break;         /* y = ln x */
  case TL_OP_RELU: /* y = max(x, +0): relu(-0) = +0, relu(NaN) = NaN */
    for (int64_t i = 0; i < n; i++)
      y[i] = tl_ew_relu(x[i]);
    break;
  case TL_OP_LEAKY_RELU: { /* y = x (x >= 0), alpha x (x < 0) */
    float al = (float)at->alpha;
    for (int64_t i = 0; i < n; i++)
      y[i] = tl_ew_leaky_relu(x[i], al);
    break;
  }
  case TL_OP_SIGMOID:
    for (int64_t i = 0; i < n; i++)
      y[i] = sigmoidf(x[i]);
    break; /* 1/(1+e^-x) */
  case TL_OP_TANH:
    for (int64_t i = 0; i < n; i++)
      y[i] = tanhf(x[i]);
    break;
  case TL_OP_GELU: /* y = x/2 (1 + tanh(c (x + 0.044715 x^3))) */
    for (int64_t i = 0; i < n; i++)
      y[i] = tl_ew_gelu(x[i]);
    break;
  case TL_OP_SILU:
    for (int64_t i = 0; i < n; i++)
      y[i] = x[i] * sigmoidf(x[i]);
    break;            /* x s(x) */
  case TL_OP_CLAMP: { /* y = minimum(maximum(x, lo), hi) (IEEE 754-2019): NaN stays NaN, +0/-0 as max/min */
    float lo = (float)at->lo, hi = (float)at->hi;
    for (int64_t i = 0; i < n; i++)
      y[i] = tl_ew_clamp(x[i], lo, hi);
    break;
  }
  default: return tl_fail(k->st, TL_EUNSUPPORTED, "exec: unary kernel got op %d", (int)k->n->op);
  }
  return TL_OK;
}

/* relu VJP: gx += g [y > 0]; when assigning (gx not zeroed, we are its only writer) gx = +0 + (...)
 * exactly.  Loads are hoisted out of the select, and the assigning select goes through a bit mask,
 * so GCC vectorises both loops. */
static void relu_bwd(const float *g, const float *y, float *gx, int64_t n, int assign) {
  if (assign) {
    for (int64_t i = 0; i < n; i++) {
      float gi = g[i], yi = y[i], t;
      uint32_t u, m = 0u - (uint32_t)(yi > 0.0f);
      memcpy(&u, &gi, sizeof u);
      u &= m;
      memcpy(&t, &u, sizeof t);
      gx[i] = 0.0f + t;
    }
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i], yi = y[i];
    gx[i] += yi > 0.0f ? gi : 0.0f;
  }
}

tl_code tl_k_unary_bwd(const tl_kctx *k) {
  const float *x = k->in ? k->in[0] : NULL, *y = k->out, *g = k->gout;
  float *gx = k->gin[0];
  int64_t n = k->n->numel;
  const tl_attrs *at = &k->n->attrs;
  if (!gx)
    return TL_OK;
  switch (k->n->op) {
  case TL_OP_NEG: /* -g */
    for (int64_t i = 0; i < n; i++)
      gx[i] -= g[i];
    break;
  case TL_OP_ABS: /* g sign(x), 0 at 0 */
    for (int64_t i = 0; i < n; i++)
      gx[i] += x[i] > 0 ? g[i] : (x[i] < 0 ? -g[i] : 0.0f);
    break;
  case TL_OP_SQRT: /* g / (2y) */
    for (int64_t i = 0; i < n; i++)
      gx[i] += g[i] * 0.5f / y[i];
    break;
  case TL_OP_EXP: /* g y */
    for (int64_t i = 0; i < n; i++)
      gx[i] += g[i] * y[i];
    break;
  case TL_OP_LOG: /* g / x */
    for (int64_t i = 0; i < n; i++)
      gx[i] += g[i] / x[i];
    break;
  case TL_OP_RELU: relu_bwd(g, y, gx, n, (k->gin_assign & 1u) != 0); break; /* g [x > 0] */
  case TL_OP_LEAKY_RELU: {                                                  /* g (x > 0 ? 1 : alpha) */
    float al = (float)at->alpha;
    for (int64_t i = 0; i < n; i++)
      gx[i] += x[i] > 0.0f ? g[i] : al * g[i];
    break;
  }
  case TL_OP_SIGMOID: /* g y(1-y) */
    for (int64_t i = 0; i < n; i++)
      gx[i] += g[i] * y[i] * (1.0f - y[i]);
    break;
  case TL_OP_TANH: /* g (1-y^2) */
    for (int64_t i = 0; i < n; i++)
      gx[i] += g[i] * (1.0f - y[i] * y[i]);
    break;
  case TL_OP_GELU: /* g (1/2 (1+t) + x/2 (1-t^2) c (1 + 3 0.044715 x^2)) */
    for (int64_t i = 0; i < n; i++) {
      float v = x[i], t = tanhf(GELU_C * (v + 0.044715f * v * v * v));
      float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * 0.044715f * v * v);
      gx[i] += g[i] * d;
    }
    break;
  case TL_OP_SILU: /* g s (1 + x (1 - s)) */
    for (int64_t i = 0; i < n; i++) {
      float s = sigmoidf(x[i]);
      gx[i] += g[i] * s * (1.0f + x[i] * (1.0f - s));
    }
    break;
  case TL_OP_CLAMP: { /* g [lo <= x <= hi] */
    float lo = (float)at->lo, hi = (float)at->hi;
    for (int64_t i = 0; i < n; i++)
      gx[i] += (x[i] >= lo && x[i] <= hi) ? g[i] : 0.0f;
    break;
  }
  default: return tl_fail(k->st, TL_EUNSUPPORTED, "exec: unary kernel got op %d", (int)k->n->op);
  }
  return TL_OK;
}
