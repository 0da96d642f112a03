/* ir/ops.c - the op registry: name, arity, attribute schema and shape inference of every op.
 * Adding an op touches this table once; other modules keep their own per-op tables. */
#include <stdlib.h>
#include <string.h>

#include "torchlean/graph.h"
#include "torchlean/tensor.h"

#define SHAPE(id) (g->nodes[id].shape)
#define RANK(id) (g->nodes[id].ndim)

static tl_code alloc_shape(int ndim, int64_t **shape, tl_status *st) {
  *shape = malloc((size_t)(ndim > 0 ? ndim : 1) * sizeof **shape);
  return *shape ? TL_OK : tl_fail(st, TL_ENOMEM, "graph: out of memory");
}

static tl_code copy_shape(const tl_graph *g, int id, int *ndim, int64_t **shape, tl_status *st) {
  *ndim = RANK(id);
  TL_TRY(alloc_shape(*ndim, shape, st));
  if (*ndim) /* a rank-0 parent (a loss) has no shape array: memcpy from NULL is undefined */
    memcpy(*shape, SHAPE(id), (size_t)*ndim * sizeof **shape);
  return TL_OK;
}

/* axis in [-rank, rank) -> [0, rank) */
static tl_code norm_axis(int64_t *axis, int rank, const char *what, const char *where, tl_status *st) {
  if (*axis < -rank || *axis >= rank)
    return tl_fail(st, TL_EVALUE, "%s: %s %lld out of range for rank %d", where, what, (long long)*axis,
                   rank);
  if (*axis < 0)
    *axis += rank;
  return TL_OK;
}

static tl_code shape_mismatch(const tl_graph *g, int a, int b, const char *where, tl_status *st) {
  char sa[128], sb[128];
  return tl_fail(st, TL_ESHAPE, "%s: shapes %s (node %d) and %s (node %d) do not fit", where,
                 tl_shape_str(RANK(a), SHAPE(a), sa, sizeof sa), a,
                 tl_shape_str(RANK(b), SHAPE(b), sb, sizeof sb), b);
}

/* ---- infer functions ---------------------------------------------------------------------- */

static tl_code infer_none(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                          const char *where, tl_status *st) {
  return tl_fail(st, TL_EARG, "%s: inputs and parameters are added with tl_graph_input/tl_graph_param",
                 where);
}

static tl_code infer_same(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                          const char *where, tl_status *st) {
  return copy_shape(g, p[0], nd, s, st);
}

static tl_code infer_leaky(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                           const char *where, tl_status *st) {
  if (!(a->alpha == a->alpha))
    return tl_fail(st, TL_EVALUE, "%s: alpha is NaN", where);
  return copy_shape(g, p[0], nd, s, st);
}

static tl_code infer_clamp(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                           const char *where, tl_status *st) {
  if (!(a->lo <= a->hi))
    return tl_fail(st, TL_EVALUE, "%s: clamp needs lo <= hi (lo %g, hi %g)", where, a->lo, a->hi);
  return copy_shape(g, p[0], nd, s, st);
}

static tl_code infer_dropout(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                             const char *where, tl_status *st) {
  if (!(a->p >= 0 && a->p < 1))
    return tl_fail(st, TL_EVALUE, "%s: dropout probability %g not in [0, 1)", where, a->p);
  return copy_shape(g, p[0], nd, s, st);
}

static tl_code infer_axis_same(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                               const char *where, tl_status *st) {
  TL_TRY(norm_axis(&a->axis, RANK(p[0]), "axis", where, st));
  return copy_shape(g, p[0], nd, s, st);
}

/* numpy broadcasting of two shapes */
static tl_code infer_broadcast(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                               const char *where, tl_status *st) {
  int ra = RANK(p[0]), rb = RANK(p[1]), r = ra > rb ? ra : rb;
  TL_TRY(alloc_shape(r, s, st));
  for (int i = 0; i < r; i++) {
    int64_t da = i < r - ra ? 1 : SHAPE(p[0])[i - (r - ra)];
    int64_t db = i < r - rb ? 1 : SHAPE(p[1])[i - (r - rb)];
    if (da != db && da != 1 && db != 1) {
      free(*s);
      *s = NULL;
      return shape_mismatch(g, p[0], p[1], where, st);
    }
    (*s)[i] = da == 1 ? db : da;
  }
  *nd = r;
  return TL_OK;
}

