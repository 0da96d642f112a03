/* interop/onnx_import_ops.c - the mapper table and the dense and elementwise ops: MatMul and Gemm
 * (to `linear` when the weight is a constant: the transposed weight is pure data movement, and the
 * bias of a following Add joins it), Add/Sub/Mul/Div/Max/Min, activations, Clip, Softmax,
 * Identity, Dropout, Cast.  Each rule's comment states the ONNX function it reproduces. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interop/onnx_internal.h"

/* ---- linear (MatMul / Gemm with a constant weight) ------------------------------------------ */

/* W (N, K) as a PARAM: W[o][i] = B[i][o] when transpose (B stored (K, N)), else B as stored */
static tl_code weight_param(ox_ctx *c, const char *name, const ox_tensor *b, int transpose, int *id) {
  int64_t r = b->shape[0], s = b->shape[1];
  int64_t shape[2] = {transpose ? s : r, transpose ? r : s};
  ox_tensor *w = NULL;
  TL_TRY(ox_tensor_copy_shape(OX_F32, 2, shape, b->numel, &w, c->st));
  for (int64_t i = 0; i < r; i++)
    for (int64_t j = 0; j < s; j++)
      w->f[transpose ? j * r + i : i * s + j] = b->f[i * s + j];
  tl_code rc = ox_param(c, name, TL_PARAM_TRAINABLE, w, id);
  ox_tensor_free(w);
  return rc;
}

/* A float constant that broadcasts onto an output (..., N) of rank `rank` without changing its shape
 * and varies at most along the last axis: shape [N], [1, N], [1, 1, N], ... or a single element. */
static int bias_like(const ox_tensor *t, int64_t N, int rank) {
  if (!t || t->dt != OX_F32 || t->ndim > rank)
    return 0;
  for (int k = 0; k + 1 < t->ndim; k++)
    if (t->shape[k] != 1)
      return 0;
  return t->ndim == 0 || t->shape[t->ndim - 1] == N || t->shape[t->ndim - 1] == 1;
}

/* bias vector b[N] of such a constant (a single element repeated: the same sum per output) */
static tl_code bias_param(ox_ctx *c, const char *name, const ox_tensor *t, int64_t N, int *id) {
  ox_tensor *b = NULL;
  TL_TRY(ox_tensor_new(OX_F32, 1, &N, &b, c->st));
  for (int64_t o = 0; o < N; o++)
    b->f[o] = t->numel == N ? t->f[o] : t->f[0];
  tl_code rc = ox_param(c, name, TL_PARAM_TRAINABLE, b, id);
  ox_tensor_free(b);
  return rc;
}

/* The node's output feeds exactly one Add whose other operand is a bias for (..., N): that Add's
 * index in *add and the constant in *bias; else *add = -1. */
static void find_bias_add(ox_ctx *c, const Onnx__NodeProto *n, int64_t N, int rank, int *add,
                          ox_value **bias) {
  *add = -1;
  ox_value *v = ox_find(c, n->output[0]);
  if (!v || v->uses != 1 || v->consumer <= (int)c->cur)
    return;
  const Onnx__NodeProto *m = c->gp->node[v->consumer];
  if (!m->op_type || strcmp(m->op_type, "Add") != 0 || m->n_input != 2 || m->n_output < 1 ||
      (m->domain && m->domain[0]))
    return;
  int k = strcmp(m->input[0], n->output[0]) == 0 ? 1 : 0;
  if (strcmp(m->input[1 - k], n->output[0]) != 0 || strcmp(m->input[k], n->output[0]) == 0)
    return;
  ox_value *b = ox_find(c, m->input[k]);
  if (!b || !b->c || !bias_like(b->c, N, rank))
    return;
  *add = v->consumer;
  *bias = b;
}

/* y = x W^T (+ b): one float32 sum per output of the products x_i W[o,i] then + b[o] last, which
 * is MatMul-then-Add evaluated in float32 (f32-ref: left fold from the first product, bias last). */
static tl_code emit_linear(ox_ctx *c, const Onnx__NodeProto *n, int x, int w, int64_t N) {
  int rank = c->g->nodes[x].ndim, add = -1, b = -1, id;
  ox_value *bias = NULL;
  find_bias_add(c, n, N, rank, &add, &bias);
  if (add >= 0)
    TL_TRY(bias_param(c, bias->name, bias->c, N, &b));
  int parents[3] = {x, w, b};
  tl_attrs a = tl_attrs_default(TL_OP_LINEAR);
  TL_TRY(ox_op(c, TL_OP_LINEAR, add >= 0 ? 3 : 2, parents, &a, &id));
  TL_TRY(ox_bind_node(c, n, 0, id));
  if (add < 0)
    return TL_OK;
  c->done[add] = 1;
  size_t cur = c->cur;
  c->cur = (size_t)add;
  tl_code rc = ox_bind_node(c, c->gp->node[add], 0, id);
  c->cur = cur;
  return rc;
}

