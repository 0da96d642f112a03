/* interop/onnx_export_ops.c - one ONNX rule per op of ops.def (opset 13).  The table below is
 * expanded from ops.def: an op without a rule_<name> is a compile error.  Every rule writes ONNX
 * nodes that compute the op's function as defined by its kernel (runtime/kernels/) into
 * x->tname[id]; what opset 13 cannot express exactly is refused naming the node and the op. */
#include <math.h>
#include <stdio.h>

#include "interop/onnx_export_internal.h"

#define NODE(id) (&x->g->nodes[id])
#define PNODE(id, k) (&x->g->nodes[x->g->nodes[id].parents[k]])
#define OUT (x->tname[id])

const char *oe_in(const oe *x, int id, int k) { return x->tname[x->g->nodes[id].parents[k]]; }

int oe_sym0(const oe *x, int id) { return x->symbolic && x->bat[id]; }

static tl_code refuse(oe *x, int id, const char *why) {
  char w[160];
  return oe_fail(x, TL_EUNSUPPORTED, "%s: %s", oe_where(x, id, w, sizeof w), why);
}

/* op_type(parents in order) -> OUT */
static Onnx__NodeProto *same_inputs(oe *x, int id, const char *op_type) {
  const char *in[8];
  int np = NODE(id)->nparents;
  if (np > 8) {
    refuse(x, id, "more than 8 parents");
    return NULL;
  }
  for (int k = 0; k < np; k++)
    in[k] = oe_in(x, id, k);
  return oe_node(x, op_type, OUT, np, in);
}

static tl_code plain(oe *x, int id, const char *op_type) {
  same_inputs(x, id, op_type);
  return x->err;
}

/* INPUT and PARAM are written by the driver (graph inputs, initializers) */
static tl_code rule_input(oe *x, int id) { return x->err; }
static tl_code rule_param(oe *x, int id) { return x->err; }

/* y = x W^T + b: Gemm(transB=1) on 2-D x; else MatMul(x, Transpose(W)) then Add(b) */
static tl_code rule_linear(oe *x, int id) {
  int bias = NODE(id)->nparents == 3;
  if (PNODE(id, 0)->ndim == 2) {
    oe_attr_int(x, same_inputs(x, id, "Gemm"), "transB", 1);
    return x->err;
  }
  int64_t perm[2] = {1, 0};
  const char *wt = oe_tmp(x, id, "weight_t"), *mm = bias ? oe_tmp(x, id, "matmul") : OUT;
  const char *tin[1] = {oe_in(x, id, 1)}, *min[2] = {oe_in(x, id, 0), wt};
  oe_attr_ints(x, oe_node(x, "Transpose", wt, 1, tin), "perm", 2, perm);
  oe_node(x, "MatMul", mm, 2, min);
  if (bias) {
    const char *ain[2] = {mm, oe_in(x, id, 2)};
    oe_node(x, "Add", OUT, 2, ain);
  }
  return x->err;
}

/* batched matmul with numpy broadcasting: MatMul */
static tl_code rule_matmul(oe *x, int id) { return plain(x, id, "MatMul"); }
/* elementwise with numpy broadcasting (multidirectional in ONNX): same names */
static tl_code rule_add(oe *x, int id) { return plain(x, id, "Add"); }
static tl_code rule_sub(oe *x, int id) { return plain(x, id, "Sub"); }
static tl_code rule_mul(oe *x, int id) { return plain(x, id, "Mul"); }
static tl_code rule_div(oe *x, int id) { return plain(x, id, "Div"); }
static tl_code rule_max(oe *x, int id) { return plain(x, id, "Max"); }
static tl_code rule_min(oe *x, int id) { return plain(x, id, "Min"); }
static tl_code rule_neg(oe *x, int id) { return plain(x, id, "Neg"); }
static tl_code rule_abs(oe *x, int id) { return plain(x, id, "Abs"); }
static tl_code rule_sqrt(oe *x, int id) { return plain(x, id, "Sqrt"); }
static tl_code rule_exp(oe *x, int id) { return plain(x, id, "Exp"); }
static tl_code rule_log(oe *x, int id) { return plain(x, id, "Log"); }
static tl_code rule_relu(oe *x, int id) { return plain(x, id, "Relu"); }
static tl_code rule_sigmoid(oe *x, int id) { return plain(x, id, "Sigmoid"); }
static tl_code rule_tanh(oe *x, int id) { return plain(x, id, "Tanh"); }
/* y = x (x >= 0), alpha x: LeakyRelu with alpha rounded to float32 as the kernel does */
static tl_code rule_leaky_relu(oe *x, int id) {
  oe_attr_float(x, same_inputs(x, id, "LeakyRelu"), "alpha", (float)NODE(id)->attrs.alpha);
  return x->err;
}
/* tanh-approximation GELU and x sigmoid(x): no opset-13 op, written out (onnx_export_decomp.c) */
static tl_code rule_gelu(oe *x, int id) { return oe_gelu(x, id); }
static tl_code rule_silu(oe *x, int id) { return oe_silu(x, id); }
/* softmax along one axis (opset 13 semantics: that axis only) */
static tl_code rule_softmax(oe *x, int id) {
  oe_attr_int(x, same_inputs(x, id, "Softmax"), "axis", NODE(id)->attrs.axis);
  return x->err;
}
static tl_code rule_log_softmax(oe *x, int id) {
  oe_attr_int(x, same_inputs(x, id, "LogSoftmax"), "axis", NODE(id)->attrs.axis);
  return x->err;
}
/* y = min(max(x, lo), hi): Clip with float32 min and max inputs (opset 11+) */
static tl_code rule_clamp(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  const char *in[3] = {oe_in(x, id, 0), oe_const_f32(x, id, "min", (float)a->lo),
                       oe_const_f32(x, id, "max", (float)a->hi)};
  if (x->err == TL_OK)
    oe_node(x, "Clip", OUT, 3, in);
  return x->err;
}
/* sum over axes (none listed: all): ReduceSum with an axes input (opset 13) */
static tl_code rule_sum(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  const char *in[2] = {oe_in(x, id, 0), a->nlist ? oe_const_i64(x, id, "axes", a->nlist, a->list) : NULL};
  if (x->err == TL_OK)
    oe_attr_int(x, oe_node(x, "ReduceSum", OUT, a->nlist ? 2 : 1, in), "keepdims", a->keepdim != 0);
  return x->err;
}
/* mean over axes (none listed: all): ReduceMean with an axes attribute (opset 13) */
static tl_code rule_mean(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  Onnx__NodeProto *n = same_inputs(x, id, "ReduceMean");
  if (a->nlist)
    oe_attr_ints(x, n, "axes", a->nlist, a->list);
  oe_attr_int(x, n, "keepdims", a->keepdim != 0);
  return x->err;
}

