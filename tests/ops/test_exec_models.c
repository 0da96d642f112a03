/* test_exec_models.c - whole models eager vs compiled (bit-identical forward and gradients),
 * whole-model gradients against central differences of the double reference, autograd APIs
 * (JVP, Jacobian, HVP) and error reporting. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "refexec.h"
#include "torchlean/exec.h"
#include "torchlean/rand.h"

static int add_param(tl_graph *g, tl_rng *r, const char *name, int nd, const int64_t *shape, double scale) {
  int id;
  tl_status st;
  cr_assert_eq(tl_graph_param(g, name, TL_PARAM_TRAINABLE, nd, shape, NULL, &id, &st), TL_OK, "%s", st.msg);
  float *w = tl_graph_param_data(g, id);
  for (int64_t i = 0; i < g->nodes[id].numel; i++)
    w[i] = (float)(scale * (2 * tl_rng_uniform(r) - 1));
  return id;
}

typedef struct model {
  int cnn;
  int p[8];
  int np;
  int64_t batch;
  int threads; /* tl_exec_opts.threads */
} model;

static void make_params(tl_graph *g, model *m, uint64_t seed) {
  tl_rng r;
  tl_rng_init(&r, seed);
  if (!m->cnn) {
    int64_t w1[2] = {128, 784}, b1[1] = {128}, w2[2] = {10, 128}, b2[1] = {10};
    m->p[0] = add_param(g, &r, "fc1.weight", 2, w1, 0.05);
    m->p[1] = add_param(g, &r, "fc1.bias", 1, b1, 0.05);
    m->p[2] = add_param(g, &r, "fc2.weight", 2, w2, 0.1);
    m->p[3] = add_param(g, &r, "fc2.bias", 1, b2, 0.1);
    m->np = 4;
  } else {
    int64_t c1[4] = {8, 1, 3, 3}, cb1[1] = {8}, c2[4] = {16, 8, 3, 3}, cb2[1] = {16}, f[2] = {10, 16 * 7 * 7},
            fb[1] = {10};
    m->p[0] = add_param(g, &r, "conv1.weight", 4, c1, 0.3);
    m->p[1] = add_param(g, &r, "conv1.bias", 1, cb1, 0.1);
    m->p[2] = add_param(g, &r, "conv2.weight", 4, c2, 0.1);
    m->p[3] = add_param(g, &r, "conv2.bias", 1, cb2, 0.1);
    m->p[4] = add_param(g, &r, "fc.weight", 2, f, 0.05);
    m->p[5] = add_param(g, &r, "fc.bias", 1, fb, 0.05);
    m->np = 6;
  }
}

/* model code: the same in eager and compiled mode; returns the loss node; *xin, *tin inputs */
static int forward(tl_ctx *c, const model *m, const float *x, const float *t, tl_exec *eager, int *xin,
                   int *tin) {
  int64_t xs[4] = {m->batch, 784}, xc[4] = {m->batch, 1, 28, 28}, ts[2] = {m->batch, 10};
  int X = m->cnn ? tl_input(c, "x", 4, xc) : tl_input(c, "x", 2, xs);
  int T = tl_input(c, "t", 2, ts);
  if (eager) {
    tl_exec_set_input(eager, X, x, NULL);
    tl_exec_set_input(eager, T, t, NULL);
  }
  int h;
  if (!m->cnn) {
    h = tl_relu(c, tl_linear(c, X, m->p[0], m->p[1]));
    h = tl_linear(c, h, m->p[2], m->p[3]);
  } else {
    h = tl_max_pool2d(c, tl_relu(c, tl_conv2d(c, X, m->p[0], m->p[1], 1, 1, 1, 1)), 2, 2, 0);
    h = tl_max_pool2d(c, tl_relu(c, tl_conv2d(c, h, m->p[2], m->p[3], 1, 1, 1, 1)), 2, 2, 0);
    h = tl_linear(c, tl_flatten(c, h, 1, -1), m->p[4], m->p[5]);
  }
  *xin = X, *tin = T;
  return tl_cross_entropy(c, h, T);
}