static tl_code infer_linear(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                            const char *where, tl_status *st) {
  int x = p[0], w = p[1];
  if (RANK(w) != 2 || RANK(x) < 1 || SHAPE(x)[RANK(x) - 1] != SHAPE(w)[1])
    return shape_mismatch(g, x, w, where, st);
  if (np == 3 && (RANK(p[2]) != 1 || SHAPE(p[2])[0] != SHAPE(w)[0]))
    return shape_mismatch(g, w, p[2], where, st);
  TL_TRY(copy_shape(g, x, nd, s, st));
  (*s)[*nd - 1] = SHAPE(w)[0];
  return TL_OK;
}

static tl_code infer_matmul(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                            const char *where, tl_status *st) {
  int x = p[0], y = p[1], ra = RANK(x), rb = RANK(y);
  if (ra < 2 || rb < 2 || SHAPE(x)[ra - 1] != SHAPE(y)[rb - 2])
    return shape_mismatch(g, x, y, where, st);
  int r = ra > rb ? ra : rb;
  TL_TRY(alloc_shape(r, s, st));
  for (int i = 0; i < r - 2; i++) {
    int64_t da = i < r - ra ? 1 : SHAPE(x)[i - (r - ra)];
    int64_t db = i < r - rb ? 1 : SHAPE(y)[i - (r - rb)];
    if (da != db && da != 1 && db != 1) {
      free(*s);
      *s = NULL;
      return shape_mismatch(g, x, y, where, st);
    }
    (*s)[i] = da == 1 ? db : da;
  }
  (*s)[r - 2] = SHAPE(x)[ra - 2];
  (*s)[r - 1] = SHAPE(y)[rb - 1];
  *nd = r;
  return TL_OK;
}

static tl_code infer_reduce(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                            const char *where, tl_status *st) {
  int r = RANK(p[0]);
  unsigned char *hit = calloc((size_t)r + 1, 1);
  if (!hit)
    return tl_fail(st, TL_ENOMEM, "graph: out of memory");
  tl_code rc = TL_OK;
  for (int i = 0; i < a->nlist && rc == TL_OK; i++) {
    rc = norm_axis(&a->list[i], r, "axis", where, st);
    if (rc == TL_OK && hit[a->list[i]]++)
      rc = tl_fail(st, TL_EVALUE, "%s: axis %lld listed twice", where, (long long)a->list[i]);
  }
  if (rc == TL_OK && a->nlist == 0)
    memset(hit, 1, (size_t)r); /* no axes: reduce over all */
  int out = 0;
  if (rc == TL_OK)
    rc = alloc_shape(r, s, st);
  for (int i = 0; rc == TL_OK && i < r; i++) {
    if (!hit[i])
      (*s)[out++] = SHAPE(p[0])[i];
    else if (a->keepdim)
      (*s)[out++] = 1;
  }
  *nd = out;
  free(hit);
  return rc;
}

static tl_code infer_reshape(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                             const char *where, tl_status *st) {
  int64_t known = 1;
  int infer_at = -1;
  for (int i = 0; i < a->nlist; i++) {
    if (a->list[i] == -1 && infer_at < 0)
      infer_at = i;
    else if (a->list[i] < 0)
      return tl_fail(st, TL_EVALUE, "%s: bad target dimension %lld", where, (long long)a->list[i]);
    else if (a->list[i] > 0 && known > INT64_MAX / a->list[i])
      return tl_fail(st, TL_EVALUE, "%s: target shape overflows", where);
    else
      known *= a->list[i];
  }
  int64_t numel = g->nodes[p[0]].numel;
  if (infer_at >= 0) {
    if (known == 0 || numel % known)
      return tl_fail(st, TL_ESHAPE, "%s: cannot infer -1 for %lld elements", where, (long long)numel);
    a->list[infer_at] = numel / known;
    known = numel;
  }
  if (known != numel)
    return tl_fail(st, TL_ESHAPE, "%s: target shape has %lld elements, input has %lld", where,
                   (long long)known, (long long)numel);
  *nd = a->nlist;
  TL_TRY(alloc_shape(*nd, s, st));
  memcpy(*s, a->list, (size_t)*nd * sizeof **s);
  return TL_OK;
}

