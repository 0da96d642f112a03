/* bench_verify.c - IBP / CROWN / alpha-CROWN time per sample (medians) on two nets with random
 * weights, vs a plain float32 forward pass of the same graph (runtime tl_exec, compiled; and
 * cblas_sgemv for the MLP), and checker time vs verifier time.
 *   mlp: 784-128-10 (relu);  cnn: conv(1->8,3x3,p1)-relu-maxpool2-conv(8->16,3x3,p1)-relu-maxpool2-
 *   linear(784->10).  eps = 1/255 clamped to [0, 1], robustness of the float32 argmax.
 * "old" = the entry points verify.c uses (tl_ibp/tl_crown, a plan built per call);
 * "plan" = one tl_verify_plan reused across samples.
 * Usage: bench_verify [reps] [checker-path] */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "torchlean/exec.h"
#include "torchlean/rand.h"
#include "torchlean/verify.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmpd);
  return t[n / 2];
}

static float *rnd_w(tl_rng *r, int64_t n, double scale) {
  float *w = malloc((size_t)n * sizeof *w);
  for (int64_t i = 0; i < n; i++)
    w[i] = (float)((2 * tl_rng_uniform(r) - 1) * scale);
  return w;
}

static int add_param(tl_graph *g, const char *name, int nd, const int64_t *shape, float *w) {
  int id;
  tl_graph_param(g, name, TL_PARAM_TRAINABLE, nd, shape, w, &id, NULL);
  free(w);
  return id;
}

static tl_graph *mlp(tl_rng *r) {
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 784}, w1s[2] = {128, 784}, b1s[1] = {128}, w2s[2] = {10, 128}, b2s[1] = {10};
  int x, h, y;
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  int p1[3] = {x, add_param(g, "w1", 2, w1s, rnd_w(r, 128 * 784, 1 / 28.0)),
               add_param(g, "b1", 1, b1s, rnd_w(r, 128, 0.01))};
  tl_graph_op(g, TL_OP_LINEAR, 3, p1, NULL, &h, NULL);
  tl_graph_op(g, TL_OP_RELU, 1, &h, NULL, &h, NULL);
  int p2[3] = {h, add_param(g, "w2", 2, w2s, rnd_w(r, 1280, 1 / 11.3)),
               add_param(g, "b2", 1, b2s, rnd_w(r, 10, 0.01))};
  tl_graph_op(g, TL_OP_LINEAR, 3, p2, NULL, &y, NULL);
  tl_graph_mark_output(g, y, NULL);
  return g;
}

static int conv_relu_pool(tl_graph *g, tl_rng *r, int x, int64_t cin, int64_t cout, const char *nm) {
  char n1[32], n2[32];
  snprintf(n1, sizeof n1, "%s.w", nm), snprintf(n2, sizeof n2, "%s.b", nm);
  int64_t ws[4] = {cout, cin, 3, 3}, bs[1] = {cout};
  double sc = 1.0 / (3.0 * (double)cin); /* ~ 1 / sqrt(fan_in) scale */
  int p[3] = {x, add_param(g, n1, 4, ws, rnd_w(r, cout * cin * 9, 3 * sc)),
              add_param(g, n2, 1, bs, rnd_w(r, cout, 0.01))};
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  a.padding[0] = a.padding[1] = 1;
  int y;
  tl_graph_op(g, TL_OP_CONV2D, 3, p, &a, &y, NULL);
  tl_graph_op(g, TL_OP_RELU, 1, &y, NULL, &y, NULL);
  tl_attrs pa = tl_attrs_default(TL_OP_MAX_POOL2D);
  pa.kernel[0] = pa.kernel[1] = 2, pa.stride[0] = pa.stride[1] = 2;
  tl_graph_op(g, TL_OP_MAX_POOL2D, 1, &y, &pa, &y, NULL);
  return y;
}

