/* interop/onnx_fold.c - constant folding at import: Constant, ConstantOfShape, Shape, Size, and
 * Identity, Cast, Gather, Concat, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Slice and
 * Add/Sub/Mul/Div/Neg of constants.  Float arithmetic is the same single IEEE float32 operation
 * per element the runtime would do; integer division is folded only when exact. */
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"

/* the constants of every present input, NULL when one is absent or computed at run time */
static int all_const(ox_ctx *c, const Onnx__NodeProto *n) {
  for (size_t k = 0; k < n->n_input; k++) {
    if (!n->input[k][0])
      continue;
    ox_value *v = ox_find(c, n->input[k]);
    if (!v || !v->c)
      return 0;
  }
  return 1;
}

static ox_tensor *cin(ox_ctx *c, const Onnx__NodeProto *n, size_t k) {
  if (k >= n->n_input || !n->input[k][0])
    return NULL;
  ox_value *v = ox_find(c, n->input[k]);
  return v ? v->c : NULL;
}

/* a copy of t with a new shape of the same element count */
static tl_code reshaped(ox_ctx *c, const ox_tensor *t, int nd, const int64_t *shape, ox_tensor **out) {
  TL_TRY(ox_tensor_copy_shape(t->dt, nd, shape, t->numel, out, c->st));
  if ((*out)->numel != t->numel) {
    int64_t got = (*out)->numel;
    ox_tensor_free(*out);
    *out = NULL;
    return tl_fail(c->st, TL_ESHAPE, "constant of %lld elements reshaped to %lld", (long long)t->numel,
                   (long long)got);
  }
  if (t->numel)
    memcpy(t->f ? (void *)(*out)->f : (void *)(*out)->i, t->f ? (void *)t->f : (void *)t->i,
           (size_t)t->numel * (t->f ? sizeof(float) : sizeof(int64_t)));
  return TL_OK;
}

/* Constant: value (tensor), value_float(s), value_int(s) */
static tl_code fold_constant(ox_ctx *c, const Onnx__NodeProto *n, ox_tensor **out) {
  if (n->n_attribute != 1)
    return ox_fail(c, n, TL_EFORMAT, "Constant needs exactly one attribute");
  const Onnx__AttributeProto *a = n->attribute[0];
  const char *nm = a->name ? a->name : "";
  if (strcmp(nm, "value") == 0 && a->t) {
    tl_code rc = ox_tensor_from_proto(a->t, "value", out, c->st);
    return rc == TL_OK ? rc : ox_fail(c, n, rc, "%s", c->st ? c->st->msg : "bad tensor");
  }
  int64_t len;
  if (strcmp(nm, "value_float") == 0 || strcmp(nm, "value_int") == 0) {
    int f = nm[6] == 'f';
    TL_TRY(ox_tensor_new(f ? OX_F32 : OX_I64, 0, NULL, out, c->st));
    if (f)
      (*out)->f[0] = a->f;
    else
      (*out)->i[0] = a->i;
    return TL_OK;
  }
  if (strcmp(nm, "value_floats") == 0 || strcmp(nm, "value_ints") == 0) {
    int f = nm[6] == 'f';
    len = f ? (int64_t)a->n_floats : (int64_t)a->n_ints;
    TL_TRY(ox_tensor_new(f ? OX_F32 : OX_I64, 1, &len, out, c->st));
    for (int64_t k = 0; k < len; k++)
      if (f)
        (*out)->f[k] = a->floats[k];
      else
        (*out)->i[k] = a->ints[k];
    return TL_OK;
  }
  return ox_fail(c, n, TL_EUNSUPPORTED, "Constant attribute '%.64s' is not supported", nm);
}