/* y = a @ b (numpy matmul semantics) */
tl_code ox_map_matmul(ox_ctx *c, const Onnx__NodeProto *n) {
  ox_value *a = NULL, *b = NULL;
  TL_TRY(ox_input(c, n, 0, &a));
  TL_TRY(ox_input(c, n, 1, &b));
  if (!a || !b)
    return ox_fail(c, n, TL_EFORMAT, "MatMul needs two inputs");
  int ra, rb, x, w;
  const int64_t *sa, *sb;
  ox_shape(c, a, &ra, &sa);
  ox_shape(c, b, &rb, &sb);
  if (b->c && b->c->dt == OX_F32 && rb == 2 && ra >= 1) { /* x (..., K) @ B (K, N) = linear(x, B^T) */
    if (sa[ra - 1] != sb[0])
      return ox_fail(c, n, TL_ESHAPE, "MatMul of shapes with inner sizes %lld and %lld",
                     (long long)sa[ra - 1], (long long)sb[0]);
    TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
    TL_TRY(weight_param(c, b->name, b->c, 1, &w));
    return emit_linear(c, n, x, w, sb[1]);
  }
  if (a->c && a->c->dt == OX_F32 && ra == 2 && rb == 1 && !b->c) { /* A (M, K) @ x (K) = linear(x, A) */
    if (sa[1] != sb[0])
      return ox_fail(c, n, TL_ESHAPE, "MatMul of shapes with inner sizes %lld and %lld", (long long)sa[1],
                     (long long)sb[0]);
    TL_TRY(ox_input_node(c, n, 1, TL_PARAM_CONSTANT, &x));
    TL_TRY(weight_param(c, a->name, a->c, 0, &w));
    return emit_linear(c, n, x, w, sa[0]);
  }
  if (ra < 2 || rb < 2)
    return ox_fail(c, n, TL_EUNSUPPORTED, "MatMul with a 1-D operand computed at run time");
  int p[2], id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &p[0]));
  TL_TRY(ox_input_node(c, n, 1, TL_PARAM_CONSTANT, &p[1]));
  TL_TRY(ox_op(c, TL_OP_MATMUL, 2, p, NULL, &id));
  return ox_bind_node(c, n, 0, id);
}

/* ---- Gemm: Y = alpha A' B' + beta C ---------------------------------------------------------- */

static tl_code scalar_param(ox_ctx *c, const char *name, float v, int *id) {
  ox_tensor *t = NULL;
  TL_TRY(ox_tensor_new(OX_F32, 0, NULL, &t, c->st));
  t->f[0] = v;
  tl_code rc = ox_param(c, name, TL_PARAM_CONSTANT, t, id);
  ox_tensor_free(t);
  return rc;
}

/* A' (transposed when transA) and A'B' as a node: linear when B is a float constant */
static tl_code gemm_product(ox_ctx *c, const Onnx__NodeProto *n, int64_t ta, int64_t tb, int *y, int *lin,
                            int64_t *N) {
  ox_value *a = NULL, *b = NULL;
  TL_TRY(ox_input(c, n, 0, &a));
  TL_TRY(ox_input(c, n, 1, &b));
  if (!a || !b)
    return ox_fail(c, n, TL_EFORMAT, "Gemm needs inputs A and B");
  int ra, rb, x;
  const int64_t *sa, *sb;
  ox_shape(c, a, &ra, &sa);
  ox_shape(c, b, &rb, &sb);
  if (ra != 2 || rb != 2)
    return ox_fail(c, n, TL_ESHAPE, "Gemm wants 2-D A and B (ranks %d and %d)", ra, rb);
  if (sa[ta ? 0 : 1] != sb[tb ? 1 : 0])
    return ox_fail(c, n, TL_ESHAPE, "Gemm inner sizes %lld and %lld differ", (long long)sa[ta ? 0 : 1],
                   (long long)sb[tb ? 1 : 0]);
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  tl_attrs perm = tl_attrs_default(TL_OP_PERMUTE);
  int64_t swap[2] = {1, 0};
  perm.nlist = 2, perm.list = swap;
  if (ta)
    TL_TRY(ox_op(c, TL_OP_PERMUTE, 1, &x, &perm, &x));
  *N = sb[tb ? 0 : 1];
  if (b->c && b->c->dt == OX_F32) { /* linear(A', W) with W = B' ^T: B itself when transB */
    int w;
    TL_TRY(weight_param(c, b->name, b->c, tb ? 0 : 1, &w));
    int p[2] = {x, w};
    *lin = 1;
    return ox_op(c, TL_OP_LINEAR, 2, p, NULL, y);
  }
  int p[2] = {x, -1};
  TL_TRY(ox_input_node(c, n, 1, TL_PARAM_CONSTANT, &p[1]));
  if (tb)
    TL_TRY(ox_op(c, TL_OP_PERMUTE, 1, &p[1], &perm, &p[1]));
  *lin = 0;
  return ox_op(c, TL_OP_MATMUL, 2, p, NULL, y);
}