static tl_graph *cnn(tl_rng *r) {
  tl_graph *g = tl_graph_new();
  int64_t xs[4] = {1, 1, 28, 28}, ws[2] = {10, 784}, bs[1] = {10};
  int x, y;
  tl_graph_input(g, "x", 4, xs, &x, NULL);
  y = conv_relu_pool(g, r, x, 1, 8, "c1");
  y = conv_relu_pool(g, r, y, 8, 16, "c2");
  tl_attrs fa = tl_attrs_default(TL_OP_FLATTEN);
  tl_graph_op(g, TL_OP_FLATTEN, 1, &y, &fa, &y, NULL);
  int p[3] = {y, add_param(g, "fc.w", 2, ws, rnd_w(r, 7840, 1 / 28.0)),
              add_param(g, "fc.b", 1, bs, rnd_w(r, 10, 0.01))};
  tl_graph_op(g, TL_OP_LINEAR, 3, p, NULL, &y, NULL);
  tl_graph_mark_output(g, y, NULL);
  return g;
}

/* float32 forward through the runtime (compiled, no gradients): median seconds; label = argmax */
static double f32_forward(tl_graph *g, const float *x, int reps, int *label) {
  tl_exec_opts eo = tl_exec_opts_default();
  eo.mode = TL_COMPILED;
  tl_exec *e;
  tl_status st;
  if (tl_exec_new(&e, g, &eo, &st) != TL_OK) {
    fprintf(stderr, "exec: %s\n", st.msg);
    exit(1);
  }
  tl_exec_set_grad_enabled(e, 0);
  tl_exec_set_input(e, g->inputs[0], x, NULL);
  if (tl_exec_plan(e, &st) != TL_OK) {
    fprintf(stderr, "exec plan: %s\n", st.msg);
    exit(1);
  }
  double *t = malloc((size_t)reps * sizeof *t);
  for (int k = 0; k < reps; k++) {
    double t0 = now_s();
    tl_exec_set_input(e, g->inputs[0], x, NULL);
    tl_exec_forward(e, NULL);
    t[k] = now_s() - t0;
  }
  const float *y = tl_exec_value(e, g->outputs[0]);
  *label = 0;
  for (int i = 1; i < 10; i++)
    if (y[i] > y[*label])
      *label = i;
  double m = median(t, reps);
  free(t);
  tl_exec_free(e);
  return m;
}

enum { M_IBP, M_CROWN, M_CROWN_IC, M_ALPHA, M_COUNT };
static const char *mname[M_COUNT] = {"ibp", "crown", "crown+ic", "alpha20"};

/* one verification with a plan: IBP boxes, IBP rows, then the CROWN variant; returns min row */
static double run_plan(const tl_verify_plan *pl, const tl_region *reg, tl_semantics sem, int meth, int nrows,
                       const double *a) {
  tl_bounds *b;
  double li[16], lc[16];
  tl_status st;
  if (tl_ibp_plan(pl, reg, sem, &b, &st) != TL_OK ||
      tl_ibp_rows_plan(pl, reg, b, nrows, a, li, &st) != TL_OK) {
    fprintf(stderr, "ibp: %s\n", st.msg);
    exit(1);
  }
  if (meth != M_IBP) {
    if (tl_crown_plan(pl, reg, b, nrows, a, meth == M_CROWN_IC, meth == M_ALPHA ? 20 : 0, lc, NULL, &st) !=
        TL_OK) {
      fprintf(stderr, "crown: %s\n", st.msg);
      exit(1);
    }
    for (int k = 0; k < nrows; k++)
      li[k] = li[k] > lc[k] ? li[k] : lc[k];
  }
  tl_bounds_free(b);
  double mn = li[0];
  for (int k = 1; k < nrows; k++)
    mn = li[k] < mn ? li[k] : mn;
  return mn;
}