static void data(const model *m, float **x, float **t) {
  tl_rng r;
  tl_rng_init(&r, 99);
  int64_t nx = m->batch * 784;
  *x = malloc(sizeof(float) * (size_t)nx);
  *t = calloc((size_t)(m->batch * 10), sizeof(float));
  for (int64_t i = 0; i < nx; i++)
    (*x)[i] = (float)tl_rng_uniform(&r);
  for (int64_t b = 0; b < m->batch; b++)
    (*t)[b * 10 + (int64_t)tl_rng_below(&r, 10)] = 1.0f;
}

typedef struct run_out {
  float loss;
  float *grads;
  int64_t nw;
} run_out;

static void run_model(model *m, tl_exec_mode mode, tl_kernels kern, int steps, run_out *ro) {
  tl_graph *g = tl_graph_new();
  make_params(g, m, 5);
  float *x, *t;
  data(m, &x, &t);
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode, o.kernels = kern, o.training = 1, o.threads = m->threads;
  tl_exec *e;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK);
  int nparams = g->nnodes;
  tl_ctx c;
  int X, T, loss = -1;
  if (mode == TL_COMPILED) {
    tl_ctx_init(&c, g, NULL);
    loss = forward(&c, m, x, t, NULL, &X, &T);
    cr_assert_eq(c.err, TL_OK, "%s", c.st.msg);
    cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
  }
  for (int s = 0; s < steps; s++) { /* SGD steps: the second step sees updated weights */
    tl_exec_zero_grad(e);
    if (mode == TL_EAGER) {
      tl_graph_truncate(g, nparams);
      tl_exec_reset(e, nparams);
      tl_ctx_init(&c, g, e);
      loss = forward(&c, m, x, t, e, &X, &T);
      cr_assert_eq(c.err, TL_OK, "%s", c.st.msg);
    } else {
      cr_assert_eq(tl_exec_set_input(e, X, x, &st), TL_OK);
      cr_assert_eq(tl_exec_set_input(e, T, t, &st), TL_OK);
      cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
    }
    ro->loss = tl_exec_value(e, loss)[0];
    cr_assert_eq(tl_exec_backward(e, loss, NULL, &st), TL_OK, "%s", st.msg);
    if (s + 1 < steps) {
      float *gr = tl_exec_param_grads(e);
      for (int64_t i = 0; i < g->nweights; i++)
        g->weights[i] -= 0.1f * gr[i];
    }
  }
  ro->nw = g->nweights;
  ro->grads = malloc(sizeof(float) * (size_t)g->nweights);
  memcpy(ro->grads, tl_exec_param_grads(e), sizeof(float) * (size_t)g->nweights);
  tl_exec_free(e);
  tl_graph_free(g);
  free(x);
  free(t);
}

static void eager_vs_compiled(int cnn, int64_t batch) {
  for (int kern = 0; kern < 2; kern++) {
    model m = {.cnn = cnn, .batch = batch};
    run_out a, b;
    run_model(&m, TL_EAGER, (tl_kernels)kern, 2, &a);
    run_model(&m, TL_COMPILED, (tl_kernels)kern, 2, &b);
    cr_assert(memcmp(&a.loss, &b.loss, sizeof(float)) == 0, "loss %.9g vs %.9g", a.loss, b.loss);
    cr_assert_eq(a.nw, b.nw);
    cr_assert(memcmp(a.grads, b.grads, sizeof(float) * (size_t)a.nw) == 0, "gradients differ");
    cr_assert(isfinite(a.loss) && a.loss > 0);
    free(a.grads);
    free(b.grads);
  }
}

Test(models, mlp_eager_equals_compiled) { eager_vs_compiled(0, 8); }
Test(models, cnn_batch64_eager_equals_compiled) { eager_vs_compiled(1, 64); }

/* FAST conv2d / max pool split work into tasks fixed by the shape: the thread count of the
 * exec's pool changes nothing, in either mode (batch 37: uneven tasks) */
