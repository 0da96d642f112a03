/* interop/onnx_import_nn.c - Conv, MaxPool, AveragePool (2-D, and 1-D run as 2-D with H = 1:
 * reshapes around the same op), BatchNormalization (inference), GlobalAveragePool.  The IR's windows are
 * symmetric (one padding per spatial axis): asymmetric pads, a ceil_mode that changes the output size, and
 * average pools that leave padding out of the count are refused, never approximated. */
#include <stdio.h>
#include <string.h>

#include "interop/onnx_internal.h"

typedef struct win {
  int64_t kernel[2], stride[2], pad[2], dil[2];
} win;

/* explicit pads of auto_pad SAME_UPPER / SAME_LOWER: total = max((ceil(n/s)-1) s + (k-1) d + 1 - n, 0) */
static tl_code same_pads(ox_ctx *c, const Onnx__NodeProto *n, const int64_t *in, win *w) {
  for (int k = 0; k < 2; k++) {
    int64_t out = (in[k] + w->stride[k] - 1) / w->stride[k];
    int64_t total = (out - 1) * w->stride[k] + (w->kernel[k] - 1) * w->dil[k] + 1 - in[k];
    if (total < 0)
      total = 0;
    if (total % 2)
      return ox_fail(c, n, TL_EUNSUPPORTED, "auto_pad SAME gives asymmetric padding (%lld total on axis %d)",
                     (long long)total, k);
    w->pad[k] = total / 2;
  }
  return TL_OK;
}

/* a list attribute of nsp entries (one per spatial axis) into the last nsp of out[2]; absent: def */
static tl_code win_list(ox_ctx *c, const Onnx__NodeProto *n, const char *name, int nsp, int64_t def,
                        int64_t lo, int64_t *out) {
  const int64_t *v;
  int len;
  TL_TRY(ox_attr_ints(c, n, name, &v, &len));
  if (len >= 0 && len != nsp)
    return ox_fail(c, n, TL_EUNSUPPORTED, "'%s' of %d entries for %d spatial axes", name, len, nsp);
  out[0] = out[1] = def;
  for (int k = 0; len >= 0 && k < nsp; k++) {
    out[2 - nsp + k] = v[k];
    if (v[k] < lo || v[k] > (1 << 30))
      return ox_fail(c, n, TL_EFORMAT, "'%s' entry %lld", name, (long long)v[k]);
  }
  return TL_OK;
}

/* symmetric pads (begin == end on each spatial axis) into w->pad */
static tl_code win_pads(ox_ctx *c, const Onnx__NodeProto *n, int nsp, win *w) {
  const int64_t *pads;
  int np;
  TL_TRY(ox_attr_ints(c, n, "pads", &pads, &np));
  w->pad[0] = w->pad[1] = 0;
  if (np < 0)
    return TL_OK;
  if (np != 2 * nsp)
    return ox_fail(c, n, TL_EFORMAT, "pads of %d entries for %d spatial axes", np, nsp);
  for (int k = 0; k < nsp; k++) {
    int64_t b = pads[k], e = pads[nsp + k];
    if (b != e)
      return ox_fail(c, n, TL_EUNSUPPORTED,
                     "asymmetric pads %lld and %lld on spatial axis %d (the IR pads both "
                     "sides alike)",
                     (long long)b, (long long)e, k);
    if (b < 0 || b > (1 << 30))
      return ox_fail(c, n, TL_EFORMAT, "pad %lld", (long long)b);
    w->pad[2 - nsp + k] = b;
  }
  return TL_OK;
}

/* window attributes of nsp spatial axes (1-D windows run as H = 1): kernel (given, or the weight's
 * wk), strides, dilations, symmetric pads or auto_pad; `in` the 4-D input's (H, W) */
static tl_code window(ox_ctx *c, const Onnx__NodeProto *n, int nsp, const int64_t *in, const int64_t *wk,
                      win *w) {
  if (!ox_attr(n, "kernel_shape") && !wk)
    return ox_fail(c, n, TL_EFORMAT, "kernel_shape is missing");
  TL_TRY(win_list(c, n, "kernel_shape", nsp, 1, 1, w->kernel));
  for (int k = 0; wk && k < 2; k++) {
    if (ox_attr(n, "kernel_shape") && w->kernel[k] != wk[k])
      return ox_fail(c, n, TL_ESHAPE, "kernel_shape disagrees with the weight");
    w->kernel[k] = wk[k];
  }
  TL_TRY(win_list(c, n, "strides", nsp, 1, 1, w->stride));
  TL_TRY(win_list(c, n, "dilations", nsp, 1, 1, w->dil));
  char ap[32];
  TL_TRY(ox_attr_str(c, n, "auto_pad", "NOTSET", ap, sizeof ap));
  if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0)
    return same_pads(c, n, in, w);
  if (strcmp(ap, "VALID") == 0) {
    w->pad[0] = w->pad[1] = 0;
    return TL_OK;
  }
  if (strcmp(ap, "NOTSET") != 0)
    return ox_fail(c, n, TL_EFORMAT, "auto_pad '%s'", ap);
  return win_pads(c, n, nsp, w);
}