static void bench_net(const char *name, tl_graph *g, tl_rng *r, int reps, const char *checker) {
  int64_t n = g->nodes[g->inputs[0]].numel;
  float *xv = malloc((size_t)n * sizeof *xv);
  for (int64_t i = 0; i < n; i++)
    xv[i] = (float)tl_rng_uniform(r);
  int label;
  double tf = f32_forward(g, xv, 200, &label);
  printf("%s: float32 forward (runtime, compiled) %.4f ms\n", name, 1e3 * tf);
  tl_property *p;
  tl_property_robust(&p, 10, label, NULL);
  double a[90];
  tl_objective_rows(p, a);
  tl_verify_plan *pl;
  tl_verify_plan_new(&pl, g, NULL);
  double *t = malloc((size_t)reps * sizeof *t);
  tl_region *reg;
  tl_region_linf(&reg, xv, n, 1.0 / 255, 1, 0, 1, NULL);
  for (int sem = 0; sem < 2; sem++)
    for (int m = 0; m < M_COUNT; m++) {
      double mn = 0;
      for (int k = 0; k < reps; k++) {
        double t0 = now_s();
        mn = run_plan(pl, reg, (tl_semantics)sem, m, 9, a);
        t[k] = now_s() - t0;
      }
      double tp = median(t, reps);
      double to = -1;
      if (m == M_IBP || m == M_CROWN || m == M_CROWN_IC) { /* the old entry points, as verify.c calls them */
        tl_verify_opts o = tl_verify_opts_default();
        o.sem = (tl_semantics)sem, o.method = m == M_IBP ? TL_METHOD_IBP : TL_METHOD_CROWN, o.falsify = 0;
        o.intermediate_crown = m == M_CROWN_IC;
        for (int k = 0; k < reps; k++) {
          tl_verify_result *res = NULL;
          double t0 = now_s();
          tl_verify_sample(g, reg, p, &o, &res, NULL);
          t[k] = now_s() - t0;
          tl_verify_result_free(res);
        }
        to = median(t, reps);
      }
      printf("  %-7s %-8s plan %8.4f ms (%6.1fx fwd)  tl_verify_sample %8.4f ms  min row %.5g\n",
             tl_semantics_name((tl_semantics)sem), mname[m], 1e3 * tp, tp / tf, 1e3 * to, mn);
    }
  if (checker) {
    for (int m = 0; m < 2; m++) {
      tl_verify_opts o = tl_verify_opts_default();
      o.method = m ? TL_METHOD_CROWN : TL_METHOD_IBP, o.falsify = 0, o.keep_evidence = 1;
      tl_verify_result *res = NULL;
      tl_verify_sample(g, reg, p, &o, &res, NULL);
      tl_cert_write("/tmp/bench_verify_cert.json", g, reg, p, res, NULL, NULL);
      char cmd[512];
      snprintf(cmd, sizeof cmd, "%s /tmp/bench_verify_cert.json > /dev/null", checker);
      double t0 = now_s();
      int rc = system(cmd);
      printf("  checker (f32-any %s): %.3f s, exit %d\n", m ? "crown" : "ibp", now_s() - t0, rc);
      remove("/tmp/bench_verify_cert.json");
      tl_verify_result_free(res);
    }
  }
  tl_region_free(reg);
  tl_verify_plan_free(pl);
  tl_property_free(p);
  free(t), free(xv);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 15;
  const char *checker = argc > 2 ? argv[2] : NULL;
  tl_rng r;
  tl_rng_init(&r, 1);
  tl_graph *g = mlp(&r);
  /* the MLP forward with cblas_sgemv as well (no graph runtime overhead) */
  {
    const float *w1 = g->weights + g->nodes[1].woff, *b1 = g->weights + g->nodes[2].woff;
    const float *w2 = g->weights + g->nodes[5].woff, *b2 = g->weights + g->nodes[6].woff;
    float xv[784], hv[128], yv[10];
    for (int i = 0; i < 784; i++)
      xv[i] = 0.5f;
    int k, reps2 = 2000;
    double t0 = now_s();
    for (k = 0; k < reps2; k++) {
      memcpy(hv, b1, sizeof hv);
      cblas_sgemv(CblasRowMajor, CblasNoTrans, 128, 784, 1.0f, w1, 784, xv, 1, 1.0f, hv, 1);
      for (int i = 0; i < 128; i++)
        hv[i] = hv[i] > 0 ? hv[i] : 0;
      memcpy(yv, b2, sizeof yv);
      cblas_sgemv(CblasRowMajor, CblasNoTrans, 10, 128, 1.0f, w2, 128, hv, 1, 1.0f, yv, 1);
    }
    printf("mlp: float32 forward (cblas_sgemv) %.4f ms (y0 %g)\n", 1e3 * (now_s() - t0) / reps2, yv[0]);
  }
  bench_net("mlp 784-128-10", g, &r, reps, checker);
  tl_graph_free(g);
  g = cnn(&r);
  bench_net("cnn conv8-pool-conv16-pool-fc", g, &r, reps, checker);
  tl_graph_free(g);
  return 0;
}