/* Shape (opset 15: dims[start:end]) of a value whose shape is static */
static tl_code fold_shape(ox_ctx *c, const Onnx__NodeProto *n, ox_tensor **out) {
  ox_value *v = NULL;
  TL_TRY(ox_input(c, n, 0, &v));
  if (!v)
    return ox_fail(c, n, TL_EFORMAT, "Shape needs an input");
  int r;
  const int64_t *s;
  ox_shape(c, v, &r, &s);
  int64_t start, end;
  TL_TRY(ox_attr_int(c, n, "start", 0, &start));
  TL_TRY(ox_attr_int(c, n, "end", r, &end));
  start = start < 0 ? start + r : start, end = end < 0 ? end + r : end;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < start ? start : end > r ? r : end;
  int64_t len = end - start;
  if (strcmp(n->op_type, "Size") == 0) {
    TL_TRY(ox_tensor_new(OX_I64, 0, NULL, out, c->st));
    (*out)->i[0] = 1;
    for (int k = 0; k < r; k++)
      (*out)->i[0] *= s[k];
    return TL_OK;
  }
  TL_TRY(ox_tensor_new(OX_I64, 1, &len, out, c->st));
  for (int64_t k = 0; k < len; k++)
    (*out)->i[k] = s[start + k];
  return TL_OK;
}

/* Cast of a constant to float32, int64 or int32 (ints kept as int64; float -> int truncates) */
static tl_code fold_cast(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *x, ox_tensor **out) {
  int64_t to;
  TL_TRY(ox_attr_int(c, n, "to", 0, &to));
  int tf = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  if (!tf && to != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 && to != ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
    return ox_fail(c, n, TL_EUNSUPPORTED, "Cast to data type %lld", (long long)to);
  TL_TRY(ox_tensor_copy_shape(tf ? OX_F32 : OX_I64, x->ndim, x->shape, x->numel, out, c->st));
  for (int64_t k = 0; k < x->numel; k++) {
    if (tf) {
      (*out)->f[k] = x->dt == OX_F32 ? x->f[k] : (float)x->i[k];
    } else if (x->dt == OX_I64) {
      (*out)->i[k] = x->i[k];
    } else {
      float f = x->f[k];
      if (!(f > -9.2e18f && f < 9.2e18f)) {
        ox_tensor_free(*out);
        *out = NULL;
        return ox_fail(c, n, TL_EUNSUPPORTED, "Cast of %g to an integer", (double)f);
      }
      (*out)->i[k] = (int64_t)f;
    }
  }
  return TL_OK;
}

/* Gather(data, indices, axis): out[a.., idx.., b..] = data[a.., indices[idx..], b..] */
static tl_code fold_gather(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *d, const ox_tensor *ix,
                           ox_tensor **out) {
  int64_t axis;
  TL_TRY(ox_attr_int(c, n, "axis", 0, &axis));
  if (axis < -d->ndim || axis >= d->ndim || ix->dt != OX_I64 || d->ndim - 1 + ix->ndim > OX_MAXDIM)
    return ox_fail(c, n, TL_EUNSUPPORTED, "Gather with axis %lld on rank %d", (long long)axis, d->ndim);
  if (axis < 0)
    axis += d->ndim;
  int64_t shape[OX_MAXDIM], outer = 1, inner = 1, dim = d->shape[axis];
  int nd = 0;
  for (int k = 0; k < axis; k++)
    outer *= d->shape[k], shape[nd++] = d->shape[k];
  for (int k = 0; k < ix->ndim; k++)
    shape[nd++] = ix->shape[k];
  for (int k = (int)axis + 1; k < d->ndim; k++)
    inner *= d->shape[k], shape[nd++] = d->shape[k];
  TL_TRY(ox_tensor_new(d->dt, nd, shape, out, c->st));
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < ix->numel; j++) {
      int64_t i = ix->i[j] < 0 ? ix->i[j] + dim : ix->i[j];
      if (i < 0 || i >= dim) {
        ox_tensor_free(*out);
        *out = NULL;
        return ox_fail(c, n, TL_EVALUE, "Gather index %lld out of range for %lld", (long long)ix->i[j],
                       (long long)dim);
      }
      for (int64_t k = 0; k < inner; k++) {
        int64_t src = (o * dim + i) * inner + k, dst = (o * ix->numel + j) * inner + k;
        if (d->dt == OX_F32)
          (*out)->f[dst] = d->f[src];
        else
          (*out)->i[dst] = d->i[src];
      }
    }
  return TL_OK;
}