/* Reshape to the node's shape; axis 0 as 0 ("copy the input's size") when it is the symbolic
 * batch.  A 0 target copies the input's dimension in opset 13, so a real zero-size dimension is
 * only written where the input has a zero at the same axis. */
static tl_code reshape_to(oe *x, int id) {
  const tl_node *n = NODE(id), *p = PNODE(id, 0);
  int64_t shape[16];
  if (n->ndim > 16)
    return refuse(x, id, "more than 16 axes");
  for (int i = 0; i < n->ndim; i++) {
    shape[i] = i == 0 && oe_sym0(x, id) ? 0 : n->shape[i];
    if (n->shape[i] == 0 && (i >= p->ndim || p->shape[i] != 0))
      return refuse(x, id, "a zero-size axis cannot be written as an opset-13 Reshape");
  }
  const char *in[2] = {oe_in(x, id, 0), oe_const_i64(x, id, "shape", n->ndim, shape)};
  if (x->err == TL_OK)
    oe_node(x, "Reshape", OUT, 2, in);
  return x->err;
}

static tl_code rule_reshape(oe *x, int id) { return reshape_to(x, id); }
/* merge axes start..end: Flatten(axis=1) when that is (N, rest), else Reshape */
static tl_code rule_flatten(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  int r = PNODE(id, 0)->ndim;
  if (r >= 2 && a->axis == 1 && a->axis_end == r - 1) {
    oe_attr_int(x, same_inputs(x, id, "Flatten"), "axis", 1);
    return x->err;
  }
  return reshape_to(x, id);
}
/* output axis k is input axis perm[k]: Transpose */
static tl_code rule_permute(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  oe_attr_ints(x, same_inputs(x, id, "Transpose"), "perm", a->nlist, a->list);
  return x->err;
}
static tl_code rule_concat(oe *x, int id) {
  oe_attr_int(x, same_inputs(x, id, "Concat"), "axis", NODE(id)->attrs.axis);
  return x->err;
}
/* x[..., start:end:step, ...]: Slice with starts, ends, axes, steps inputs */
static tl_code rule_slice(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  const char *in[5] = {oe_in(x, id, 0), oe_const_i64(x, id, "starts", 1, &a->start),
                       oe_const_i64(x, id, "ends", 1, &a->end), oe_const_i64(x, id, "axes", 1, &a->axis),
                       oe_const_i64(x, id, "steps", 1, &a->step)};
  if (x->err == TL_OK)
    oe_node(x, "Slice", OUT, 5, in);
  return x->err;
}

/* the window attributes shared by Conv, MaxPool and AveragePool (symmetric padding) */
static void window_attrs(oe *x, Onnx__NodeProto *n, const tl_attrs *a, int dilations) {
  int64_t pads[4] = {a->padding[0], a->padding[1], a->padding[0], a->padding[1]};
  oe_attr_ints(x, n, "kernel_shape", 2, a->kernel);
  oe_attr_ints(x, n, "strides", 2, a->stride);
  oe_attr_ints(x, n, "pads", 4, pads);
  if (dilations)
    oe_attr_ints(x, n, "dilations", 2, a->dilation);
}

