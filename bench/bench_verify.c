/* bench_verify.c - IBP and CROWN time per sample on an MLP 784-128-10 with random weights, vs a
 * plain float32 forward pass (cblas_sgemv), and checker time vs verifier time.
 * Usage: bench_verify [samples] [checker-path] */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "torchlean/rand.h"
#include "torchlean/verify.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  int ns = argc > 1 ? atoi(argv[1]) : 20;
  const char *checker = argc > 2 ? argv[2] : NULL;
  tl_rng r;
  tl_rng_init(&r, 1);
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {1, 784}, w1s[2] = {128, 784}, b1s[1] = {128}, w2s[2] = {10, 128}, b2s[1] = {10};
  float *w1 = malloc(128 * 784 * sizeof *w1), b1[128], w2[1280], b2[10];
  for (int i = 0; i < 128 * 784; i++)
    w1[i] = (float)((2 * tl_rng_uniform(&r) - 1) / 28.0);
  for (int i = 0; i < 1280; i++)
    w2[i] = (float)((2 * tl_rng_uniform(&r) - 1) / 11.3);
  for (int i = 0; i < 128; i++)
    b1[i] = 0.01f;
  for (int i = 0; i < 10; i++)
    b2[i] = 0;
  int x, pw1, pb1, pw2, pb2, h, y;
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  tl_graph_param(g, "w1", TL_PARAM_TRAINABLE, 2, w1s, w1, &pw1, NULL);
  tl_graph_param(g, "b1", TL_PARAM_TRAINABLE, 1, b1s, b1, &pb1, NULL);
  tl_graph_param(g, "w2", TL_PARAM_TRAINABLE, 2, w2s, w2, &pw2, NULL);
  tl_graph_param(g, "b2", TL_PARAM_TRAINABLE, 1, b2s, b2, &pb2, NULL);
  int p1[3] = {x, pw1, pb1};
  tl_graph_op(g, TL_OP_LINEAR, 3, p1, NULL, &h, NULL);
  tl_graph_op(g, TL_OP_RELU, 1, &h, NULL, &h, NULL);
  int p2[3] = {h, pw2, pb2};
  tl_graph_op(g, TL_OP_LINEAR, 3, p2, NULL, &y, NULL);
  tl_graph_mark_output(g, y, NULL);
  float *xv = malloc(784 * sizeof *xv), hv[128], yv[10];
  for (int i = 0; i < 784; i++)
    xv[i] = (float)tl_rng_uniform(&r);
  /* plain float32 forward */
  int reps = 2000;
  double t0 = now_s();
  for (int k = 0; k < reps; k++) {
    for (int i = 0; i < 128; i++)
      hv[i] = b1[i];
    cblas_sgemv(CblasRowMajor, CblasNoTrans, 128, 784, 1.0f, w1, 784, xv, 1, 1.0f, hv, 1);
    for (int i = 0; i < 128; i++)
      hv[i] = hv[i] > 0 ? hv[i] : 0;
    for (int i = 0; i < 10; i++)
      yv[i] = b2[i];
    cblas_sgemv(CblasRowMajor, CblasNoTrans, 10, 128, 1.0f, w2, 128, hv, 1, 1.0f, yv, 1);
  }
  double tf = (now_s() - t0) / reps;
  int label = 0;
  for (int i = 1; i < 10; i++)
    if (yv[i] > yv[label])
      label = i;
  tl_property *p;
  tl_property_robust(&p, 10, label, NULL);
  const char *meth[2] = {"ibp", "crown"};
  for (int sem = 0; sem < 2; sem++)
    for (int m = 0; m < 2; m++) {
      tl_region *reg;
      tl_region_linf(&reg, xv, 784, 1.0 / 255, 1, 0, 1, NULL);
      tl_verify_opts o = tl_verify_opts_default();
      o.sem = (tl_semantics)sem, o.method = (tl_method)m, o.falsify = 0;
      tl_verify_result *res = NULL;
      t0 = now_s();
      for (int k = 0; k < ns; k++) {
        tl_verify_result_free(res);
        tl_verify_sample(g, reg, p, &o, &res, NULL);
      }
      double tv = (now_s() - t0) / ns;
      printf("%-8s %-6s %.3f ms/sample (float32 forward %.4f ms, ratio %.0fx), verdict %s, min row bound %.4g\n",
             tl_semantics_name((tl_semantics)sem), meth[m], 1e3 * tv, 1e3 * tf, tv / tf, tl_verdict_name(res->verdict),
             res->row_lower[0]);
      if (checker && sem == 1) {
        tl_verify_result_free(res);
        o.keep_evidence = 1;
        tl_verify_sample(g, reg, p, &o, &res, NULL);
        tl_cert_write("/tmp/bench_verify_cert.json", g, reg, p, res, NULL, NULL);
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s /tmp/bench_verify_cert.json > /dev/null", checker);
        t0 = now_s();
        int rc = system(cmd);
        printf("         checker (%s): %.3f s, exit %d\n", meth[m], now_s() - t0, rc);
        remove("/tmp/bench_verify_cert.json");
      }
      tl_verify_result_free(res);
      tl_region_free(reg);
    }
  tl_property_free(p);
  tl_graph_free(g);
  free(w1), free(xv);
  return 0;
}