/* Concat of constants of one dtype along axis */
static tl_code fold_concat(ox_ctx *c, const Onnx__NodeProto *n, ox_tensor **out) {
  int64_t axis;
  TL_TRY(ox_attr_int(c, n, "axis", 0, &axis));
  const ox_tensor *t0 = cin(c, n, 0);
  if (!t0 || axis < -t0->ndim || axis >= t0->ndim)
    return ox_fail(c, n, TL_EFORMAT, "Concat axis %lld out of range", (long long)axis);
  if (axis < 0)
    axis += t0->ndim;
  int64_t shape[OX_MAXDIM], outer = 1, inner = 1;
  memcpy(shape, t0->shape, (size_t)t0->ndim * sizeof *shape);
  shape[axis] = 0;
  for (size_t k = 0; k < n->n_input; k++) {
    const ox_tensor *t = cin(c, n, k);
    int ok = t && t->dt == t0->dt && t->ndim == t0->ndim;
    for (int j = 0; ok && j < t0->ndim; j++)
      ok = j == axis || t->shape[j] == t0->shape[j];
    if (!ok)
      return ox_fail(c, n, TL_ESHAPE, "Concat input %zu does not fit", k);
    shape[axis] += t->shape[axis];
  }
  for (int j = 0; j < axis; j++)
    outer *= shape[j];
  for (int j = (int)axis + 1; j < t0->ndim; j++)
    inner *= shape[j];
  TL_TRY(ox_tensor_new(t0->dt, t0->ndim, shape, out, c->st));
  int64_t at = 0;
  for (int64_t o = 0; o < outer; o++)
    for (size_t k = 0; k < n->n_input; k++) {
      const ox_tensor *t = cin(c, n, k);
      int64_t len = t->shape[axis] * inner;
      for (int64_t e = 0; e < len; e++, at++)
        if (t->dt == OX_F32)
          (*out)->f[at] = t->f[o * len + e];
        else
          (*out)->i[at] = t->i[o * len + e];
    }
  return TL_OK;
}

/* Transpose of a constant: out[i_perm] = x[i] */
static tl_code fold_transpose(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *x, ox_tensor **out) {
  const int64_t *perm;
  int len, r = x->ndim;
  TL_TRY(ox_attr_ints(c, n, "perm", &perm, &len));
  int64_t p[OX_MAXDIM], shape[OX_MAXDIM], xs[OX_MAXDIM], idx[OX_MAXDIM] = {0};
  if (len >= 0 && len != r)
    return ox_fail(c, n, TL_EFORMAT, "perm has %d entries for rank %d", len, r);
  unsigned seen = 0;
  for (int k = 0; k < r; k++) {
    p[k] = len >= 0 ? perm[k] : r - 1 - k;
    if (p[k] < 0 || p[k] >= r || (seen >> p[k] & 1u))
      return ox_fail(c, n, TL_EFORMAT, "bad perm");
    seen |= 1u << p[k];
    shape[k] = x->shape[p[k]];
  }
  xs[r ? r - 1 : 0] = 1;
  for (int k = r - 2; k >= 0; k--)
    xs[k] = xs[k + 1] * x->shape[k + 1];
  TL_TRY(ox_tensor_copy_shape(x->dt, r, shape, x->numel, out, c->st));
  for (int64_t e = 0; e < x->numel; e++) {
    int64_t src = 0;
    for (int k = 0; k < r; k++)
      src += idx[k] * xs[p[k]];
    if (x->dt == OX_F32)
      (*out)->f[e] = x->f[src];
    else
      (*out)->i[e] = x->i[src];
    for (int k = r - 1; k >= 0 && ++idx[k] == shape[k]; k--)
      idx[k] = 0;
  }
  return TL_OK;
}