/* cross-correlation with groups, zero padding, stride and dilation: Conv */
static tl_code rule_conv2d(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  Onnx__NodeProto *n = same_inputs(x, id, "Conv");
  window_attrs(x, n, a, 1);
  oe_attr_int(x, n, "group", a->groups);
  return x->err;
}

/* 1 when every window along one axis holds an in-range tap (else our max is over no tap) */
static int windows_hit(int64_t n, int64_t out, int64_t k, int64_t s, int64_t pad, int64_t d) {
  for (int64_t i = 0; i < out; i++) {
    int hit = 0;
    for (int64_t p = 0; p < k && !hit; p++) {
      int64_t at = i * s - pad + p * d;
      hit = at >= 0 && at < n;
    }
    if (!hit)
      return 0;
  }
  return 1;
}

/* max over the in-range taps (padding never wins): MaxPool, whose padding is -infinity */
static tl_code rule_max_pool2d(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  const tl_node *p = PNODE(id, 0), *n = NODE(id);
  for (int i = 0; i < 2; i++)
    if (!windows_hit(p->shape[2 + i], n->shape[2 + i], a->kernel[i], a->stride[i], a->padding[i],
                     a->dilation[i]))
      return refuse(x, id, "a pooling window lies wholly in the padding");
  window_attrs(x, same_inputs(x, id, "MaxPool"), a, 1);
  return x->err;
}

/* sum of the window (padding counts as zeros) / (kH kW): AveragePool with count_include_pad=1 */
static tl_code rule_avg_pool2d(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  if (a->dilation[0] != 1 || a->dilation[1] != 1)
    return refuse(x, id, "AveragePool has no dilations before opset 19 (this exporter writes opset 13)");
  Onnx__NodeProto *n = same_inputs(x, id, "AveragePool");
  window_attrs(x, n, a, 0);
  oe_attr_int(x, n, "count_include_pad", 1);
  return x->err;
}

/* y[n,c] = mean over the spatial axes: GlobalAveragePool (N, C, 1, ...) then Flatten(axis=1) */
static tl_code rule_global_avg_pool(oe *x, int id) {
  const char *pooled = oe_tmp(x, id, "pooled"), *in[1] = {oe_in(x, id, 0)}, *fin[1] = {pooled};
  oe_node(x, "GlobalAveragePool", pooled, 1, in);
  oe_attr_int(x, oe_node(x, "Flatten", OUT, 1, fin), "axis", 1);
  return x->err;
}

/* inference batch norm on the running statistics: BatchNormalization (opset 9 form);
 * ONNX's momentum weighs the old statistic: 1 - ours */
static tl_code rule_batch_norm(oe *x, int id) {
  const tl_attrs *a = &NODE(id)->attrs;
  Onnx__NodeProto *n = same_inputs(x, id, "BatchNormalization");
  oe_attr_float(x, n, "epsilon", (float)a->eps);
  oe_attr_float(x, n, "momentum", (float)(1.0 - a->momentum));
  return x->err;
}

/* LayerNormalization is opset 17: written out in opset-13 ops (onnx_export_decomp.c) */
static tl_code rule_layer_norm(oe *x, int id) { return oe_layer_norm(x, id); }
/* inference: y = x */
static tl_code rule_dropout(oe *x, int id) { return plain(x, id, "Identity"); }

/* y[..., :] = table[idx[...], :]: Gather(table, Cast<int64>(idx)).  Our kernel refuses indices
 * that are not integers in [0, rows); on those it accepts, the cast is exact. */
static tl_code rule_embedding(oe *x, int id) {
  const char *idx = oe_tmp(x, id, "index"), *cin[1] = {oe_in(x, id, 0)}, *gin[2] = {oe_in(x, id, 1), idx};
  oe_attr_int(x, oe_node(x, "Cast", idx, 1, cin), "to", ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
  oe_attr_int(x, oe_node(x, "Gather", OUT, 2, gin), "axis", 0);
  return x->err;
}

static tl_code rule_attention(oe *x, int id) { return oe_attention(x, id); }

/* losses are training-only: the plan exports their prediction instead (onnx_export_plan.c) */
static tl_code rule_mse_loss(oe *x, int id) {
  return refuse(x, id, "a training loss is not exported (export its prediction)");
}
static tl_code rule_cross_entropy(oe *x, int id) {
  return refuse(x, id, "a training loss is not exported (export its prediction)");
}

typedef tl_code (*oe_rule)(oe *x, int id);

static const oe_rule rules[TL_OP_COUNT] = {
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = rule_##name,
#include "torchlean/ops.def"
#undef TL_OP
};

tl_code oe_emit(oe *x, int id) {
  tl_op op = NODE(id)->op;
  if ((int)op < 0 || op >= TL_OP_COUNT)
    return oe_fail(x, TL_EARG, "node %d: op %d out of range", id, (int)op);
  return rules[op](x, id);
}
