/* interop/onnx_export_decomp.c - ops that opset 13 has no single node for, written as several
 * opset-13 nodes computing the same real function, in the kernel's order of float operations
 * (runtime/kernels/ew_math.h, norm.c, misc.c) so that an importer that maps each node back to
 * our op gets the kernel's bits wherever the kernel is a sequence of rounded scalar steps. */
#include <math.h>
#include <stdio.h>

#include "interop/onnx_export_internal.h"

#define NODE(id) (&x->g->nodes[id])
#define OUT (x->tname[id])

/* out = op_type(a, b) */
static const char *bin(oe *x, const char *op_type, const char *out, const char *a, const char *b) {
  const char *in[2] = {a, b};
  return oe_node(x, op_type, out, 2, in) ? out : NULL;
}

static const char *un(oe *x, const char *op_type, const char *out, const char *a) {
  const char *in[1] = {a};
  return oe_node(x, op_type, out, 1, in) ? out : NULL;
}

/* the node written last (for its attributes), NULL after a failure */
static Onnx__NodeProto *last(oe *x) {
  return x->err == TL_OK && x->nodes.n ? x->nodes.v[x->nodes.n - 1] : NULL;
}

/* gelu (tanh form, as tl_ew_gelu evaluates it left to right):
 * u = c ((x + ((0.044715 x) x) x)), y = (0.5 x) (1 + tanh u), c = sqrt(2/pi) rounded to float32 */
tl_code oe_gelu(oe *x, int id) {
  const char *v = oe_in(x, id, 0);
  const char *k = oe_const_f32(x, id, "k", 0.044715f), *c = oe_const_f32(x, id, "c", 0.7978845608028654f);
  const char *half = oe_const_f32(x, id, "half", 0.5f), *one = oe_const_f32(x, id, "one", 1.0f);
  const char *t = bin(x, "Mul", oe_tmp(x, id, "kx"), k, v);
  t = bin(x, "Mul", oe_tmp(x, id, "kx2"), t, v);
  t = bin(x, "Mul", oe_tmp(x, id, "kx3"), t, v);
  t = bin(x, "Add", oe_tmp(x, id, "inner"), v, t);
  t = bin(x, "Mul", oe_tmp(x, id, "u"), c, t);
  t = un(x, "Tanh", oe_tmp(x, id, "tanh"), t);
  t = bin(x, "Add", oe_tmp(x, id, "one_plus"), one, t);
  const char *h = bin(x, "Mul", oe_tmp(x, id, "half_x"), half, v);
  bin(x, "Mul", OUT, h, t);
  return x->err;
}

/* silu: y = x sigmoid(x) */
tl_code oe_silu(oe *x, int id) {
  const char *v = oe_in(x, id, 0);
  bin(x, "Mul", OUT, v, un(x, "Sigmoid", oe_tmp(x, id, "sigmoid"), v));
  return x->err;
}

/* layer norm over the last axis (biased variance), as kernels/norm.c:
 * m = mean x, d = x - m, v = mean d d, r = sqrt(v + eps), y = ((d / r) gamma) + beta */
tl_code oe_layer_norm(oe *x, int id) {
  const tl_node *n = NODE(id);
  int64_t axis = -1;
  const char *v = oe_in(x, id, 0), *eps = oe_const_f32(x, id, "eps", (float)n->attrs.eps);
  const char *m = un(x, "ReduceMean", oe_tmp(x, id, "mean"), v);
  oe_attr_ints(x, last(x), "axes", 1, &axis);
  oe_attr_int(x, last(x), "keepdims", 1);
  const char *d = bin(x, "Sub", oe_tmp(x, id, "centered"), v, m);
  const char *dd = bin(x, "Mul", oe_tmp(x, id, "squared"), d, d);
  const char *var = un(x, "ReduceMean", oe_tmp(x, id, "var"), dd);
  oe_attr_ints(x, last(x), "axes", 1, &axis);
  oe_attr_int(x, last(x), "keepdims", 1);
  const char *r = un(x, "Sqrt", oe_tmp(x, id, "std"), bin(x, "Add", oe_tmp(x, id, "var_eps"), var, eps));
  const char *y = bin(x, "Div", n->nparents > 1 ? oe_tmp(x, id, "normalized") : OUT, d, r);
  if (n->nparents > 1)
    y = bin(x, "Mul", n->nparents > 2 ? oe_tmp(x, id, "scaled") : OUT, y, oe_in(x, id, 1));
  if (n->nparents > 2)
    bin(x, "Add", OUT, y, oe_in(x, id, 2));
  return x->err;
}

