/* interop/onnx_import_shape.c - data-movement ops on run-time values: Flatten, Reshape, Transpose,
 * Squeeze, Unsqueeze, Concat, Pad (constant mode: concatenation with constant blocks, negative
 * pads as slices), Slice (positive steps).  Every one moves elements without arithmetic, so the
 * imported graph reproduces them exactly. */
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"

/* Flatten(axis): (prod d[:axis], prod d[axis:]) */
tl_code ox_map_flatten(ox_ctx *c, const Onnx__NodeProto *n) {
  int x, id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  const tl_node *xn = &c->g->nodes[x];
  int r = xn->ndim;
  int64_t axis;
  TL_TRY(ox_attr_int(c, n, "axis", 1, &axis));
  if (axis < -r || axis > r)
    return ox_fail(c, n, TL_EFORMAT, "axis %lld out of range for rank %d", (long long)axis, r);
  if (axis < 0)
    axis += r;
  if (axis == 1 && r > 2) { /* the IR's flatten of axes 1..rank-1 */
    tl_attrs a = tl_attrs_default(TL_OP_FLATTEN);
    a.axis = 1, a.axis_end = -1;
    TL_TRY(ox_op(c, TL_OP_FLATTEN, 1, &x, &a, &id));
    return ox_bind_node(c, n, 0, id);
  }
  int64_t two[2] = {1, 1};
  for (int k = 0; k < r; k++)
    two[k >= axis] *= xn->shape[k];
  TL_TRY(ox_reshape(c, x, 2, two, &id));
  return ox_bind_node(c, n, 0, id);
}

/* Reshape's target: 0 copies the input dimension (unless allowzero), one -1 is inferred */
tl_code ox_reshape_target(ox_ctx *c, const Onnx__NodeProto *n, int r, const int64_t *in, int64_t numel,
                          const ox_tensor *t, int64_t allowzero, int *nd, int64_t *out) {
  if (t->ndim != 1 || t->numel > OX_MAXDIM)
    return ox_fail(c, n, TL_EUNSUPPORTED, "target shape of %lld entries (rank at most %d)",
                   (long long)t->numel, OX_MAXDIM);
  int infer = -1;
  int64_t known = 1;
  *nd = (int)t->numel;
  for (int k = 0; k < *nd; k++) {
    int64_t d = ox_tensor_int(t, k);
    if (d == 0 && !allowzero) {
      if (k >= r)
        return ox_fail(c, n, TL_ESHAPE, "target entry %d is 0 but the input has rank %d", k, r);
      d = in[k];
    }
    if (d == -1 && infer < 0) {
      infer = k;
      continue;
    }
    if (d < 0 || (d > 0 && known > INT64_MAX / d))
      return ox_fail(c, n, TL_ESHAPE, "bad target dimension %lld", (long long)d);
    out[k] = d;
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || numel % known)
      return ox_fail(c, n, TL_ESHAPE, "cannot infer -1 for %lld elements", (long long)numel);
    out[infer] = numel / known;
    known = numel;
  }
  if (known != numel)
    return ox_fail(c, n, TL_ESHAPE, "target shape has %lld elements, the input %lld", (long long)known,
                   (long long)numel);
  return TL_OK;
}

tl_code ox_map_reshape(ox_ctx *c, const Onnx__NodeProto *n) {
  int x, id, nd;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  ox_tensor *t = NULL;
  int64_t allowzero, shape[OX_MAXDIM];
  if (c->opset < 5)
    return ox_fail(c, n, TL_EUNSUPPORTED, "Reshape with a shape attribute");
  TL_TRY(ox_input_const(c, n, 1, "target shape", &t));
  TL_TRY(ox_attr_int(c, n, "allowzero", 0, &allowzero));
  const tl_node *xn = &c->g->nodes[x];
  TL_TRY(ox_reshape_target(c, n, xn->ndim, xn->shape, xn->numel, t, allowzero, &nd, shape));
  TL_TRY(ox_reshape(c, x, nd, shape, &id));
  return ox_bind_node(c, n, 0, id);
}

/* Transpose(perm): output axis k is input axis perm[k] (default: reversed) */
tl_code ox_map_transpose(ox_ctx *c, const Onnx__NodeProto *n) {
  int x, id, len;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  int r = c->g->nodes[x].ndim;
  const int64_t *perm;
  TL_TRY(ox_attr_ints(c, n, "perm", &perm, &len));
  int64_t p[OX_MAXDIM];
  if (len >= 0 && len != r)
    return ox_fail(c, n, TL_EFORMAT, "perm has %d entries for rank %d", len, r);
  int ident = 1;
  for (int k = 0; k < r; k++) {
    p[k] = len >= 0 ? perm[k] : r - 1 - k;
    ident = ident && p[k] == k;
  }
  if (ident)
    return ox_bind_node(c, n, 0, x);
  tl_attrs a = tl_attrs_default(TL_OP_PERMUTE);
  a.nlist = r, a.list = p;
  TL_TRY(ox_op(c, TL_OP_PERMUTE, 1, &x, &a, &id));
  return ox_bind_node(c, n, 0, id);
}

