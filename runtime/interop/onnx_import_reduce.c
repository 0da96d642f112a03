/* interop/onnx_import_reduce.c - ReduceSum / ReduceMean over constant axes, and Gather of a
 * run-time value at constant indices (slices of one entry, concatenated and reshaped: data
 * movement only). */
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"

/* y = sum (ReduceSum) or mean (ReduceMean) of x over axes (all when none), keepdims default 1 */
tl_code ox_map_reduce(ox_ctx *c, const Onnx__NodeProto *n) {
  int mean = strcmp(n->op_type, "ReduceMean") == 0, x, id, na, given;
  int64_t axes[OX_MAXDIM], keep, noop;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  TL_TRY(ox_axes(c, n, mean ? 18 : 13, axes, &na, &given));
  TL_TRY(ox_attr_int(c, n, "keepdims", 1, &keep));
  TL_TRY(ox_attr_int(c, n, "noop_with_empty_axes", 0, &noop));
  if (na == 0 && noop) /* y = x */
    return ox_bind_node(c, n, 0, x);
  tl_attrs a = tl_attrs_default(mean ? TL_OP_MEAN : TL_OP_SUM);
  a.keepdim = keep != 0;
  a.nlist = na;
  a.list = axes;
  TL_TRY(ox_op(c, mean ? TL_OP_MEAN : TL_OP_SUM, 1, &x, &a, &id));
  return ox_bind_node(c, n, 0, id);
}

/* entries ix of x along axis: slice(ix[j] : ix[j] + 1) each, concatenated (data movement) */
static tl_code gather_slices(ox_ctx *c, const Onnx__NodeProto *n, int x, int64_t axis, const ox_tensor *ix,
                             int *out) {
  int64_t d = c->g->nodes[x].shape[axis];
  int *p = malloc((size_t)(ix->numel ? ix->numel : 1) * sizeof *p);
  if (!p)
    return ox_fail(c, n, TL_ENOMEM, "out of memory");
  tl_code rc = TL_OK;
  for (int64_t j = 0; rc == TL_OK && j < ix->numel; j++) {
    int64_t i = ix->i[j] < 0 ? ix->i[j] + d : ix->i[j];
    if (i < 0 || i >= d) {
      rc = ox_fail(c, n, TL_EVALUE, "Gather index %lld out of range for %lld", (long long)ix->i[j],
                   (long long)d);
      break;
    }
    tl_attrs a = tl_attrs_default(TL_OP_SLICE);
    a.axis = axis, a.start = i, a.end = i + 1, a.step = 1;
    rc = ox_op(c, TL_OP_SLICE, 1, &x, &a, &p[j]);
  }
  if (rc == TL_OK && ix->numel == 1) {
    *out = p[0];
  } else if (rc == TL_OK) {
    tl_attrs a = tl_attrs_default(TL_OP_CONCAT);
    a.axis = axis;
    rc = ox_op(c, TL_OP_CONCAT, (int)ix->numel, p, &a, out);
  }
  free(p);
  return rc;
}

/* y[a.., idx.., b..] = x[a.., indices[idx..], b..] with constant indices (at most 4096) */
tl_code ox_map_gather(ox_ctx *c, const Onnx__NodeProto *n) {
  int x, id;
  int64_t axis;
  ox_tensor *ix = NULL;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  TL_TRY(ox_input_const(c, n, 1, "indices", &ix));
  TL_TRY(ox_attr_int(c, n, "axis", 0, &axis));
  const tl_node *xn = &c->g->nodes[x];
  int r = xn->ndim;
  if (axis < -r || axis >= r)
    return ox_fail(c, n, TL_EFORMAT, "axis %lld out of range for rank %d", (long long)axis, r);
  axis = axis < 0 ? axis + r : axis;
  if (ix->dt != OX_I64 || ix->numel < 1 || ix->numel > 4096 || r - 1 + ix->ndim > OX_MAXDIM)
    return ox_fail(c, n, TL_EUNSUPPORTED, "Gather with %lld indices of rank %d on rank %d",
                   (long long)ix->numel, ix->ndim, r);
  int64_t shape[OX_MAXDIM];
  int nd = 0;
  for (int k = 0; k < r; k++)
    if (k != axis)
      shape[nd++] = xn->shape[k];
    else
      for (int j = 0; j < ix->ndim; j++)
        shape[nd++] = ix->shape[j];
  TL_TRY(gather_slices(c, n, x, axis, ix, &id));
  TL_TRY(ox_reshape(c, id, nd, shape, &id));
  return ox_bind_node(c, n, 0, id);
}