/* out = MatMul(a, Transpose(w)) + b  (a linear layer with weight (out, in)) */
static const char *project(oe *x, int id, const char *what, const char *a, int w, int b, const char *out) {
  char nm[64];
  int64_t perm[2] = {1, 0};
  snprintf(nm, sizeof nm, "%s_weight_t", what);
  const char *wt = un(x, "Transpose", oe_tmp(x, id, nm), oe_in(x, id, w));
  oe_attr_ints(x, last(x), "perm", 2, perm);
  snprintf(nm, sizeof nm, "%s_matmul", what);
  const char *mm = bin(x, "MatMul", oe_tmp(x, id, nm), a, wt);
  return bin(x, "Add", out, mm, oe_in(x, id, b));
}

/* one third of qkv (N, L, 3E) as heads (N, H, L, dh), or (N, H, dh, L) for the keys */
static const char *heads(oe *x, int id, const char *qkv, int part, const char *shape4) {
  static const char *names[3] = {"q", "k", "v"};
  int64_t E = NODE(id)->shape[2], start = part * E, end = start + E, axis = 2;
  int64_t perm[4] = {0, 2, 1, 3}, kperm[4] = {0, 2, 3, 1};
  char nm[32];
  snprintf(nm, sizeof nm, "%s_starts", names[part]);
  const char *in[4] = {qkv, oe_const_i64(x, id, nm, 1, &start), NULL, NULL};
  snprintf(nm, sizeof nm, "%s_ends", names[part]);
  in[2] = oe_const_i64(x, id, nm, 1, &end);
  snprintf(nm, sizeof nm, "%s_axes", names[part]);
  in[3] = oe_const_i64(x, id, nm, 1, &axis);
  const char *s = oe_tmp(x, id, names[part]);
  oe_node(x, "Slice", s, 4, in);
  snprintf(nm, sizeof nm, "%s_split", names[part]);
  const char *r = bin(x, "Reshape", oe_tmp(x, id, nm), s, shape4);
  snprintf(nm, sizeof nm, "%s_heads", names[part]);
  const char *t = un(x, "Transpose", oe_tmp(x, id, nm), r);
  oe_attr_ints(x, last(x), "perm", 4, part == 1 ? kperm : perm);
  return t;
}

/* (L, L) additive mask: 0 where j <= i, -inf where j > i (exp gives exactly 0 weight there) */
static const char *causal_mask(oe *x, int id, int64_t L) {
  float *mask = oe_alloc(x, (size_t)(L * L > 0 ? L * L : 1) * sizeof *mask);
  const char *name = oe_tmp(x, id, "causal_mask");
  if (!mask || !name)
    return NULL;
  for (int64_t i = 0; i < L; i++)
    for (int64_t j = 0; j < L; j++)
      mask[i * L + j] = j > i ? -INFINITY : 0.0f;
  int64_t dims[2] = {L, L};
  return oe_initializer(x, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims, mask) == TL_OK ? name : NULL;
}

/* multi-head self-attention on x (N, L, E), parents x, W_in (3E, E), b_in, W_out (E, E), b_out:
 * qkv = x W_in^T + b_in; per head S = Q K^T / fl(sqrt(dh)) [+ causal mask]; P = softmax(S) along
 * the keys; O = P V, heads concatenated; y = O W_out^T + b_out (the f32-ref definition) */
tl_code oe_attention(oe *x, int id) {
  const tl_node *n = NODE(id);
  int64_t E = n->shape[2], L = n->shape[1], H = n->attrs.heads, dh = E / H;
  int64_t s4[4] = {0, 0, H, dh}, s3[3] = {0, 0, E}, perm[4] = {0, 2, 1, 3}, axis = 3;
  const char *shape4 = oe_const_i64(x, id, "head_shape", 4, s4);
  const char *qkv = project(x, id, "in_proj", oe_in(x, id, 0), 1, 2, oe_tmp(x, id, "qkv"));
  const char *q = heads(x, id, qkv, 0, shape4), *k = heads(x, id, qkv, 1, shape4);
  const char *v = heads(x, id, qkv, 2, shape4);
  const char *s = bin(x, "MatMul", oe_tmp(x, id, "scores_raw"), q, k);
  s = bin(x, "Div", oe_tmp(x, id, "scores"), s, oe_const_f32(x, id, "sqrt_dh", sqrtf((float)dh)));
  if (n->attrs.causal)
    s = bin(x, "Add", oe_tmp(x, id, "scores_masked"), s, causal_mask(x, id, L));
  const char *p = un(x, "Softmax", oe_tmp(x, id, "weights"), s);
  oe_attr_int(x, last(x), "axis", axis);
  const char *o = bin(x, "MatMul", oe_tmp(x, id, "heads_out"), p, v);
  o = un(x, "Transpose", oe_tmp(x, id, "heads_t"), o);
  oe_attr_ints(x, last(x), "perm", 4, perm);
  o = bin(x, "Reshape", oe_tmp(x, id, "merged"), o, oe_const_i64(x, id, "merged_shape", 3, s3));
  project(x, id, "out_proj", o, 3, 4, OUT);
  return x->err;
}
