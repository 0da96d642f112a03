/* test_ops_harness.c - every op on both kernel sets, in the style of ggml's test-backend-ops:
 * random shapes and attributes from a seeded tl_rng; forward against a double reference
 * (tests/support/refexec.c); VJP against central differences of that double reference; eager
 * and compiled results bit-identical (forward and gradients). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opcases.h"
#include "refexec.h"
#include "torchlean/exec.h"
#include "torchlean/rand.h"

typedef struct result {
  float *y, *g[5];
} result;

static void run_exec(tl_graph *g, const tcase *c, const int *ids, int out, float **vals, const float *seed,
                     tl_exec_mode mode, tl_kernels kern, result *res) {
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode, o.kernels = kern, o.training = c->training, o.seed = 77;
  tl_exec *e;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK);
  for (int k = 0; k < c->np; k++)
    cr_assert_eq(tl_exec_set_input(e, ids[k], vals[k], &st), TL_OK, "%s", st.msg);
  if (mode == TL_COMPILED)
    cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
  const float *y = tl_exec_value(e, out);
  cr_assert_not_null(y);
  int64_t ny = g->nodes[out].numel;
  res->y = malloc(sizeof(float) * (size_t)(ny ? ny : 1));
  memcpy(res->y, y, sizeof(float) * (size_t)ny);
  cr_assert_eq(tl_exec_backward(e, out, seed, &st), TL_OK, "%s", st.msg);
  for (int k = 0; k < c->np; k++) {
    int64_t n = g->nodes[ids[k]].numel;
    res->g[k] = calloc((size_t)(n ? n : 1), sizeof(float));
    const float *gr = tl_exec_grad(e, ids[k]);
    if (gr)
      memcpy(res->g[k], gr, sizeof(float) * (size_t)n);
  }
  tl_exec_free(e);
}

static void free_result(result *r, int np) {
  free(r->y);
  for (int k = 0; k < np; k++)
    free(r->g[k]);
}

static int bits_equal(const float *a, const float *b, int64_t n) {
  return memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

static void check_case(const tcase *c, tl_rng *r, int rep) {
  tl_graph *g = tl_graph_new();
  tl_status st;
  int ids[5];
  for (int k = 0; k < c->np; k++) {
    char nm[8] = {'i', 'n', (char)('0' + k), 0};
    cr_assert_eq(tl_graph_input(g, nm, c->nd[k], c->sh[k], &ids[k], &st), TL_OK, "%s", st.msg);
  }
  int out;
  cr_assert_eq(tl_graph_op(g, c->op, c->np, ids, &c->a, &out, &st), TL_OK, "op %s: %s",
               tl_op_get(c->op)->name, st.msg);
  const char *name = tl_op_get(c->op)->name;
  float *vals[5];
  double *dv[5];
  for (int k = 0; k < c->np; k++) {
    int64_t n = g->nodes[ids[k]].numel;
    vals[k] = malloc(sizeof(float) * (size_t)n);
    dv[k] = malloc(sizeof(double) * (size_t)n);
    opcase_fill(r, c, k, vals[k], n);
    for (int64_t i = 0; i < n; i++)
      dv[k][i] = vals[k][i];
  }
  int64_t ny = g->nodes[out].numel;
  float *seed = malloc(sizeof(float) * (size_t)ny);
  for (int64_t i = 0; i < ny; i++)
    seed[i] = (float)(2 * tl_rng_uniform(r) - 1);
  double *yref = malloc(sizeof(double) * (size_t)ny), *yp = malloc(sizeof(double) * (size_t)ny);
  cr_assert_eq(ref_node(g, out, c->training, 77, 0, dv, yref), 0);
  for (int kern = 0; kern < 2; kern++) {
    result re, rc;
    run_exec(g, c, ids, out, vals, seed, TL_EAGER, (tl_kernels)kern, &re);
    run_exec(g, c, ids, out, vals, seed, TL_COMPILED, (tl_kernels)kern, &rc);
    cr_assert(bits_equal(re.y, rc.y, ny), "%s rep %d kern %d: eager and compiled forward differ", name, rep,
              kern);
    for (int k = 0; k < c->np; k++)
      cr_assert(bits_equal(re.g[k], rc.g[k], g->nodes[ids[k]].numel),
                "%s rep %d: eager/compiled grad %d differ", name, rep, k);
    for (int64_t i = 0; i < ny; i++)
      cr_assert(fabs(re.y[i] - yref[i]) <= c->tol_fwd * (1 + fabs(yref[i])),
                "%s rep %d kern %d: y[%lld] = %.9g, ref %.9g", name, rep, kern, (long long)i, re.y[i],
                yref[i]);
    /* VJP against central differences of the double reference */
    for (int k = 0; k < c->np; k++) {
      if (c->nograd[k])
        continue;
      int64_t n = g->nodes[ids[k]].numel;
      for (int64_t j = 0; j < n; j++) {
        double h = 1e-5 * fmax(1.0, fabs(dv[k][j])), x0 = dv[k][j], fp = 0, fm = 0;
        dv[k][j] = x0 + h;
        ref_node(g, out, c->training, 77, 0, dv, yp);
        for (int64_t i = 0; i < ny; i++)
          fp += seed[i] * yp[i];
        dv[k][j] = x0 - h;
        ref_node(g, out, c->training, 77, 0, dv, yp);
        for (int64_t i = 0; i < ny; i++)
          fm += seed[i] * yp[i];
        dv[k][j] = x0;
        double num = (fp - fm) / (2 * h);
        cr_assert(fabs(re.g[k][j] - num) <= c->tol_grad * (1 + fabs(num)),
                  "%s rep %d kern %d: grad of input %d [%lld] = %.7g, central difference %.7g", name, rep,
                  kern, k, (long long)j, re.g[k][j], num);
      }
    }
    free_result(&re, c->np);
    free_result(&rc, c->np);
  }
  for (int k = 0; k < c->np; k++) {
    free(vals[k]);
    free(dv[k]);
  }
  free(seed);
  free(yref);
  free(yp);
  tl_graph_free(g);
}