Test(models, cnn_fast_results_independent_of_thread_count) {
  for (int mode = 0; mode < 2; mode++) {
    run_out ref;
    model m0 = {.cnn = 1, .batch = 37, .threads = 1};
    run_model(&m0, (tl_exec_mode)mode, TL_KERNELS_FAST, 2, &ref);
    for (int th = 2; th <= 4; th++) {
      model m = {.cnn = 1, .batch = 37, .threads = th};
      run_out r;
      run_model(&m, (tl_exec_mode)mode, TL_KERNELS_FAST, 2, &r);
      cr_assert(memcmp(&ref.loss, &r.loss, sizeof(float)) == 0, "threads %d: loss %.9g vs %.9g", th, r.loss,
                ref.loss);
      cr_assert(memcmp(ref.grads, r.grads, sizeof(float) * (size_t)ref.nw) == 0,
                "threads %d: gradients differ", th);
      free(r.grads);
    }
    free(ref.grads);
  }
}
Test(models, cnn_eager_equals_compiled) { eager_vs_compiled(1, 2); }

/* whole-model gradient against central differences of the double reference interpreter */
static void grad_check(int cnn) {
  model m = {.cnn = cnn, .batch = 2};
  tl_graph *g = tl_graph_new();
  make_params(g, &m, 5);
  float *x, *t;
  data(&m, &x, &t);
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = TL_COMPILED;
  tl_exec *e;
  tl_exec_new(&e, g, &o, NULL);
  tl_ctx c;
  tl_ctx_init(&c, g, NULL);
  int X, T, loss = forward(&c, &m, x, t, NULL, &X, &T);
  tl_exec_set_input(e, X, x, NULL);
  tl_exec_set_input(e, T, t, NULL);
  tl_status st;
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_backward(e, loss, NULL, &st), TL_OK, "%s", st.msg);
  double *xd = malloc(sizeof(double) * (size_t)(m.batch * 784)),
         *td = malloc(sizeof(double) * (size_t)(m.batch * 10));
  for (int64_t i = 0; i < m.batch * 784; i++)
    xd[i] = x[i];
  for (int64_t i = 0; i < m.batch * 10; i++)
    td[i] = t[i];
  double *ins[2] = {xd, td};
  tl_rng r;
  tl_rng_init(&r, 3);
  for (int k = 0; k < m.np; k++) {
    int p = m.p[k];
    int64_t n = g->nodes[p].numel;
    double *pv = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
      pv[i] = g->weights[g->nodes[p].woff + i];
    for (int rep = 0; rep < 6; rep++) {
      int64_t j = (int64_t)tl_rng_below(&r, (uint64_t)n);
      double h = 1e-4, x0 = pv[j], f[2];
      for (int s = 0; s < 2; s++) {
        pv[j] = x0 + (s ? -h : h);
        double **v = ref_graph(g, ins, p, pv, 0, 0, 0);
        f[s] = v[loss][0];
        ref_free_vals(g, v);
      }
      pv[j] = x0;
      double num = (f[0] - f[1]) / (2 * h), got = tl_exec_grad(e, p)[j];
      cr_assert(fabs(got - num) <= 2e-3 * (1 + fabs(num)) + 1e-4,
                "param %s[%lld]: %.7g vs central difference %.7g", g->nodes[p].name, (long long)j, got, num);
    }
    free(pv);
  }
  free(xd);
  free(td);
  free(x);
  free(t);
  tl_exec_free(e);
  tl_graph_free(g);
}

Test(models, mlp_gradients_match_central_differences) { grad_check(0); }
Test(models, cnn_gradients_match_central_differences) { grad_check(1); }

/* f(x) = tanh(x W^T + b), x (1, 3) */
static void small_net(tl_graph *g, tl_exec **e, int *x, int *y, tl_exec_mode mode) {
  tl_rng r;
  tl_rng_init(&r, 11);
  int64_t ws[2] = {4, 3}, bs[1] = {4}, xs[2] = {1, 3};
  int w = add_param(g, &r, "w", 2, ws, 1.0), b = add_param(g, &r, "b", 1, bs, 1.0);
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode;
  tl_exec_new(e, g, &o, NULL);
  tl_ctx c;
  tl_ctx_init(&c, g, mode == TL_EAGER ? *e : NULL);
  *x = tl_input(&c, "x", 2, xs);
  float xv[3] = {0.3f, -0.7f, 0.2f};
  tl_exec_set_input(*e, *x, xv, NULL);
  *y = tl_unary(&c, TL_OP_TANH, tl_linear(&c, *x, w, b));
  cr_assert_eq(c.err, TL_OK, "%s", c.st.msg);
  cr_assert_eq(tl_exec_forward(*e, NULL), TL_OK);
}