tl_code ox_map_gemm(ox_ctx *c, const Onnx__NodeProto *n) {
  int64_t ta, tb, N = 0;
  float alpha, beta;
  TL_TRY(ox_attr_int(c, n, "transA", 0, &ta));
  TL_TRY(ox_attr_int(c, n, "transB", 0, &tb));
  TL_TRY(ox_attr_float(c, n, "alpha", 1.0f, &alpha));
  TL_TRY(ox_attr_float(c, n, "beta", 1.0f, &beta));
  ox_value *cv = NULL;
  TL_TRY(ox_input(c, n, 2, &cv));
  int y, lin = 0;
  TL_TRY(gemm_product(c, n, ta, tb, &y, &lin, &N));
  if (alpha != 1.0f) { /* alpha (A'B'): one rounded product per element */
    int s, p[2] = {y, -1};
    TL_TRY(scalar_param(c, "gemm_alpha", alpha, &s));
    p[1] = s;
    TL_TRY(ox_op(c, TL_OP_MUL, 2, p, NULL, &y));
  }
  if (cv) {
    int cid;
    if (cv->c && cv->c->dt == OX_F32 && beta != 1.0f) { /* beta C folded: the same float32 products */
      ox_tensor *t = NULL;
      TL_TRY(ox_tensor_copy_shape(OX_F32, cv->c->ndim, cv->c->shape, cv->c->numel, &t, c->st));
      for (int64_t k = 0; k < t->numel; k++)
        t->f[k] = beta * cv->c->f[k];
      tl_code rc = ox_param(c, cv->name, TL_PARAM_TRAINABLE, t, &cid);
      ox_tensor_free(t);
      TL_TRY(rc);
    } else if (beta != 1.0f) {
      return ox_fail(c, n, TL_EUNSUPPORTED, "Gemm with beta != 1 and C computed at run time");
    } else if (lin && alpha == 1.0f && cv->c && bias_like(cv->c, N, 2)) { /* bias joins the linear */
      int w = c->g->nodes[y].parents[1], x = c->g->nodes[y].parents[0], b;
      tl_graph_truncate(c->g, y); /* drop the bias-less linear just added (the last node) */
      TL_TRY(bias_param(c, cv->name, cv->c, N, &b));
      int p[3] = {x, w, b};
      TL_TRY(ox_op(c, TL_OP_LINEAR, 3, p, NULL, &y));
      return ox_bind_node(c, n, 0, y);
    } else {
      TL_TRY(ox_input_node(c, n, 2, TL_PARAM_TRAINABLE, &cid));
    }
    int p[2] = {y, cid};
    TL_TRY(ox_op(c, TL_OP_ADD, 2, p, NULL, &y));
  }
  return ox_bind_node(c, n, 0, y);
}

/* ---- elementwise ------------------------------------------------------------------------------ */

/* y = a (op) b with numpy broadcasting (Add, Sub, Mul, Div, Max, Min of two inputs) */
tl_code ox_map_binary(ox_ctx *c, const Onnx__NodeProto *n) {
  static const struct {
    const char *name;
    tl_op op;
  } ops[] = {{"Add", TL_OP_ADD}, {"Sub", TL_OP_SUB}, {"Mul", TL_OP_MUL},
             {"Div", TL_OP_DIV}, {"Max", TL_OP_MAX}, {"Min", TL_OP_MIN}};
  tl_op op = TL_OP_COUNT;
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (strcmp(n->op_type, ops[i].name) == 0)
      op = ops[i].op;
  if (n->n_input != 2)
    return ox_fail(c, n, TL_EUNSUPPORTED, "%zu inputs (two are imported)", n->n_input);
  TL_TRY(ox_attr_absent(c, n, "broadcast"));
  int p[2], id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &p[0]));
  TL_TRY(ox_input_node(c, n, 1, TL_PARAM_CONSTANT, &p[1]));
  TL_TRY(ox_op(c, op, 2, p, NULL, &id));
  return ox_bind_node(c, n, 0, id);
}