Test(ops_harness, every_op_both_kernel_sets_eager_equals_compiled) {
  tl_rng r;
  tl_rng_init(&r, 2024);
  for (int op = TL_OP_LINEAR; op < TL_OP_COUNT; op++)
    for (int rep = 0; rep < 4; rep++) {
      tcase c;
      opcase_make((tl_op)op, &r, &c);
      check_case(&c, &r, rep);
    }
}

Test(ops_harness, relu_signed_zero_and_nan_semantics) {
  tl_graph *g = tl_graph_new();
  int64_t s[1] = {4};
  int x, y, mx;
  tl_graph_input(g, "x", 1, s, &x, NULL);
  tl_graph_op(g, TL_OP_RELU, 1, &x, NULL, &y, NULL);
  int p[2] = {x, x};
  tl_graph_op(g, TL_OP_MAX, 2, p, NULL, &mx, NULL);
  tl_exec *e;
  tl_exec_new(&e, g, NULL, NULL);
  float v[4] = {-0.0f, 0.0f, NAN, -1.0f};
  tl_exec_set_input(e, x, v, NULL);
  cr_assert_eq(tl_exec_forward(e, NULL), TL_OK);
  const float *ry = tl_exec_value(e, y);
  cr_assert(ry[0] == 0 && !signbit(ry[0]), "relu(-0) must be +0");
  cr_assert(isnan(ry[2]));
  cr_assert(isnan(tl_exec_value(e, mx)[2]));
  float seed[4] = {1, 1, 1, 1};
  cr_assert_eq(tl_exec_backward(e, y, seed, NULL), TL_OK);
  cr_assert_eq(tl_exec_grad(e, x)[1], 0.0f, "relu'(0) = 0");
  tl_exec_free(e);
  tl_graph_free(g);
}

/* FAST 2x2 max pool (SSE2 + overlapping tail, assigning backward) picks the same elements as the
 * REF kernel, with many ties and NaNs, forward values and input cotangents bit for bit */
static void pool_run(tl_kernels kern, const float *xv, int64_t n, float *y, float *gx, int64_t ny) {
  tl_graph *g = tl_graph_new();
  int64_t s[4] = {2, 3, 10, 18};
  int x, h, out;
  tl_graph_input(g, "x", 4, s, &x, NULL);
  tl_graph_op(g, TL_OP_NEG, 1, &x, NULL, &h, NULL); /* h's cotangent has one writer: the pool */
  tl_attrs a;
  memset(&a, 0, sizeof a);
  a.kernel[0] = a.kernel[1] = 2, a.stride[0] = a.stride[1] = 2, a.dilation[0] = a.dilation[1] = 1;
  cr_assert_eq(tl_graph_op(g, TL_OP_MAX_POOL2D, 1, &h, &a, &out, NULL), TL_OK);
  cr_assert_eq(g->nodes[out].numel, ny);
  tl_exec_opts o = tl_exec_opts_default();
  o.kernels = kern;
  tl_exec *e;
  cr_assert_eq(tl_exec_new(&e, g, &o, NULL), TL_OK);
  tl_exec_set_input(e, x, xv, NULL);
  cr_assert_eq(tl_exec_forward(e, NULL), TL_OK);
  memcpy(y, tl_exec_value(e, out), sizeof(float) * (size_t)ny);
  float *seed = malloc(sizeof(float) * (size_t)ny);
  for (int64_t i = 0; i < ny; i++)
    seed[i] = (float)(i % 7) - 3.0f; /* includes 0 */
  cr_assert_eq(tl_exec_backward(e, out, seed, NULL), TL_OK);
  memcpy(gx, tl_exec_grad(e, x), sizeof(float) * (size_t)n);
  free(seed);
  tl_exec_free(e);
  tl_graph_free(g);
}

Test(ops_harness, maxpool2x2_fast_equals_ref_with_ties_and_nans) {
  tl_rng r;
  tl_rng_init(&r, 77);
  int64_t n = 2 * 3 * 10 * 18, ny = 2 * 3 * 5 * 9;
  float *x = malloc(sizeof(float) * (size_t)n), *y[2], *gx[2];
  const float vals[5] = {-1.0f, 0.0f, 1.0f, 2.0f, NAN};
  for (int rep = 0; rep < 8; rep++) {
    for (int64_t i = 0; i < n; i++)
      x[i] = vals[tl_rng_below(&r, rep < 4 ? 5 : 4)];
    for (int k = 0; k < 2; k++) {
      y[k] = malloc(sizeof(float) * (size_t)ny), gx[k] = malloc(sizeof(float) * (size_t)n);
      pool_run((tl_kernels)k, x, n, y[k], gx[k], ny);
    }
    cr_assert(bits_equal(y[0], y[1], ny), "max pool forward FAST != REF (rep %d)", rep);
    cr_assert(bits_equal(gx[0], gx[1], n), "max pool backward FAST != REF (rep %d)", rep);
    for (int k = 0; k < 2; k++)
      free(y[k]), free(gx[k]);
  }
  free(x);
}