Test(autograd, jacobian_rows_are_vjps_and_jvp_is_jacobian_times_v) {
  for (int mode = 0; mode < 2; mode++) {
    tl_graph *g = tl_graph_new();
    tl_exec *e;
    int x, y;
    small_net(g, &e, &x, &y, (tl_exec_mode)mode);
    float jac[12], v[3] = {0.5f, -1.0f, 2.0f}, jv[4];
    tl_status st;
    cr_assert_eq(tl_autograd_jacobian(e, y, x, jac, &st), TL_OK, "%s", st.msg);
    for (int r = 0; r < 4; r++) {
      float seed[4] = {0};
      seed[r] = 1;
      cr_assert_eq(tl_exec_backward(e, y, seed, &st), TL_OK);
      for (int j = 0; j < 3; j++)
        cr_assert_eq(jac[r * 3 + j], tl_exec_grad(e, x)[j]);
    }
    cr_assert_eq(tl_autograd_jvp(e, x, v, y, jv, &st), TL_OK, "%s", st.msg);
    /* analytic: J = diag(1 - y^2) W */
    const float *yv = tl_exec_value(e, y), *W = g->weights;
    for (int r = 0; r < 4; r++) {
      double s = 0;
      for (int j = 0; j < 3; j++)
        s += (1 - (double)yv[r] * yv[r]) * W[r * 3 + j] * v[j];
      cr_assert(fabs(jv[r] - s) < 1e-5, "jvp[%d] %g vs %g", r, jv[r], s);
    }
    tl_exec_free(e);
    tl_graph_free(g);
  }
}

Test(autograd, hvp_of_quadratic_is_a_plus_a_transpose_times_v) {
  for (int mode = 0; mode < 2; mode++) {
    tl_graph *g = tl_graph_new();
    tl_rng r;
    tl_rng_init(&r, 8);
    int64_t as[2] = {4, 4}, xs[2] = {1, 4};
    int A = add_param(g, &r, "A", 2, as, 1.0);
    tl_exec_opts o = tl_exec_opts_default();
    o.mode = (tl_exec_mode)mode;
    tl_exec *e;
    tl_exec_new(&e, g, &o, NULL);
    tl_ctx c;
    tl_ctx_init(&c, g, mode == TL_EAGER ? e : NULL);
    int x = tl_input(&c, "x", 2, xs);
    float xv[4] = {0.1f, 0.4f, -0.3f, 0.9f}, v[4] = {1, -2, 0.5f, 0.25f}, hv[4];
    tl_exec_set_input(e, x, xv, NULL);
    int ln = tl_op_node(&c, TL_OP_SUM, 1, (int[]){tl_mul(&c, tl_matmul(&c, x, A), x)}, NULL); /* x A x^T */
    cr_assert_eq(c.err, TL_OK, "%s", c.st.msg);
    cr_assert_eq(tl_exec_forward(e, NULL), TL_OK);
    tl_status st;
    cr_assert_eq(tl_autograd_hvp(e, ln, x, v, hv, &st), TL_OK, "%s", st.msg);
    const float *Av = g->weights;
    for (int i = 0; i < 4; i++) {
      double s = 0;
      for (int j = 0; j < 4; j++)
        s += ((double)Av[i * 4 + j] + Av[j * 4 + i]) * v[j];
      cr_assert(fabs(hv[i] - s) < 2e-3 * (1 + fabs(s)), "hv[%d] %g vs %g", i, hv[i], s);
    }
    cr_assert_eq(tl_exec_value(e, x)[3], xv[3], "input restored");
    tl_exec_free(e);
    tl_graph_free(g);
  }
}