static tl_code infer_flatten(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                             const char *where, tl_status *st) {
  int r = RANK(p[0]);
  TL_TRY(norm_axis(&a->axis, r, "start axis", where, st));
  TL_TRY(norm_axis(&a->axis_end, r, "end axis", where, st));
  if (a->axis_end < a->axis)
    return tl_fail(st, TL_EVALUE, "%s: end axis before start axis", where);
  *nd = r - (int)(a->axis_end - a->axis);
  TL_TRY(alloc_shape(*nd, s, st));
  int k = 0;
  for (int i = 0; i < r; i++) {
    if (i <= a->axis || i > a->axis_end)
      (*s)[k++] = SHAPE(p[0])[i];
    else
      (*s)[k - 1] *= SHAPE(p[0])[i];
  }
  return TL_OK;
}

static tl_code infer_permute(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                             const char *where, tl_status *st) {
  int r = RANK(p[0]);
  if (a->nlist != r)
    return tl_fail(st, TL_EVALUE, "%s: permutation has %d entries for rank %d", where, a->nlist, r);
  TL_TRY(alloc_shape(r, s, st));
  for (int i = 0; i < r; i++) {
    tl_code rc = norm_axis(&a->list[i], r, "axis", where, st);
    for (int j = 0; rc == TL_OK && j < i; j++)
      if (a->list[j] == a->list[i])
        rc = tl_fail(st, TL_EVALUE, "%s: axis %lld repeated in permutation", where, (long long)a->list[i]);
    if (rc != TL_OK) {
      free(*s);
      *s = NULL;
      return rc;
    }
    (*s)[i] = SHAPE(p[0])[a->list[i]];
  }
  *nd = r;
  return TL_OK;
}

static tl_code infer_concat(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                            const char *where, tl_status *st) {
  int r = RANK(p[0]);
  TL_TRY(norm_axis(&a->axis, r, "axis", where, st));
  TL_TRY(copy_shape(g, p[0], nd, s, st));
  for (int k = 1; k < np; k++) {
    int ok = RANK(p[k]) == r;
    for (int i = 0; ok && i < r; i++)
      ok = i == a->axis || SHAPE(p[k])[i] == SHAPE(p[0])[i];
    if (!ok) {
      free(*s);
      *s = NULL;
      return shape_mismatch(g, p[0], p[k], where, st);
    }
    (*s)[a->axis] += SHAPE(p[k])[a->axis];
  }
  return TL_OK;
}

static tl_code infer_slice(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                           const char *where, tl_status *st) {
  int r = RANK(p[0]);
  TL_TRY(norm_axis(&a->axis, r, "axis", where, st));
  int64_t d = SHAPE(p[0])[a->axis];
  if (a->step < 1 || a->start < 0 || a->end > d || a->start > a->end)
    return tl_fail(st, TL_EVALUE, "%s: slice %lld:%lld:%lld invalid for a dimension of %lld", where,
                   (long long)a->start, (long long)a->end, (long long)a->step, (long long)d);
  TL_TRY(copy_shape(g, p[0], nd, s, st));
  (*s)[a->axis] = (a->end - a->start + a->step - 1) / a->step;
  return TL_OK;
}