/* y = f(x) elementwise: Relu max(x,0), Sigmoid 1/(1+e^-x), Tanh, Neg -x, Abs |x|, Sqrt, Exp, Log */
tl_code ox_map_unary(ox_ctx *c, const Onnx__NodeProto *n) {
  static const struct {
    const char *name;
    tl_op op;
  } ops[] = {{"Relu", TL_OP_RELU}, {"Sigmoid", TL_OP_SIGMOID}, {"Tanh", TL_OP_TANH}, {"Neg", TL_OP_NEG},
             {"Abs", TL_OP_ABS},   {"Sqrt", TL_OP_SQRT},       {"Exp", TL_OP_EXP},   {"Log", TL_OP_LOG}};
  tl_op op = TL_OP_COUNT;
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (strcmp(n->op_type, ops[i].name) == 0)
      op = ops[i].op;
  int x, id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  TL_TRY(ox_op(c, op, 1, &x, NULL, &id));
  return ox_bind_node(c, n, 0, id);
}

/* y = x (x >= 0), alpha x (x < 0); alpha default 0.01 */
tl_code ox_map_leaky(ox_ctx *c, const Onnx__NodeProto *n) {
  float alpha;
  TL_TRY(ox_attr_float(c, n, "alpha", 0.01f, &alpha));
  tl_attrs a = tl_attrs_default(TL_OP_LEAKY_RELU);
  a.alpha = alpha;
  int x, id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  TL_TRY(ox_op(c, TL_OP_LEAKY_RELU, 1, &x, &a, &id));
  return ox_bind_node(c, n, 0, id);
}

/* a bound of Clip (input k from opset 11, attribute before): a float constant, or the default:
 * before opset 11 the attributes default to the largest finite floats, from 11 an absent bound is
 * no bound (def, +-inf) */
static tl_code clip_bound(ox_ctx *c, const Onnx__NodeProto *n, size_t k, const char *attr, float def,
                          float *out) {
  if (c->opset < 11)
    return ox_attr_float(c, n, attr, def < 0 ? -FLT_MAX : FLT_MAX, out);
  ox_value *v = NULL;
  TL_TRY(ox_input(c, n, k, &v));
  *out = def;
  if (!v)
    return TL_OK;
  if (!v->c || v->c->numel != 1 || v->c->dt != OX_F32)
    return ox_fail(c, n, TL_EUNSUPPORTED, "Clip bound '%.200s' is not a float constant scalar", v->name);
  *out = v->c->f[0];
  return TL_OK;
}

/* y = min(max(x, lo), hi) */
tl_code ox_map_clip(ox_ctx *c, const Onnx__NodeProto *n) {
  float lo, hi;
  TL_TRY(clip_bound(c, n, 1, "min", -INFINITY, &lo));
  TL_TRY(clip_bound(c, n, 2, "max", INFINITY, &hi));
  if (!(lo <= hi))
    return ox_fail(c, n, TL_EUNSUPPORTED, "Clip with min %g above max %g", (double)lo, (double)hi);
  tl_attrs a = tl_attrs_default(TL_OP_CLAMP);
  a.lo = lo, a.hi = hi;
  int x, id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  TL_TRY(ox_op(c, TL_OP_CLAMP, 1, &x, &a, &id));
  return ox_bind_node(c, n, 0, id);
}

/* softmax along axis (opset >= 13, default -1); before 13 over the flattened axes [axis, rank)
 * (default 1): reshape to (prod before, prod after), softmax on the last axis, reshape back */
tl_code ox_map_softmax(ox_ctx *c, const Onnx__NodeProto *n) {
  int x, id;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  const tl_node *xn = &c->g->nodes[x];
  int r = xn->ndim;
  int64_t axis;
  TL_TRY(ox_attr_int(c, n, "axis", c->opset >= 13 ? -1 : 1, &axis));
  if (axis < -r || axis >= r || r == 0)
    return ox_fail(c, n, TL_EFORMAT, "axis %lld out of range for rank %d", (long long)axis, r);
  if (axis < 0)
    axis += r;
  tl_attrs a = tl_attrs_default(TL_OP_SOFTMAX);
  if (c->opset >= 13 || axis == r - 1) {
    a.axis = axis;
    TL_TRY(ox_op(c, TL_OP_SOFTMAX, 1, &x, &a, &id));
    return ox_bind_node(c, n, 0, id);
  }
  int64_t shape[OX_MAXDIM], two[2] = {1, 1};
  memcpy(shape, xn->shape, (size_t)r * sizeof *shape);
  for (int k = 0; k < r; k++)
    two[k >= axis] *= shape[k];
  int f;
  TL_TRY(ox_reshape(c, x, 2, two, &f));
  a.axis = 1;
  TL_TRY(ox_op(c, TL_OP_SOFTMAX, 1, &f, &a, &id));
  TL_TRY(ox_reshape(c, id, r, shape, &id));
  return ox_bind_node(c, n, 0, id);
}