/* shape-only ops on a constant: Identity, Reshape, Flatten, Squeeze, Unsqueeze */
static tl_code fold_reshape_like(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *x, ox_tensor **out) {
  const char *op = n->op_type;
  int nd = 0;
  int64_t shape[OX_MAXDIM];
  if (strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0) {
    nd = x->ndim;
    memcpy(shape, x->shape, sizeof shape);
  } else if (strcmp(op, "Reshape") == 0) {
    const ox_tensor *t = cin(c, n, 1);
    int64_t allowzero;
    TL_TRY(ox_attr_int(c, n, "allowzero", 0, &allowzero));
    if (!t)
      return ox_fail(c, n, TL_EFORMAT, "Reshape needs a target shape");
    TL_TRY(ox_reshape_target(c, n, x->ndim, x->shape, x->numel, t, allowzero, &nd, shape));
  } else if (strcmp(op, "Flatten") == 0) {
    int64_t axis;
    TL_TRY(ox_attr_int(c, n, "axis", 1, &axis));
    if (axis < -x->ndim || axis > x->ndim)
      return ox_fail(c, n, TL_EFORMAT, "axis %lld out of range", (long long)axis);
    axis = axis < 0 ? axis + x->ndim : axis;
    nd = 2, shape[0] = shape[1] = 1;
    for (int k = 0; k < x->ndim; k++)
      shape[k >= axis] *= x->shape[k];
  } else {
    TL_TRY(ox_squeeze_shape(c, n, strcmp(op, "Unsqueeze") == 0, x->ndim, x->shape, &nd, shape));
  }
  return reshaped(c, x, nd, shape, out);
}

static tl_code fold_const_node(ox_ctx *c, const Onnx__NodeProto *n, ox_tensor **out, int *folded) {
  const char *op = n->op_type;
  const ox_tensor *x = cin(c, n, 0);
  *folded = 1;
  if (strcmp(op, "Cast") == 0 && x)
    return fold_cast(c, n, x, out);
  if (strcmp(op, "Gather") == 0 && x && cin(c, n, 1))
    return fold_gather(c, n, x, cin(c, n, 1), out);
  if (strcmp(op, "Concat") == 0)
    return fold_concat(c, n, out);
  if (strcmp(op, "Transpose") == 0 && x)
    return fold_transpose(c, n, x, out);
  if (strcmp(op, "Slice") == 0 && x)
    return ox_fold_slice(c, n, x, out);
  if (strcmp(op, "ConstantOfShape") == 0 && x)
    return ox_fold_const_of_shape(c, n, x, out);
  if ((strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 || strcmp(op, "Mul") == 0 ||
       strcmp(op, "Div") == 0) &&
      x && cin(c, n, 1) && n->n_input == 2)
    return ox_fold_binary(c, n, x, cin(c, n, 1), out);
  if (strcmp(op, "Neg") == 0 && x)
    return ox_fold_binary(c, n, x, NULL, out);
  if ((strcmp(op, "Identity") == 0 || strcmp(op, "Reshape") == 0 || strcmp(op, "Flatten") == 0 ||
       strcmp(op, "Squeeze") == 0 || strcmp(op, "Unsqueeze") == 0) &&
      x)
    return fold_reshape_like(c, n, x, out);
  if (strcmp(op, "Dropout") == 0 && x && n->n_input == 1)
    return fold_reshape_like(c, n, x, out);
  *folded = 0;
  return TL_OK;
}

tl_code ox_fold(ox_ctx *c, const Onnx__NodeProto *n, int *folded) {
  *folded = 0;
  const char *op = n->op_type;
  ox_tensor *out = NULL;
  tl_code rc = TL_OK;
  if (strcmp(op, "Constant") == 0) {
    *folded = 1;
    rc = fold_constant(c, n, &out);
  } else if (strcmp(op, "Shape") == 0 || strcmp(op, "Size") == 0) {
    *folded = 1;
    rc = fold_shape(c, n, &out);
  } else if (n->n_input > 0 && all_const(c, n)) {
    rc = fold_const_node(c, n, &out, folded);
  }
  if (rc == TL_OK && *folded && strcmp(op, "Constant") != 0)
    rc = ox_only_first_output(c, n);
  if (rc != TL_OK || !*folded) {
    ox_tensor_free(out);
    return rc;
  }
  return ox_bind_const(c, n, 0, out);
}
