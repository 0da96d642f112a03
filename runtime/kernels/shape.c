/* kernels/shape.c - reshape, flatten, permute, concat, slice, sum, mean.
 *
 * f32-ref order (docs/f32-ref-order.md); FAST and REF kernels are this same code:
 *   sum   each output element is the left fold of its input elements taken in row-major order
 *         of the input, starting from the first element (an empty sum is +0)
 *   mean  y = sum / (float)count   (count = number of reduced elements)
 * The data-movement ops copy bits exactly. */
#include <stdlib.h>
#include <string.h>

#include "exec/backend.h"

/* reshape / flatten: y = x (same row-major elements) */
tl_code tl_k_copy_fwd(const tl_kctx *k) {
  if (k->out != k->in[0])
    memcpy(k->out, k->in[0], (size_t)k->n->numel * sizeof(float));
  return TL_OK;
}
/* gx += g */
tl_code tl_k_copy_bwd(const tl_kctx *k) {
  if (k->gin[0])
    for (int64_t i = 0; i < k->n->numel; i++)
      k->gin[0][i] += k->gout[i];
  return TL_OK;
}

/* input stride of each output axis: stride of input axis perm[k] */
static tl_code perm_strides(const tl_kctx *k, int64_t **out) {
  const tl_node *x = &k->g->nodes[k->n->parents[0]];
  int nd = x->ndim;
  int64_t *s = calloc((size_t)(3 * nd + 1), sizeof *s);
  if (!s)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory");
  int64_t *xs = s + nd;
  int64_t acc = 1;
  for (int i = nd - 1; i >= 0; i--)
    xs[i] = acc, acc *= x->shape[i];
  for (int i = 0; i < nd; i++)
    s[i] = xs[k->n->attrs.list[i]];
  *out = s;
  return TL_OK;
}

/* walks output elements in order; calls body with (output index o, input index xi) */
#define PERM_LOOP(k, s, body)                                                                                \
  do {                                                                                                       \
    const tl_node *y_ = (k)->n;                                                                              \
    int nd_ = y_->ndim;                                                                                      \
    int64_t *cnt_ = (s) + 2 * nd_, xi = 0;                                                                   \
    for (int64_t o = 0; o < y_->numel; o++) {                                                                \
      body;                                                                                                  \
      for (int d_ = nd_ - 1; d_ >= 0; d_--) {                                                                \
        xi += (s)[d_];                                                                                       \
        if (++cnt_[d_] < y_->shape[d_])                                                                      \
          break;                                                                                             \
        xi -= (s)[d_] * y_->shape[d_];                                                                       \
        cnt_[d_] = 0;                                                                                        \
      }                                                                                                      \
    }                                                                                                        \
  } while (0)

/* y[.., i_k, ..] = x[.., i_{perm^-1}, ..]: output axis k is input axis perm[k] */
tl_code tl_k_permute_fwd(const tl_kctx *k) {
  int64_t *s;
  TL_TRY(perm_strides(k, &s));
  const float *x = k->in[0];
  float *y = k->out;
  PERM_LOOP(k, s, y[o] = x[xi]);
  free(s);
  return TL_OK;
}
/* gx[perm index] += g */
tl_code tl_k_permute_bwd(const tl_kctx *k) {
  if (!k->gin[0])
    return TL_OK;
  int64_t *s;
  TL_TRY(perm_strides(k, &s));
  const float *g = k->gout;
  float *gx = k->gin[0];
  PERM_LOOP(k, s, gx[xi] += g[o]);
  free(s);
  return TL_OK;
}

static void outer_inner(const tl_node *n, int64_t axis, int64_t *outer, int64_t *inner) {
  *outer = 1, *inner = 1;
  for (int i = 0; i < axis; i++)
    *outer *= n->shape[i];
  for (int i = (int)axis + 1; i < n->ndim; i++)
    *inner *= n->shape[i];
}

/* y = [x_0, x_1, ...] along axis */
tl_code tl_k_concat_fwd(const tl_kctx *k) {
  int64_t outer, inner, ax = k->n->attrs.axis, Dy = k->n->shape[ax];
  outer_inner(k->n, ax, &outer, &inner);
  int64_t off = 0;
  for (int p = 0; p < k->n->nparents; p++) {
    int64_t D = k->g->nodes[k->n->parents[p]].shape[ax];
    for (int64_t o = 0; o < outer; o++)
      memcpy(k->out + (o * Dy + off) * inner, k->in[p] + o * D * inner, (size_t)(D * inner) * sizeof(float));
    off += D;
  }
  return TL_OK;
}
/* gx_p += the matching block of g */
tl_code tl_k_concat_bwd(const tl_kctx *k) {
  int64_t outer, inner, ax = k->n->attrs.axis, Dy = k->n->shape[ax];
  outer_inner(k->n, ax, &outer, &inner);
  int64_t off = 0;
  for (int p = 0; p < k->n->nparents; p++) {
    int64_t D = k->g->nodes[k->n->parents[p]].shape[ax];
    if (k->gin[p])
      for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < D * inner; i++)
          k->gin[p][o * D * inner + i] += k->gout[(o * Dy + off) * inner + i];
    off += D;
  }
  return TL_OK;
}