Test(errors, embedding_index_out_of_range_names_the_node) {
  tl_graph *g = tl_graph_new();
  int64_t ts[2] = {3, 2}, is[1] = {2};
  int tab;
  tl_graph_param(g, "table", TL_PARAM_TRAINABLE, 2, ts, NULL, &tab, NULL);
  tl_exec *e;
  tl_exec_new(&e, g, NULL, NULL);
  tl_ctx c;
  tl_ctx_init(&c, g, e);
  int idx = tl_input(&c, "idx", 1, is);
  float iv[2] = {1, 3};
  tl_exec_set_input(e, idx, iv, NULL);
  int y = tl_op_node(&c, TL_OP_EMBEDDING, 2, (int[]){idx, tab}, NULL);
  cr_assert_eq(y, -1);
  cr_assert_eq(c.err, TL_EVALUE);
  cr_assert(strstr(c.st.msg, "node 2 (embedding)") && strstr(c.st.msg, "index 3"), "%s", c.st.msg);
  cr_assert_eq(tl_relu(&c, idx), -1, "errors are sticky");
  tl_exec_free(e);
  tl_graph_free(g);
}

Test(errors, missing_input_value_is_reported) {
  for (int mode = 0; mode < 2; mode++) {
    tl_graph *g = tl_graph_new();
    int64_t s[1] = {3};
    tl_exec_opts o = tl_exec_opts_default();
    o.mode = (tl_exec_mode)mode;
    tl_exec *e;
    tl_exec_new(&e, g, &o, NULL);
    tl_ctx c;
    tl_ctx_init(&c, g, mode == TL_EAGER ? e : NULL);
    int x = tl_input(&c, "features", 1, s);
    int y = tl_relu(&c, x);
    tl_status st;
    if (mode == TL_EAGER) {
      cr_assert_eq(y, -1);
      cr_assert(strstr(c.st.msg, "input 'features'"), "%s", c.st.msg);
    } else {
      cr_assert_eq(tl_exec_forward(e, &st), TL_EARG);
      cr_assert(strstr(st.msg, "input 'features'") && strstr(st.msg, "node 1 (relu)"), "%s", st.msg);
    }
    tl_exec_free(e);
    tl_graph_free(g);
  }
}

Test(exec, compiled_inference_plan_reuses_buffers_and_dropout_masks_match) {
  /* dropout in training: eager and compiled give identical masks at the same step */
  float outs[2][64];
  for (int mode = 0; mode < 2; mode++) {
    tl_graph *g = tl_graph_new();
    int64_t s[1] = {64};
    tl_exec_opts o = tl_exec_opts_default();
    o.mode = (tl_exec_mode)mode, o.training = 1, o.seed = 5;
    tl_exec *e;
    tl_exec_new(&e, g, &o, NULL);
    tl_ctx c;
    tl_ctx_init(&c, g, mode == TL_EAGER ? e : NULL);
    int x = tl_input(&c, "x", 1, s);
    float xv[64];
    for (int i = 0; i < 64; i++)
      xv[i] = 1.0f;
    tl_exec_set_input(e, x, xv, NULL);
    int y = tl_dropout(&c, tl_relu(&c, tl_dropout(&c, x, 0.5)), 0.25);
    cr_assert_eq(tl_exec_forward(e, NULL), TL_OK);
    memcpy(outs[mode], tl_exec_value(e, y), sizeof outs[mode]);
    if (mode == TL_COMPILED) {
      tl_exec_set_grad_enabled(e, 0);
      cr_assert_eq(tl_exec_forward(e, NULL), TL_OK);
      cr_assert_neq(tl_exec_backward(e, y, xv, NULL), TL_OK, "no gradients in an inference plan");
    }
    tl_exec_free(e);
    tl_graph_free(g);
  }
  cr_assert(memcmp(outs[0], outs[1], sizeof outs[0]) == 0);
  int zeros = 0;
  for (int i = 0; i < 64; i++)
    zeros += outs[0][i] == 0;
  cr_assert(zeros > 10 && zeros < 50, "%d zeros", zeros);
}