/* output length of a sliding window: floor((n + 2 pad - dil (k - 1) - 1) / stride) + 1 */
static tl_code window_out(int64_t n, int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t *out,
                          const char *where, tl_status *st) {
  if (k < 1 || stride < 1 || pad < 0 || dil < 1)
    return tl_fail(st, TL_EVALUE, "%s: kernel %lld, stride %lld, padding %lld, dilation %lld invalid", where,
                   (long long)k, (long long)stride, (long long)pad, (long long)dil);
  int64_t span = n + 2 * pad - dil * (k - 1) - 1;
  if (span < 0)
    return tl_fail(st, TL_ESHAPE, "%s: window of %lld does not fit an input of %lld (padding %lld)", where,
                   (long long)(dil * (k - 1) + 1), (long long)n, (long long)pad);
  *out = span / stride + 1;
  return TL_OK;
}

static tl_code infer_conv2d(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                            const char *where, tl_status *st) {
  int x = p[0], w = p[1];
  if (RANK(x) != 4 || RANK(w) != 4)
    return tl_fail(st, TL_ESHAPE, "%s: conv2d wants input (N, C, H, W) and weight (O, C/groups, kH, kW)",
                   where);
  int64_t c = SHAPE(x)[1], o = SHAPE(w)[0];
  if (a->groups < 1 || c % a->groups || o % a->groups || SHAPE(w)[1] * a->groups != c)
    return shape_mismatch(g, x, w, where, st);
  if (np == 3 && (RANK(p[2]) != 1 || SHAPE(p[2])[0] != o))
    return shape_mismatch(g, w, p[2], where, st);
  a->kernel[0] = SHAPE(w)[2];
  a->kernel[1] = SHAPE(w)[3];
  int64_t ho = 0, wo = 0;
  TL_TRY(window_out(SHAPE(x)[2], a->kernel[0], a->stride[0], a->padding[0], a->dilation[0], &ho, where, st));
  TL_TRY(window_out(SHAPE(x)[3], a->kernel[1], a->stride[1], a->padding[1], a->dilation[1], &wo, where, st));
  *nd = 4;
  TL_TRY(alloc_shape(4, s, st));
  (*s)[0] = SHAPE(x)[0], (*s)[1] = o, (*s)[2] = ho, (*s)[3] = wo;
  return TL_OK;
}

static tl_code infer_pool(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                          const char *where, tl_status *st) {
  int x = p[0];
  if (RANK(x) != 4)
    return tl_fail(st, TL_ESHAPE, "%s: pooling wants input (N, C, H, W)", where);
  for (int i = 0; i < 2; i++)
    if (2 * a->padding[i] > a->kernel[i])
      return tl_fail(st, TL_EVALUE, "%s: padding %lld exceeds half the kernel %lld", where,
                     (long long)a->padding[i], (long long)a->kernel[i]);
  int64_t ho = 0, wo = 0;
  TL_TRY(window_out(SHAPE(x)[2], a->kernel[0], a->stride[0], a->padding[0], a->dilation[0], &ho, where, st));
  TL_TRY(window_out(SHAPE(x)[3], a->kernel[1], a->stride[1], a->padding[1], a->dilation[1], &wo, where, st));
  *nd = 4;
  TL_TRY(alloc_shape(4, s, st));
  (*s)[0] = SHAPE(x)[0], (*s)[1] = SHAPE(x)[1], (*s)[2] = ho, (*s)[3] = wo;
  return TL_OK;
}

static tl_code infer_gap(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                         const char *where, tl_status *st) {
  if (RANK(p[0]) < 3)
    return tl_fail(st, TL_ESHAPE, "%s: global average pool wants (N, C, spatial...)", where);
  *nd = 2;
  TL_TRY(alloc_shape(2, s, st));
  (*s)[0] = SHAPE(p[0])[0], (*s)[1] = SHAPE(p[0])[1];
  return TL_OK;
}

static tl_code check_vec(const tl_graph *g, int id, int64_t n, int x, const char *where, tl_status *st) {
  if (RANK(id) != 1 || SHAPE(id)[0] != n)
    return shape_mismatch(g, x, id, where, st);
  return TL_OK;
}