/* y = x[.., start:end:step, ..] */
tl_code tl_k_slice_fwd(const tl_kctx *k) {
  const tl_attrs *a = &k->n->attrs;
  int64_t outer, inner, Dx = k->g->nodes[k->n->parents[0]].shape[a->axis], Dy = k->n->shape[a->axis];
  outer_inner(k->n, a->axis, &outer, &inner);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t d = 0; d < Dy; d++)
      memcpy(k->out + (o * Dy + d) * inner, k->in[0] + (o * Dx + a->start + d * a->step) * inner,
             (size_t)inner * sizeof(float));
  return TL_OK;
}
/* gx[start + d step] += g[d] */
tl_code tl_k_slice_bwd(const tl_kctx *k) {
  const tl_attrs *a = &k->n->attrs;
  int64_t outer, inner, Dx = k->g->nodes[k->n->parents[0]].shape[a->axis], Dy = k->n->shape[a->axis];
  outer_inner(k->n, a->axis, &outer, &inner);
  if (!k->gin[0])
    return TL_OK;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t d = 0; d < Dy; d++)
      for (int64_t i = 0; i < inner; i++)
        k->gin[0][(o * Dx + a->start + d * a->step) * inner + i] += k->gout[(o * Dy + d) * inner + i];
  return TL_OK;
}

/* output stride for every input axis (0 on reduced axes) and the reduction count */
static tl_code reduce_strides(const tl_kctx *k, int64_t **out, int64_t *count) {
  const tl_node *x = &k->g->nodes[k->n->parents[0]];
  const tl_attrs *a = &k->n->attrs;
  int nd = x->ndim;
  int64_t *s = calloc((size_t)(2 * nd + 1), sizeof *s);
  if (!s)
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory");
  unsigned char red[64] = {0};
  unsigned char *r = nd <= 64 ? red : calloc((size_t)nd, 1);
  if (!r) {
    free(s);
    return tl_fail(k->st, TL_ENOMEM, "exec: out of memory");
  }
  for (int i = 0; i < nd; i++)
    r[i] = a->nlist == 0;
  for (int i = 0; i < a->nlist; i++)
    r[a->list[i]] = 1;
  int64_t acc = 1, cnt = 1;
  for (int i = nd - 1; i >= 0; i--) {
    if (r[i]) {
      s[i] = 0;
      cnt *= x->shape[i];
    } else {
      s[i] = acc;
      acc *= x->shape[i];
    }
  }
  if (r != red)
    free(r);
  *out = s;
  *count = cnt;
  return TL_OK;
}

/* walk input elements in row-major order; yi is the output index */
#define RED_LOOP(xn, s, body)                                                                                \
  do {                                                                                                       \
    int nd_ = (xn)->ndim;                                                                                    \
    int64_t *cnt_ = (s) + nd_, yi = 0;                                                                       \
    for (int64_t i = 0; i < (xn)->numel; i++) {                                                              \
      body;                                                                                                  \
      for (int d_ = nd_ - 1; d_ >= 0; d_--) {                                                                \
        yi += (s)[d_];                                                                                       \
        if (++cnt_[d_] < (xn)->shape[d_])                                                                    \
          break;                                                                                             \
        yi -= (s)[d_] * (xn)->shape[d_];                                                                     \
        cnt_[d_] = 0;                                                                                        \
      }                                                                                                      \
    }                                                                                                        \
  } while (0)

/* sum: y = sum over axes; mean: y = sum / count */
tl_code tl_k_reduce_fwd(const tl_kctx *k) {
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  int64_t *s, cnt;
  TL_TRY(reduce_strides(k, &s, &cnt));
  float *y = k->out;
  const float *x = k->in[0];
  float init = cnt ? -0.0f : 0.0f; /* -0 + v == v: the fold starts from the first element */
  for (int64_t i = 0; i < k->n->numel; i++)
    y[i] = init;
  RED_LOOP(xn, s, y[yi] = y[yi] + x[i]);
  if (k->n->op == TL_OP_MEAN)
    for (int64_t i = 0; i < k->n->numel; i++)
      y[i] = y[i] / (float)cnt;
  free(s);
  return TL_OK;
}

/* gx += g[yi] (sum) or g[yi] / count (mean) */
tl_code tl_k_reduce_bwd(const tl_kctx *k) {
  const tl_node *xn = &k->g->nodes[k->n->parents[0]];
  if (!k->gin[0])
    return TL_OK;
  int64_t *s, cnt;
  TL_TRY(reduce_strides(k, &s, &cnt));
  const float *g = k->gout;
  float *gx = k->gin[0];
  if (k->n->op == TL_OP_MEAN) {
    float c = (float)cnt;
    RED_LOOP(xn, s, gx[i] += g[yi] / c);
  } else {
    RED_LOOP(xn, s, gx[i] += g[yi]);
  }
  free(s);
  return TL_OK;
}