tl_code ox_only_first_output(ox_ctx *c, const Onnx__NodeProto *n) {
  for (size_t k = 1; k < n->n_output; k++) {
    ox_value *v = n->output[k][0] ? ox_find(c, n->output[k]) : NULL;
    if (v && v->uses)
      return ox_fail(c, n, TL_EUNSUPPORTED, "output %zu ('%.200s') is used (only output 0 is imported)", k,
                     n->output[k]);
  }
  return TL_OK;
}

/* y = x (the value is shared, no node) */
tl_code ox_map_identity(ox_ctx *c, const Onnx__NodeProto *n) {
  int x;
  TL_TRY(ox_input_node(c, n, 0, TL_PARAM_CONSTANT, &x));
  return ox_bind_node(c, n, 0, x);
}

/* inference: y = x (training_mode must be absent or a false constant; the mask output unused) */
tl_code ox_map_dropout(ox_ctx *c, const Onnx__NodeProto *n) {
  TL_TRY(ox_only_first_output(c, n));
  ox_value *tm = NULL;
  TL_TRY(ox_input(c, n, 2, &tm));
  if (tm && (!tm->c || tm->c->numel != 1 || ox_tensor_num(tm->c, 0) != 0))
    return ox_fail(c, n, TL_EUNSUPPORTED, "Dropout in training mode");
  return ox_map_identity(c, n);
}

/* Cast to float32 of a float32 value: y = x */
tl_code ox_map_cast(ox_ctx *c, const Onnx__NodeProto *n) {
  int64_t to;
  TL_TRY(ox_attr_int(c, n, "to", 0, &to));
  if (to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return ox_fail(c, n, TL_EUNSUPPORTED,
                   "Cast to data type %lld of a run-time value (only float32 -> float32)", (long long)to);
  return ox_map_identity(c, n);
}

/* ---- the table -------------------------------------------------------------------------------- */
ox_mapper ox_mapper_for(const char *op_type) {
  static const struct {
    const char *name;
    ox_mapper fn;
  } table[] = {
      {"MatMul", ox_map_matmul},
      {"Gemm", ox_map_gemm},
      {"Add", ox_map_binary},
      {"Sub", ox_map_binary},
      {"Mul", ox_map_binary},
      {"Div", ox_map_binary},
      {"Max", ox_map_binary},
      {"Min", ox_map_binary},
      {"Relu", ox_map_unary},
      {"Sigmoid", ox_map_unary},
      {"Tanh", ox_map_unary},
      {"Neg", ox_map_unary},
      {"Abs", ox_map_unary},
      {"Sqrt", ox_map_unary},
      {"Exp", ox_map_unary},
      {"Log", ox_map_unary},
      {"LeakyRelu", ox_map_leaky},
      {"Clip", ox_map_clip},
      {"Softmax", ox_map_softmax},
      {"Identity", ox_map_identity},
      {"Dropout", ox_map_dropout},
      {"Cast", ox_map_cast},
      {"Flatten", ox_map_flatten},
      {"Reshape", ox_map_reshape},
      {"Transpose", ox_map_transpose},
      {"Squeeze", ox_map_squeeze},
      {"Unsqueeze", ox_map_unsqueeze},
      {"Concat", ox_map_concat},
      {"Pad", ox_map_pad},
      {"Slice", ox_map_slice},
      {"Conv", ox_map_conv},
      {"BatchNormalization", ox_map_batchnorm},
      {"MaxPool", ox_map_pool},
      {"AveragePool", ox_map_pool},
      {"GlobalAveragePool", ox_map_gap},
      {"ReduceSum", ox_map_reduce},
      {"ReduceMean", ox_map_reduce},
      {"Gather", ox_map_gather},
  };
  for (size_t i = 0; i < sizeof table / sizeof *table; i++)
    if (strcmp(table[i].name, op_type) == 0)
      return table[i].fn;
  return NULL;
}