tl_code ox_axes(ox_ctx *c, const Onnx__NodeProto *n, int64_t from, int64_t *axes, int *naxes, int *given) {
  *naxes = 0;
  *given = 0;
  if (c->opset >= from) {
    ox_value *v = NULL;
    TL_TRY(ox_input(c, n, 1, &v));
    if (!v)
      return TL_OK;
    if (!v->c || v->c->dt != OX_I64 || v->c->ndim > 1 || v->c->numel > OX_MAXDIM)
      return ox_fail(c, n, TL_EUNSUPPORTED, "axes '%.200s' are not a small int64 constant", v->name);
    for (int64_t k = 0; k < v->c->numel; k++)
      axes[k] = v->c->i[k];
    *naxes = (int)v->c->numel;
    *given = 1;
    return TL_OK;
  }
  const int64_t *a;
  int len;
  TL_TRY(ox_attr_ints(c, n, "axes", &a, &len));
  if (len > OX_MAXDIM)
    return ox_fail(c, n, TL_EUNSUPPORTED, "%d axes", len);
  if (len >= 0) {
    memcpy(axes, a, (size_t)len * sizeof *axes);
    *naxes = len, *given = 1;
  }
  return TL_OK;
}

/* axes normalised to [0, r), no repeats, marked in hit[] */
static tl_code mark_axes(ox_ctx *c, const Onnx__NodeProto *n, const int64_t *axes, int na, int r,
                         unsigned char *hit) {
  memset(hit, 0, OX_MAXDIM);
  for (int k = 0; k < na; k++) {
    int64_t a = axes[k] < 0 ? axes[k] + r : axes[k];
    if (a < 0 || a >= r || hit[a])
      return ox_fail(c, n, TL_EFORMAT, "axis %lld out of range or repeated for rank %d", (long long)axes[k],
                     r);
    hit[a] = 1;
  }
  return TL_OK;
}

/* output shape of Squeeze (drop the listed unit axes, or all unit axes) / Unsqueeze (insert units) */
tl_code ox_squeeze_shape(ox_ctx *c, const Onnx__NodeProto *n, int unsq, int r, const int64_t *in, int *nd,
                         int64_t *out) {
  int64_t axes[OX_MAXDIM];
  int na, given;
  unsigned char hit[OX_MAXDIM];
  TL_TRY(ox_axes(c, n, 13, axes, &na, &given));
  if (unsq) {
    if (!given || r + na > OX_MAXDIM)
      return ox_fail(c, n, TL_EUNSUPPORTED, "Unsqueeze without axes or to a rank above %d", OX_MAXDIM);
    TL_TRY(mark_axes(c, n, axes, na, r + na, hit));
    for (int k = 0, j = 0; k < r + na; k++)
      out[k] = hit[k] ? 1 : in[j++];
    *nd = r + na;
    return TL_OK;
  }
  TL_TRY(mark_axes(c, n, axes, na, r, hit));
  *nd = 0;
  for (int k = 0; k < r; k++) {
    if (given && hit[k] && in[k] != 1)
      return ox_fail(c, n, TL_ESHAPE, "cannot squeeze axis %d of size %lld", k, (long long)in[k]);
    if (!(given ? hit[k] : in[k] == 1))
      out[(*nd)++] = in[k];
  }
  return TL_OK;
}

static tl_code map_squeeze_like(ox_ctx *c, const Onnx__NodeProto *n, int unsq) {
  int x, id, nd;
  int64_t shape[OX_MAXDIM];
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  const tl_node *xn = &c->g->nodes[x];
  TL_TRY(ox_squeeze_shape(c, n, unsq, xn->ndim, xn->shape, &nd, shape));
  TL_TRY(ox_reshape(c, x, nd, shape, &id));
  return ox_bind_node(c, n, 0, id);
}

tl_code ox_map_squeeze(ox_ctx *c, const Onnx__NodeProto *n) { return map_squeeze_like(c, n, 0); }
tl_code ox_map_unsqueeze(ox_ctx *c, const Onnx__NodeProto *n) { return map_squeeze_like(c, n, 1); }

/* Concat(axis): the inputs one after another along axis */
tl_code ox_map_concat(ox_ctx *c, const Onnx__NodeProto *n) {
  int64_t axis;
  TL_TRY(ox_attr_int(c, n, "axis", 0, &axis));
  if (n->n_input < 1 || n->n_input > 4096)
    return ox_fail(c, n, TL_EUNSUPPORTED, "Concat of %zu inputs", n->n_input);
  int *p = malloc(n->n_input * sizeof *p), id = -1;
  if (!p)
    return ox_fail(c, n, TL_ENOMEM, "out of memory");
  tl_code rc = TL_OK;
  for (size_t k = 0; rc == TL_OK && k < n->n_input; k++)
    rc = ox_input_node(c, n, k, TL_PARAM_CONSTANT, &p[k]);
  if (rc == TL_OK && n->n_input == 1) {
    id = p[0];
  } else if (rc == TL_OK) {
    tl_attrs a = tl_attrs_default(TL_OP_CONCAT);
    a.axis = axis;
    rc = ox_op(c, TL_OP_CONCAT, (int)n->n_input, p, &a, &id);
  }
  free(p);
  TL_TRY(rc);
  return ox_bind_node(c, n, 0, id);
}