static void win_attrs(const win *w, tl_attrs *a) {
  for (int k = 0; k < 2; k++)
    a->kernel[k] = w->kernel[k], a->stride[k] = w->stride[k], a->padding[k] = w->pad[k],
    a->dilation[k] = w->dil[k];
}

/* node x of rank 3 (N, C, L) or 4 (N, C, H, W) as a 4-D node (N, C, 1, L): a reshape; *nsp the
 * spatial rank */
static tl_code as_4d(ox_ctx *c, const Onnx__NodeProto *n, int x, int *nsp, int *out) {
  const tl_node *xn = &c->g->nodes[x];
  if (xn->ndim != 3 && xn->ndim != 4)
    return ox_fail(c, n, TL_EUNSUPPORTED, "rank %d (1-D (N, C, L) and 2-D (N, C, H, W) windows only)",
                   xn->ndim);
  *nsp = xn->ndim - 2;
  int64_t s[4] = {xn->shape[0], xn->shape[1], 1, xn->shape[2]};
  if (*nsp == 2) {
    *out = x;
    return TL_OK;
  }
  return ox_reshape(c, x, 4, s, out);
}

/* the 4-D result y of a 1-D window back to (N, C, L) */
static tl_code from_4d(ox_ctx *c, int nsp, int y, int *out) {
  const tl_node *yn = &c->g->nodes[y];
  int64_t s[3] = {yn->shape[0], yn->shape[1], yn->shape[3]};
  if (nsp == 2) {
    *out = y;
    return TL_OK;
  }
  return ox_reshape(c, y, 3, s, out);
}

/* the weight (rank nsp + 2) as a 4-D node; a constant 1-D weight (O, C/G, K) becomes a (O, C/G, 1, K)
 * PARAM itself (the same floats), so conv2d sees a parameter rather than a reshape of one */
static tl_code conv_weight(ox_ctx *c, const Onnx__NodeProto *n, int nsp, int *id) {
  ox_value *w = NULL;
  TL_TRY(ox_input(c, n, 1, &w));
  if (!w)
    return ox_fail(c, n, TL_EFORMAT, "Conv needs a weight");
  int r, wsp;
  const int64_t *ws;
  ox_shape(c, w, &r, &ws);
  if (r != nsp + 2)
    return ox_fail(c, n, TL_ESHAPE, "weight of rank %d for an input of rank %d", r, nsp + 2);
  if (nsp == 2 || !w->c || w->c->dt != OX_F32 || w->id >= 0) {
    TL_TRY(ox_input_node(c, n, 1, TL_PARAM_TRAINABLE, id));
    return as_4d(c, n, *id, &wsp, id);
  }
  int64_t s[4] = {ws[0], ws[1], 1, ws[2]};
  ox_tensor *t = NULL;
  TL_TRY(ox_tensor_copy_shape(OX_F32, 4, s, w->c->numel, &t, c->st));
  memcpy(t->f, w->c->f, (size_t)t->numel * sizeof *t->f);
  tl_code rc = ox_param(c, w->name, TL_PARAM_TRAINABLE, t, id);
  ox_tensor_free(t);
  return rc;
}

/* y[n,o,i,j] = b[o] + sum_{c,p,q} W[o,c,p,q] x[n, g C/G + c, i s - pad + p d, j s - pad + q d]
 * (1-D: the same with H = 1, input and weight reshaped) */
tl_code ox_map_conv(ox_ctx *c, const Onnx__NodeProto *n) {
  int p[3], id, nsp;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &p[0]));
  TL_TRY(as_4d(c, n, p[0], &nsp, &p[0]));
  TL_TRY(conv_weight(c, n, nsp, &p[1]));
  ox_value *b = NULL;
  TL_TRY(ox_input(c, n, 2, &b));
  if (b)
    TL_TRY(ox_input_node(c, n, 2, TL_PARAM_TRAINABLE, &p[2]));
  win w;
  int64_t in[2] = {c->g->nodes[p[0]].shape[2], c->g->nodes[p[0]].shape[3]};
  TL_TRY(window(c, n, nsp, in, c->g->nodes[p[1]].shape + 2, &w));
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  win_attrs(&w, &a);
  TL_TRY(ox_attr_int(c, n, "group", 1, &a.groups));
  TL_TRY(ox_op(c, TL_OP_CONV2D, b ? 3 : 2, p, &a, &id));
  TL_TRY(from_4d(c, nsp, id, &id));
  return ox_bind_node(c, n, 0, id);
}

