/* exec/ctx.c - the tl_ctx builders: record a node and, in eager mode, run it at once.
 * Errors are sticky: after the first failure every builder returns -1 and does nothing. */
#include <string.h>

#include "exec/exec_internal.h"

void tl_ctx_init(tl_ctx *c, tl_graph *g, tl_exec *exec) {
  c->g = g;
  c->exec = exec;
  c->err = TL_OK;
  tl_status_clear(&c->st);
}

int tl_input(tl_ctx *c, const char *name, int ndim, const int64_t *shape) {
  if (c->err)
    return -1;
  int id = -1;
  c->err = tl_graph_input(c->g, name, ndim, shape, &id, &c->st);
  return c->err ? -1 : id;
}

int tl_op_node(tl_ctx *c, tl_op op, int nparents, const int *parents, const tl_attrs *attrs) {
  if (c->err)
    return -1;
  int id = -1;
  c->err = tl_graph_op(c->g, op, nparents, parents, attrs, &id, &c->st);
  if (c->err)
    return -1;
  if (c->exec && !tl_exec_is_compiled(c->exec)) {
    c->err = tl_exec_run_node(c->exec, id, &c->st);
    if (c->err)
      return -1;
  }
  return id;
}

static int op1(tl_ctx *c, tl_op op, int x, const tl_attrs *a) { return tl_op_node(c, op, 1, &x, a); }
static int op2(tl_ctx *c, tl_op op, int x, int y, const tl_attrs *a) {
  int p[2] = {x, y};
  return tl_op_node(c, op, 2, p, a);
}

int tl_linear(tl_ctx *c, int x, int w, int b) {
  int p[3] = {x, w, b};
  return tl_op_node(c, TL_OP_LINEAR, b >= 0 ? 3 : 2, p, NULL);
}
int tl_matmul(tl_ctx *c, int a, int b) { return op2(c, TL_OP_MATMUL, a, b, NULL); }
int tl_add(tl_ctx *c, int a, int b) { return op2(c, TL_OP_ADD, a, b, NULL); }
int tl_sub(tl_ctx *c, int a, int b) { return op2(c, TL_OP_SUB, a, b, NULL); }
int tl_mul(tl_ctx *c, int a, int b) { return op2(c, TL_OP_MUL, a, b, NULL); }
int tl_div(tl_ctx *c, int a, int b) { return op2(c, TL_OP_DIV, a, b, NULL); }
int tl_unary(tl_ctx *c, tl_op op, int x) { return op1(c, op, x, NULL); }
int tl_relu(tl_ctx *c, int x) { return op1(c, TL_OP_RELU, x, NULL); }

int tl_leaky_relu(tl_ctx *c, int x, double alpha) {
  tl_attrs a = tl_attrs_default(TL_OP_LEAKY_RELU);
  a.alpha = alpha;
  return op1(c, TL_OP_LEAKY_RELU, x, &a);
}

int tl_softmax(tl_ctx *c, int x, int axis) {
  tl_attrs a = tl_attrs_default(TL_OP_SOFTMAX);
  a.axis = axis;
  return op1(c, TL_OP_SOFTMAX, x, &a);
}

int tl_log_softmax(tl_ctx *c, int x, int axis) {
  tl_attrs a = tl_attrs_default(TL_OP_LOG_SOFTMAX);
  a.axis = axis;
  return op1(c, TL_OP_LOG_SOFTMAX, x, &a);
}

int tl_reshape(tl_ctx *c, int x, int ndim, const int64_t *shape) {
  tl_attrs a = tl_attrs_default(TL_OP_RESHAPE);
  a.nlist = ndim;
  a.list = (int64_t *)shape; /* copied by tl_graph_op */
  return op1(c, TL_OP_RESHAPE, x, &a);
}

int tl_flatten(tl_ctx *c, int x, int start, int end) {
  tl_attrs a = tl_attrs_default(TL_OP_FLATTEN);
  a.axis = start;
  a.axis_end = end;
  return op1(c, TL_OP_FLATTEN, x, &a);
}

int tl_conv2d(tl_ctx *c, int x, int w, int b, int stride, int padding, int dilation, int groups) {
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  a.stride[0] = a.stride[1] = stride;
  a.padding[0] = a.padding[1] = padding;
  a.dilation[0] = a.dilation[1] = dilation;
  a.groups = groups;
  int p[3] = {x, w, b};
  return tl_op_node(c, TL_OP_CONV2D, b >= 0 ? 3 : 2, p, &a);
}

static int pool(tl_ctx *c, tl_op op, int x, int kernel, int stride, int padding) {
  tl_attrs a = tl_attrs_default(op);
  a.kernel[0] = a.kernel[1] = kernel;
  a.stride[0] = a.stride[1] = stride > 0 ? stride : kernel; /* stride <= 0: the kernel size */
  a.padding[0] = a.padding[1] = padding;
  return op1(c, op, x, &a);
}
int tl_max_pool2d(tl_ctx *c, int x, int kernel, int stride, int padding) {
  return pool(c, TL_OP_MAX_POOL2D, x, kernel, stride, padding);
}
int tl_avg_pool2d(tl_ctx *c, int x, int kernel, int stride, int padding) {
  return pool(c, TL_OP_AVG_POOL2D, x, kernel, stride, padding);
}

int tl_dropout(tl_ctx *c, int x, double p) {
  tl_attrs a = tl_attrs_default(TL_OP_DROPOUT);
  a.p = p;
  return op1(c, TL_OP_DROPOUT, x, &a);
}

int tl_mse_loss(tl_ctx *c, int pred, int target) { return op2(c, TL_OP_MSE_LOSS, pred, target, NULL); }
int tl_cross_entropy(tl_ctx *c, int logits, int target) {
  return op2(c, TL_OP_CROSS_ENTROPY, logits, target, NULL);
}
