/* interop/onnx_import_nn.c - 2-D Conv, BatchNormalization (inference), MaxPool, AveragePool,
 * GlobalAveragePool.  The IR's windows are symmetric (one padding per spatial axis): asymmetric
 * pads, a ceil_mode that changes the output size, and average pools that leave padding out of the
 * count are refused, never approximated. */
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

/* an optional 2-entry attribute (strides, dilations) with default 1 */
static tl_code pair_attr(ox_ctx *c, const Onnx__NodeProto *n, const char *name, int64_t *out) {
  const int64_t *v;
  int len;
  TL_TRY(ox_attr_ints(c, n, name, &v, &len));
  if (len >= 0 && len != 2)
    return ox_fail(c, n, TL_EUNSUPPORTED, "'%s' of %d entries (2-D windows only)", name, len);
  for (int k = 0; k < 2; k++) {
    out[k] = len == 2 ? v[k] : 1;
    if (out[k] < 1 || out[k] > (1 << 30))
      return ox_fail(c, n, TL_EFORMAT, "'%s' entry %lld", name, (long long)out[k]);
  }
  return TL_OK;
}

/* window attributes: kernel (given, or from the weight), strides, dilations, symmetric pads */
static tl_code window(ox_ctx *c, const Onnx__NodeProto *n, const int64_t *in, const int64_t *wk, win *w) {
  const int64_t *ks, *pads;
  int nk, np;
  TL_TRY(ox_attr_ints(c, n, "kernel_shape", &ks, &nk));
  if (nk >= 0 && nk != 2)
    return ox_fail(c, n, TL_EUNSUPPORTED, "kernel_shape of %d entries (2-D windows only)", nk);
  if (nk < 0 && !wk)
    return ox_fail(c, n, TL_EFORMAT, "kernel_shape is missing");
  for (int k = 0; k < 2; k++) {
    w->kernel[k] = nk == 2 ? ks[k] : wk[k];
    if (wk && w->kernel[k] != wk[k])
      return ox_fail(c, n, TL_ESHAPE, "kernel_shape disagrees with the weight");
    if (w->kernel[k] < 1 || w->kernel[k] > (1 << 30))
      return ox_fail(c, n, TL_EFORMAT, "kernel size %lld", (long long)w->kernel[k]);
  }
  TL_TRY(pair_attr(c, n, "strides", w->stride));
  TL_TRY(pair_attr(c, n, "dilations", w->dil));
  char ap[32];
  TL_TRY(ox_attr_str(c, n, "auto_pad", "NOTSET", ap, sizeof ap));
  if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0)
    return same_pads(c, n, in, w);
  if (strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0)
    return ox_fail(c, n, TL_EFORMAT, "auto_pad '%s'", ap);
  TL_TRY(ox_attr_ints(c, n, "pads", &pads, &np));
  if (np >= 0 && np != 4)
    return ox_fail(c, n, TL_EFORMAT, "pads of %d entries for a 2-D window", np);
  for (int k = 0; k < 2; k++) {
    int64_t b = np == 4 && ap[0] == 'N' ? pads[k] : 0, e = np == 4 && ap[0] == 'N' ? pads[k + 2] : 0;
    if (b != e)
      return ox_fail(c, n, TL_EUNSUPPORTED,
                     "asymmetric pads %lld and %lld on spatial axis %d (the IR pads "
                     "both sides alike)",
                     (long long)b, (long long)e, k);
    if (b < 0 || b > (1 << 30))
      return ox_fail(c, n, TL_EFORMAT, "pad %lld", (long long)b);
    w->pad[k] = b;
  }
  return TL_OK;
}

static void win_attrs(const win *w, tl_attrs *a) {
  for (int k = 0; k < 2; k++)
    a->kernel[k] = w->kernel[k], a->stride[k] = w->stride[k], a->padding[k] = w->pad[k],
    a->dilation[k] = w->dil[k];
}

static tl_code want_rank4(ox_ctx *c, const Onnx__NodeProto *n, int x) {
  if (c->g->nodes[x].ndim != 4)
    return ox_fail(c, n, TL_EUNSUPPORTED, "input of rank %d (only 2-D images (N, C, H, W))",
                   c->g->nodes[x].ndim);
  return TL_OK;
}

/* y[n,o,i,j] = b[o] + sum_{c,p,q} W[o,c,p,q] x[n, g C/G + c, i s - pad + p d, j s - pad + q d] */
tl_code ox_map_conv(ox_ctx *c, const Onnx__NodeProto *n) {
  int p[3], id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &p[0]));
  TL_TRY(want_rank4(c, n, p[0]));
  TL_TRY(ox_input_node(c, n, 1, TL_PARAM_TRAINABLE, &p[1]));
  const tl_node *wn = &c->g->nodes[p[1]];
  if (wn->ndim != 4)
    return ox_fail(c, n, TL_ESHAPE, "weight of rank %d", wn->ndim);
  ox_value *b = NULL;
  TL_TRY(ox_input(c, n, 2, &b));
  if (b)
    TL_TRY(ox_input_node(c, n, 2, TL_PARAM_TRAINABLE, &p[2]));
  win w;
  int64_t in[2] = {c->g->nodes[p[0]].shape[2], c->g->nodes[p[0]].shape[3]};
  TL_TRY(window(c, n, in, c->g->nodes[p[1]].shape + 2, &w));
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  win_attrs(&w, &a);
  TL_TRY(ox_attr_int(c, n, "group", 1, &a.groups));
  TL_TRY(ox_op(c, TL_OP_CONV2D, b ? 3 : 2, p, &a, &id));
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

/* MaxPool: y = max over the window (padding never wins); AveragePool: y = window sum / (kH kW) */
tl_code ox_map_pool(ox_ctx *c, const Onnx__NodeProto *n) {
  int avg = strcmp(n->op_type, "AveragePool") == 0, x, id;
  TL_TRY(ox_only_first_output(c, n));
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  TL_TRY(want_rank4(c, n, x));
  win w;
  int64_t in[2] = {c->g->nodes[x].shape[2], c->g->nodes[x].shape[3]};
  TL_TRY(window(c, n, in, NULL, &w));
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