static tl_code infer_batch_norm(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                                const char *where, tl_status *st) {
  if (RANK(p[0]) < 2)
    return tl_fail(st, TL_ESHAPE, "%s: batch norm wants (N, C, ...)", where);
  if (!(a->eps > 0) || !(a->momentum >= 0 && a->momentum <= 1))
    return tl_fail(st, TL_EVALUE, "%s: eps must be > 0 and momentum in [0, 1]", where);
  for (int i = 1; i < 5; i++)
    TL_TRY(check_vec(g, p[i], SHAPE(p[0])[1], p[0], where, st));
  return copy_shape(g, p[0], nd, s, st);
}

static tl_code infer_layer_norm(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                                const char *where, tl_status *st) {
  if (RANK(p[0]) < 1)
    return tl_fail(st, TL_ESHAPE, "%s: layer norm wants at least one axis", where);
  if (!(a->eps > 0))
    return tl_fail(st, TL_EVALUE, "%s: eps must be > 0", where);
  for (int i = 1; i < np; i++)
    TL_TRY(check_vec(g, p[i], SHAPE(p[0])[RANK(p[0]) - 1], p[0], where, st));
  return copy_shape(g, p[0], nd, s, st);
}

static tl_code infer_embedding(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                               const char *where, tl_status *st) {
  if (RANK(p[1]) != 2)
    return tl_fail(st, TL_ESHAPE, "%s: embedding table must be (num, dim)", where);
  *nd = RANK(p[0]) + 1;
  TL_TRY(alloc_shape(*nd, s, st));
  memcpy(*s, SHAPE(p[0]), (size_t)RANK(p[0]) * sizeof **s);
  (*s)[*nd - 1] = SHAPE(p[1])[1];
  return TL_OK;
}

/* parents: x (N, L, E), w_in (3E, E), b_in (3E), w_out (E, E), b_out (E) */
static tl_code infer_attention(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                               const char *where, tl_status *st) {
  if (RANK(p[0]) != 3)
    return tl_fail(st, TL_ESHAPE, "%s: attention wants x of shape (N, L, E)", where);
  int64_t e = SHAPE(p[0])[2];
  if (a->heads < 1 || e % a->heads)
    return tl_fail(st, TL_EVALUE, "%s: %lld heads do not divide embedding %lld", where, (long long)a->heads,
                   (long long)e);
  if (RANK(p[1]) != 2 || SHAPE(p[1])[0] != 3 * e || SHAPE(p[1])[1] != e || RANK(p[3]) != 2 ||
      SHAPE(p[3])[0] != e || SHAPE(p[3])[1] != e)
    return tl_fail(st, TL_ESHAPE, "%s: projection weights must be (3E, E) and (E, E)", where);
  TL_TRY(check_vec(g, p[2], 3 * e, p[0], where, st));
  TL_TRY(check_vec(g, p[4], e, p[0], where, st));
  return copy_shape(g, p[0], nd, s, st);
}

static tl_code infer_loss(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                          const char *where, tl_status *st) {
  if (!tl_shape_equal(RANK(p[0]), SHAPE(p[0]), RANK(p[1]), SHAPE(p[1])))
    return shape_mismatch(g, p[0], p[1], where, st);
  *nd = 0;
  return alloc_shape(0, s, st);
}

static tl_code infer_cross_entropy(const tl_graph *g, const int *p, int np, tl_attrs *a, int *nd, int64_t **s,
                                   const char *where, tl_status *st) {
  if (RANK(p[0]) != 2)
    return tl_fail(st, TL_ESHAPE, "%s: cross entropy wants logits (N, K)", where);
  return infer_loss(g, p, np, a, nd, s, where, st);
}

