/* opcases.c - random test cases for every op (shapes, attributes, value kinds), shared by the
 * op harness (test_ops_harness.c) and the autograd tests (test_autograd.c). */
#include "opcases.h"

#include <criterion/criterion.h>
#include <string.h>

int64_t opcase_rint(tl_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)tl_rng_below(r, (uint64_t)(hi - lo + 1));
}

static void shp(tcase *c, int k, int nd, int64_t a, int64_t b, int64_t d, int64_t e) {
  int64_t s[4] = {a, b, d, e};
  c->nd[k] = nd;
  for (int i = 0; i < nd; i++)
    c->sh[k][i] = s[i];
}

/* random case for op */
void opcase_make(tl_op op, tl_rng *r, tcase *c) {
  memset(c, 0, sizeof *c);
  c->op = op;
  c->a = tl_attrs_default(op);
  c->tol_fwd = 2e-5;
  c->tol_grad = 2e-3;
  int64_t B = opcase_rint(r, 1, 3), D = opcase_rint(r, 1, 5), D2 = opcase_rint(r, 1, 4);
  switch (op) {
  case TL_OP_ADD:
  case TL_OP_SUB:
  case TL_OP_MUL:
  case TL_OP_DIV:
  case TL_OP_MAX:
  case TL_OP_MIN: {
    c->np = 2;
    shp(c, 0, 3, B, D, D2, 0);
    int v = (int)opcase_rint(r, 0, 3); /* same shape, row broadcast, scalar-like, leading-1 */
    if (v == 0)
      shp(c, 1, 3, B, D, D2, 0);
    else if (v == 1)
      shp(c, 1, 1, D2, 0, 0, 0);
    else if (v == 2)
      shp(c, 1, 3, 1, 1, 1, 0);
    else
      shp(c, 1, 3, 1, D, 1, 0);
    if (opcase_rint(r, 0, 1)) { /* swap operands */
      int nd = c->nd[0];
      int64_t t[5];
      memcpy(t, c->sh[0], sizeof t);
      c->nd[0] = c->nd[1];
      memcpy(c->sh[0], c->sh[1], sizeof t);
      c->nd[1] = nd;
      memcpy(c->sh[1], t, sizeof t);
    }
    if (op == TL_OP_DIV)
      c->kind[1] = V_POS;
    break;
  }
  case TL_OP_SQRT:
  case TL_OP_LOG:
    c->np = 1;
    shp(c, 0, 2, B, D, 0, 0);
    c->kind[0] = V_POS;
    break;
  case TL_OP_LEAKY_RELU: c->a.alpha = 0.1 + 0.3 * tl_rng_uniform(r); /* fallthrough */
  case TL_OP_NEG:
  case TL_OP_ABS:
  case TL_OP_EXP:
  case TL_OP_RELU:
  case TL_OP_SIGMOID:
  case TL_OP_TANH:
  case TL_OP_GELU:
  case TL_OP_SILU:
    c->np = 1;
    shp(c, 0, 3, B, D, D2, 0);
    break;
  case TL_OP_CLAMP:
    c->np = 1;
    shp(c, 0, 2, B, D, 0, 0);
    c->a.lo = -0.5;
    c->a.hi = 0.7;
    break;
  case TL_OP_SOFTMAX:
  case TL_OP_LOG_SOFTMAX:
    c->np = 1;
    shp(c, 0, 3, B, D + 1, D2, 0);
    c->a.axis = opcase_rint(r, -3, 2);
    break;
  case TL_OP_SUM:
  case TL_OP_MEAN:
    c->np = 1;
    shp(c, 0, 3, B, D, D2 + 1, 0);
    c->a.nlist = (int)opcase_rint(r, 0, 2);
    c->list[0] = opcase_rint(r, 0, 1);
    c->list[1] = 2;
    c->a.keepdim = opcase_rint(r, 0, 1);
    break;
  case TL_OP_RESHAPE:
    c->np = 1;
    shp(c, 0, 3, B, D, 2, 0);
    c->a.nlist = 2;
    c->list[0] = 2;
    c->list[1] = -1;
    break;
  case TL_OP_FLATTEN:
    c->np = 1;
    shp(c, 0, 4, B, D, 2, D2);
    c->a.axis = opcase_rint(r, 0, 1);
    c->a.axis_end = opcase_rint(r, 2, 3);
    break;
  case TL_OP_PERMUTE: {
    c->np = 1;
    shp(c, 0, 3, B + 1, D, D2 + 1, 0);
    int64_t perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int k = (int)opcase_rint(r, 0, 5);
    c->a.nlist = 3;
    memcpy(c->list, perms[k], sizeof perms[k]);
    break;
  }
  case TL_OP_CONCAT:
    c->np = 3;
    c->a.axis = opcase_rint(r, 0, 2);
    for (int k = 0; k < 3; k++) {
      shp(c, k, 3, B, D, D2, 0);
      c->sh[k][c->a.axis] = opcase_rint(r, 1, 3);
    }
    break;
  case TL_OP_SLICE:
    c->np = 1;
    shp(c, 0, 3, B, D + 3, D2, 0);
    c->a.axis = 1;
    c->a.start = opcase_rint(r, 0, 1);
    c->a.end = D + 3 - opcase_rint(r, 0, 1);
    c->a.step = opcase_rint(r, 1, 2);
    break;
  case TL_OP_LINEAR: {
    int64_t I = opcase_rint(r, 1, 7), O = opcase_rint(r, 1, 6);
    c->np = opcase_rint(r, 0, 3) ? 3 : 2;
    shp(c, 0, opcase_rint(r, 0, 1) ? 2 : 3, B, opcase_rint(r, 1, 3), I, 0);
    c->sh[0][c->nd[0] - 1] = I;
    shp(c, 1, 2, O, I, 0, 0);
    shp(c, 2, 1, O, 0, 0, 0);
    break;
  }
  case TL_OP_MATMUL: {
    int64_t M = opcase_rint(r, 1, 4), K = opcase_rint(r, 1, 5), N = opcase_rint(r, 1, 4);
    c->np = 2;
    if (opcase_rint(r, 0, 1)) {
      shp(c, 0, 2, M, K, 0, 0);
      shp(c, 1, 2, K, N, 0, 0);
    } else {
      shp(c, 0, 3, B, M, K, 0);
      shp(c, 1, opcase_rint(r, 0, 1) ? 3 : 2, 1, K, N, 0);
      if (c->nd[1] == 2) {
        c->sh[1][0] = K;
        c->sh[1][1] = N;
      }
    }
    break;
  }
  case TL_OP_CONV2D: {
    int64_t G = opcase_rint(r, 1, 2), Cg = opcase_rint(r, 1, 2), Og = opcase_rint(r, 1, 2),
            k0 = opcase_rint(r, 1, 3), k1 = opcase_rint(r, 1, 3);
    for (int i = 0; i < 2; i++) {
      c->a.stride[i] = opcase_rint(r, 1, 2);
      c->a.padding[i] = opcase_rint(r, 0, 1);
      c->a.dilation[i] = opcase_rint(r, 1, 2);
    }
    c->a.groups = G;
    c->np = opcase_rint(r, 0, 2) ? 3 : 2;
    shp(c, 0, 4, opcase_rint(r, 1, 2), G * Cg, opcase_rint(r, 5, 7), opcase_rint(r, 5, 7));
    shp(c, 1, 4, G * Og, Cg, k0, k1);
    shp(c, 2, 1, G * Og, 0, 0, 0);
    c->tol_grad = 3e-3;
    break;
  }
  case TL_OP_MAX_POOL2D:
  case TL_OP_AVG_POOL2D:
    c->np = 1;
    shp(c, 0, 4, B, opcase_rint(r, 1, 2), opcase_rint(r, 3, 6), opcase_rint(r, 3, 6));
    for (int i = 0; i < 2; i++) {
      c->a.kernel[i] = opcase_rint(r, 1, 3);
      c->a.stride[i] = opcase_rint(r, 1, 2);
      c->a.padding[i] = opcase_rint(r, 0, c->a.kernel[i] / 2);
      c->a.dilation[i] = 1;
    }
    break;
  case TL_OP_GLOBAL_AVG_POOL:
    c->np = 1;
    shp(c, 0, 4, B, D, opcase_rint(r, 1, 3), opcase_rint(r, 1, 3));
    break;
  case TL_OP_BATCH_NORM: {
    int64_t C = opcase_rint(r, 1, 3);
    c->np = 5;
    shp(c, 0, opcase_rint(r, 0, 1) ? 2 : 4, opcase_rint(r, 2, 4), C, 2, 2);
    for (int k = 1; k < 5; k++)
      shp(c, k, 1, C, 0, 0, 0);
    c->kind[4] = V_POS;
    c->training = (int)opcase_rint(r, 0, 1);
    c->nograd[3] = c->nograd[4] = c->training; /* running stats: not read in training */
    c->tol_grad = 5e-3;
    break;
  }
  case TL_OP_LAYER_NORM: {
    int64_t Dn = opcase_rint(r, 2, 6);
    c->np = (int)opcase_rint(r, 1, 3);
    shp(c, 0, 2, B, Dn, 0, 0);
    shp(c, 1, 1, Dn, 0, 0, 0);
    shp(c, 2, 1, Dn, 0, 0, 0);
    c->a.eps = 1e-5;
    c->tol_grad = 5e-3;
    break;
  }
  case TL_OP_DROPOUT:
    c->np = 1;
    shp(c, 0, 2, B, 6, 0, 0);
    c->a.p = 0.3;
    c->training = 1;
    break;
  case TL_OP_EMBEDDING:
    c->np = 2;
    shp(c, 0, 2, B, D, 0, 0);
    c->index_rows = opcase_rint(r, 1, 5);
    shp(c, 1, 2, c->index_rows, D2, 0, 0);
    c->kind[0] = V_INDEX;
    c->nograd[0] = 1;
    break;
  case TL_OP_ATTENTION: {
    int64_t H = opcase_rint(r, 1, 2), E = H * opcase_rint(r, 1, 3);
    c->np = 5;
    shp(c, 0, 3, opcase_rint(r, 1, 2), opcase_rint(r, 1, 4), E, 0);
    shp(c, 1, 2, 3 * E, E, 0, 0);
    shp(c, 2, 1, 3 * E, 0, 0, 0);
    shp(c, 3, 2, E, E, 0, 0);
    shp(c, 4, 1, E, 0, 0, 0);
    c->a.heads = H;
    c->a.causal = opcase_rint(r, 0, 1);
    c->tol_grad = 5e-3;
    break;
  }
  case TL_OP_MSE_LOSS:
    c->np = 2;
    shp(c, 0, 2, B, D, 0, 0);
    shp(c, 1, 2, B, D, 0, 0);
    break;
  case TL_OP_CROSS_ENTROPY:
    c->np = 2;
    shp(c, 0, 2, B, D + 1, 0, 0);
    shp(c, 1, 2, B, D + 1, 0, 0);
    c->kind[1] = V_PROB;
    break;
  default: cr_assert_fail("no case for op %d", (int)op);
  }
  if (c->a.nlist)
    c->a.list = c->list;
}

void opcase_fill(tl_rng *r, const tcase *c, int k, float *v, int64_t n) {
  int64_t last = c->sh[k][c->nd[k] - 1];
  for (int64_t i = 0; i < n; i++) {
    switch (c->kind[k]) {
    case V_POS: v[i] = (float)(0.5 + 1.5 * tl_rng_uniform(r)); break;
    case V_INDEX: v[i] = (float)tl_rng_below(r, (uint64_t)c->index_rows); break;
    case V_PROB: v[i] = (float)tl_rng_uniform(r); break;
    default: v[i] = (float)(2 * tl_rng_uniform(r) - 1);
    }
  }
  if (c->kind[k] == V_PROB) /* rows sum to 1 */
    for (int64_t i = 0; i < n; i += last) {
      float s = 0;
      for (int64_t j = 0; j < last; j++)
        s += v[i + j];
      for (int64_t j = 0; j < last; j++)
        v[i + j] /= s;
    }
}