/* y = (x - mean_c) / sqrt(var_c + eps) scale_c + B_c, running statistics (inference) */
tl_code ox_map_batchnorm(ox_ctx *c, const Onnx__NodeProto *n) {
  float eps;
  int64_t spatial, training;
  TL_TRY(ox_attr_float(c, n, "epsilon", 1e-5f, &eps));
  TL_TRY(ox_attr_int(c, n, "spatial", 1, &spatial));
  TL_TRY(ox_attr_int(c, n, "training_mode", 0, &training));
  TL_TRY(ox_attr_absent(c, n, "is_test"));
  if (spatial != 1 || training != 0)
    return ox_fail(c, n, TL_EUNSUPPORTED, "BatchNormalization with spatial=0 or training_mode=1");
  TL_TRY(ox_only_first_output(c, n));
  int p[5], id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &p[0]));
  for (size_t k = 1; k < 5; k++)
    TL_TRY(ox_input_node(c, n, k, k < 3 ? TL_PARAM_TRAINABLE : TL_PARAM_BUFFER, &p[k]));
  tl_attrs a = tl_attrs_default(TL_OP_BATCH_NORM);
  a.eps = eps;
  TL_TRY(ox_op(c, TL_OP_BATCH_NORM, 5, p, &a, &id));
  return ox_bind_node(c, n, 0, id);
}

/* floor and ceil output sizes must agree when ceil_mode is set */
static tl_code check_ceil(ox_ctx *c, const Onnx__NodeProto *n, const int64_t *in, const win *w) {
  int64_t ceil_mode;
  TL_TRY(ox_attr_int(c, n, "ceil_mode", 0, &ceil_mode));
  for (int k = 0; ceil_mode && k < 2; k++) {
    int64_t span = in[k] + 2 * w->pad[k] - (w->kernel[k] - 1) * w->dil[k] - 1;
    if (span >= 0 && span % w->stride[k])
      return ox_fail(c, n, TL_EUNSUPPORTED, "ceil_mode=1 changes the output size on spatial axis %d", k);
  }
  return TL_OK;
}

/* MaxPool: y = max over the window (padding never wins); AveragePool: y = window sum / (kH kW)
 * (1-D: with H = 1) */
tl_code ox_map_pool(ox_ctx *c, const Onnx__NodeProto *n) {
  int avg = strcmp(n->op_type, "AveragePool") == 0, x, id, nsp;
  TL_TRY(ox_only_first_output(c, n));
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  TL_TRY(as_4d(c, n, x, &nsp, &x));
  win w;
  int64_t in[2] = {c->g->nodes[x].shape[2], c->g->nodes[x].shape[3]};
  TL_TRY(window(c, n, nsp, in, NULL, &w));
  TL_TRY(check_ceil(c, n, in, &w));
  if (avg) {
    int64_t cip;
    TL_TRY(ox_attr_int(c, n, "count_include_pad", 0, &cip));
    if ((w.pad[0] || w.pad[1]) && !cip)
      return ox_fail(c, n, TL_EUNSUPPORTED,
                     "AveragePool with padding left out of the count (count_include_pad=0;"
                     " the IR divides by the full window)");
  }
  tl_attrs a = tl_attrs_default(avg ? TL_OP_AVG_POOL2D : TL_OP_MAX_POOL2D);
  win_attrs(&w, &a);
  TL_TRY(ox_op(c, avg ? TL_OP_AVG_POOL2D : TL_OP_MAX_POOL2D, 1, &x, &a, &id));
  TL_TRY(from_4d(c, nsp, id, &id));
  return ox_bind_node(c, n, 0, id);
}

/* y[n,c,1,..] = mean over the spatial positions of x[n,c,...] (the IR drops the unit axes) */
tl_code ox_map_gap(ox_ctx *c, const Onnx__NodeProto *n) {
  int x, id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  const tl_node *xn = &c->g->nodes[x];
  int r = xn->ndim;
  if (r < 3)
    return ox_fail(c, n, TL_ESHAPE, "GlobalAveragePool of rank %d", r);
  int64_t shape[OX_MAXDIM];
  shape[0] = xn->shape[0], shape[1] = xn->shape[1];
  for (int k = 2; k < r; k++)
    shape[k] = 1;
  TL_TRY(ox_op(c, TL_OP_GLOBAL_AVG_POOL, 1, &x, NULL, &id));
  TL_TRY(ox_reshape(c, id, r, shape, &id));
  return ox_bind_node(c, n, 0, id);
}