/* ---- attribute schemas --------------------------------------------------------------------- */
/* clang-format off */
#define F(name, type, field) {name, type, offsetof(tl_attrs, field)}
static const tl_attr_field no_attrs[] = {{NULL, 0, 0}};
static const tl_attr_field leaky_attrs[] = {F("alpha", TL_ATTR_FLOAT, alpha), {NULL, 0, 0}};
static const tl_attr_field clamp_attrs[] = {F("lo", TL_ATTR_FLOAT, lo), F("hi", TL_ATTR_FLOAT, hi), {NULL, 0, 0}};
static const tl_attr_field axis_attrs[] = {F("axis", TL_ATTR_INT, axis), {NULL, 0, 0}};
static const tl_attr_field reduce_attrs[] = {F("axes", TL_ATTR_LIST, list), F("keepdim", TL_ATTR_INT, keepdim), {NULL, 0, 0}};
static const tl_attr_field reshape_attrs[] = {F("target", TL_ATTR_LIST, list), {NULL, 0, 0}};
static const tl_attr_field flatten_attrs[] = {F("start", TL_ATTR_INT, axis), F("end", TL_ATTR_INT, axis_end), {NULL, 0, 0}};
static const tl_attr_field permute_attrs[] = {F("perm", TL_ATTR_LIST, list), {NULL, 0, 0}};
static const tl_attr_field slice_attrs[] = {F("axis", TL_ATTR_INT, axis), F("start", TL_ATTR_INT, start),
                                            F("end", TL_ATTR_INT, end), F("step", TL_ATTR_INT, step), {NULL, 0, 0}};
static const tl_attr_field conv_attrs[] = {F("stride", TL_ATTR_INT2, stride), F("padding", TL_ATTR_INT2, padding),
                                           F("dilation", TL_ATTR_INT2, dilation), F("groups", TL_ATTR_INT, groups),
                                           {NULL, 0, 0}};
static const tl_attr_field pool_attrs[] = {F("kernel", TL_ATTR_INT2, kernel), F("stride", TL_ATTR_INT2, stride),
                                           F("padding", TL_ATTR_INT2, padding), F("dilation", TL_ATTR_INT2, dilation),
                                           {NULL, 0, 0}};
static const tl_attr_field bn_attrs[] = {F("eps", TL_ATTR_FLOAT, eps), F("momentum", TL_ATTR_FLOAT, momentum), {NULL, 0, 0}};
static const tl_attr_field ln_attrs[] = {F("eps", TL_ATTR_FLOAT, eps), {NULL, 0, 0}};
static const tl_attr_field dropout_attrs[] = {F("p", TL_ATTR_FLOAT, p), {NULL, 0, 0}};
static const tl_attr_field attn_attrs[] = {F("heads", TL_ATTR_INT, heads), F("causal", TL_ATTR_INT, causal), {NULL, 0, 0}};
/* clang-format on */
#undef F

/* one row per op of ops.def: a schema or inference function that does not exist is a compile error */
static const tl_op_info op_table[TL_OP_COUNT] = {
#define TL_OP(ENUM, name, minp, maxp, attrs, infer, backward)                                                \
  [TL_OP_##ENUM] = {#name, minp, maxp, attrs##_attrs, backward, infer_##infer},
#include "torchlean/ops.def"
#undef TL_OP
};

const tl_op_info *tl_op_get(tl_op op) {
  TL_ASSERT(op >= 0 && op < TL_OP_COUNT);
  return &op_table[op];
}

int tl_op_from_name(const char *name) {
  for (int i = 0; i < TL_OP_COUNT; i++)
    if (strcmp(op_table[i].name, name) == 0)
      return i;
  return -1;
}

int64_t *tl_attr_int_ptr(tl_attrs *a, const tl_attr_field *f) { return (int64_t *)((char *)a + f->offset); }
double *tl_attr_float_ptr(tl_attrs *a, const tl_attr_field *f) { return (double *)((char *)a + f->offset); }

tl_attrs tl_attrs_default(tl_op op) {
  tl_attrs a;
  memset(&a, 0, sizeof a);
  a.stride[0] = a.stride[1] = 1;
  a.dilation[0] = a.dilation[1] = 1;
  a.groups = 1;
  a.step = 1;
  a.heads = 1;
  a.axis = -1;
  a.axis_end = -1;
  a.alpha = 0.01;
  a.eps = op == TL_OP_LAYER_NORM ? 1e-6 : 1e-5;
  a.momentum = 0.1;
  a.hi = 0;
  if (op == TL_OP_FLATTEN)
    a.axis = 1;
  return a;
}
