/* interop/onnx_fold_ops.c - folding of elementwise arithmetic, Slice and ConstantOfShape on
 * constants (shape computations of exporters, and weight preprocessing). */
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"

/* numpy broadcast of two shapes into out (rank *nd); 0 when they do not broadcast */
static int broadcast(const ox_tensor *a, const ox_tensor *b, int *nd, int64_t *out) {
  int r = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int k = 0; k < r; k++) {
    int64_t da = k < r - a->ndim ? 1 : a->shape[k - (r - a->ndim)];
    int64_t db = k < r - b->ndim ? 1 : b->shape[k - (r - b->ndim)];
    if (da != db && da != 1 && db != 1)
      return 0;
    out[k] = da == 1 ? db : da;
  }
  *nd = r;
  return 1;
}

/* flat index into t of output multi-index idx (rank r), broadcasting t's unit axes */
static int64_t bidx(const ox_tensor *t, const int64_t *idx, int r) {
  int64_t off = 0;
  for (int k = 0; k < t->ndim; k++) {
    int64_t d = t->shape[k];
    off = off * d + (d == 1 ? 0 : idx[k + (r - t->ndim)]);
  }
  return off;
}

/* y = a (op) b per element: float32 IEEE operations, or int64 (Div only when exact) */
static int apply(char op, const ox_tensor *a, int64_t ia, const ox_tensor *b, int64_t ib, ox_tensor *y,
                 int64_t e) {
  if (y->dt == OX_F32) {
    float x = a->f[ia], z = b ? b->f[ib] : 0.0f;
    y->f[e] = op == '+' ? x + z : op == '-' ? x - z : op == '*' ? x * z : op == '/' ? x / z : -x;
    return 1;
  }
  int64_t x = a->i[ia], z = b ? b->i[ib] : 0;
  if (op == '/' && (z == 0 || x % z != 0))
    return 0;
  /* wrapping arithmetic through uint64 (shape math never gets near it; no undefined behaviour) */
  uint64_t ux = (uint64_t)x, uz = (uint64_t)z;
  y->i[e] = op == '+'   ? (int64_t)(ux + uz)
            : op == '-' ? (int64_t)(ux - uz)
            : op == '*' ? (int64_t)(ux * uz)
            : op == '/' ? (z == -1 ? (int64_t)(0 - ux) : x / z)
                        : (int64_t)(0 - ux);
  return 1;
}

tl_code ox_fold_binary(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *a, const ox_tensor *b,
                       ox_tensor **out) {
  const char *op = n->op_type;
  char o = strcmp(op, "Add") == 0   ? '+'
           : strcmp(op, "Sub") == 0 ? '-'
           : strcmp(op, "Mul") == 0 ? '*'
           : strcmp(op, "Div") == 0 ? '/'
                                    : 'n';
  int nd = a->ndim;
  int64_t shape[OX_MAXDIM], idx[OX_MAXDIM] = {0};
  memcpy(shape, a->shape, sizeof shape);
  if (b && (a->dt != b->dt || !broadcast(a, b, &nd, shape)))
    return ox_fail(c, n, TL_ESHAPE, "constant operands of different types or shapes that do not broadcast");
  TL_TRY(ox_tensor_new(a->dt, nd, shape, out, c->st));
  for (int64_t e = 0; e < (*out)->numel; e++) {
    if (!apply(o, a, bidx(a, idx, nd), b, b ? bidx(b, idx, nd) : 0, *out, e)) {
      ox_tensor_free(*out);
      *out = NULL;
      return ox_fail(c, n, TL_EUNSUPPORTED, "integer division that is not exact");
    }
    for (int k = nd - 1; k >= 0 && ++idx[k] == shape[k]; k--)
      idx[k] = 0;
  }
  return TL_OK;
}

/* ConstantOfShape(shape): a tensor of that shape filled with `value` (default float 0) */
tl_code ox_fold_const_of_shape(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *s, ox_tensor **out) {
  if (s->dt != OX_I64 || s->ndim != 1 || s->numel > OX_MAXDIM)
    return ox_fail(c, n, TL_EUNSUPPORTED, "ConstantOfShape of a shape that is not a short int64 vector");
  const Onnx__AttributeProto *a = ox_attr(n, "value");
  ox_tensor *v = NULL;
  if (a && a->t) {
    tl_code rc = ox_tensor_from_proto(a->t, "value", &v, c->st);
    if (rc != TL_OK)
      return ox_fail(c, n, rc, "%s", c->st ? c->st->msg : "bad value");
    if (v->numel != 1) {
      ox_tensor_free(v);
      return ox_fail(c, n, TL_EFORMAT, "value must hold one element");
    }
  }
  tl_code rc = ox_tensor_new(v ? v->dt : OX_F32, (int)s->numel, s->i, out, c->st);
  for (int64_t e = 0; rc == TL_OK && e < (*out)->numel; e++)
    if ((*out)->dt == OX_F32)
      (*out)->f[e] = v ? v->f[0] : 0.0f;
    else
      (*out)->i[e] = v->i[0];
  ox_tensor_free(v);
  return rc == TL_OK ? rc : ox_fail(c, n, rc, "%s", c->st ? c->st->msg : "bad shape");
}

/* Slice of a constant along the ranges of ox_slice_ranges (any non-zero steps) */
tl_code ox_fold_slice(ox_ctx *c, const Onnx__NodeProto *n, const ox_tensor *x, ox_tensor **out) {
  int64_t start[OX_MAXDIM], step[OX_MAXDIM], count[OX_MAXDIM], xs[OX_MAXDIM], idx[OX_MAXDIM] = {0};
  int r = x->ndim;
  TL_TRY(ox_slice_ranges(c, n, r, x->shape, start, step, count));
  if (r)
    xs[r - 1] = 1;
  for (int k = r - 2; k >= 0; k--)
    xs[k] = xs[k + 1] * x->shape[k + 1];
  TL_TRY(ox_tensor_new(x->dt, r, count, out, c->st));
  for (int64_t e = 0; e < (*out)->numel; e++) {
    int64_t src = 0;
    for (int k = 0; k < r; k++)
      src += (start[k] + idx[k] * step[k]) * xs[k];
    if (x->dt == OX_F32)
      (*out)->f[e] = x->f[src];
    else
      (*out)->i[e] = x->i[src];
    for (int k = r - 1; k >= 0 && ++idx[k] == count[k]; k--)
      idx[k] = 0;
  }
  return TL_OK;
}
