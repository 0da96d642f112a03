/* bench_verify_models.c - on TRAINED Fashion-MNIST model files (the MLP and the small CNN that
 * `torchlean train` writes): per test image, a plain float32 forward pass of the same model by the
 * runtime (compiled, FAST kernels), IBP and CROWN (f32-any, no counterexample search), and the
 * independent checker's time per certificate vs the verifier's.
 * Usage: bench_verify_models MODEL.tlm [images (20)] [checker-path|-] [eps (2/255)] [methods (3)]
 * (methods 1: IBP only, 2: IBP and CROWN, 3: also alpha-CROWN; checker `-`: none)
 * Run by bench/run_verify_models.sh, which trains the models first. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "torchlean/data.h"
#include "torchlean/exec.h"
#include "torchlean/model_file.h"
#include "torchlean/tensor.h"
#include "torchlean/verify.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_verify_models MODEL.tlm [images] [checker] [eps]\n");
    return 2;
  }
  int ns = argc > 2 ? atoi(argv[2]) : 20;
  const char *checker = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
  double eps = argc > 4 ? atof(argv[4]) : 2.0 / 255.0;
  int nmethods = argc > 5 ? atoi(argv[5]) : 3;
  if (nmethods < 1 || nmethods > 3)
    nmethods = 3;
  tl_status st;
  tl_graph *g = NULL;
  tl_dataset *d = NULL;
  if (tl_model_load(argv[1], &g, &st) != TL_OK ||
      tl_dataset_load_mnist_idx(&d, "/usr/share/datasets/fashion-mnist", "t10k", &st) != TL_OK) {
    fprintf(stderr, "bench_verify_models: %s\n", st.msg);
    return 1;
  }
  if (ns < 1 || ns > d->n)
    ns = 20;
  int64_t row = d->x->numel / d->n, nout = g->nodes[g->outputs[0]].numel;
  const float *X = tl_tensor_f32(d->x);
  /* float32 forward, runtime FAST, batch 1 */
  tl_exec *e = NULL;
  tl_exec_opts eo = tl_exec_opts_default();
  eo.mode = TL_COMPILED;
  if (tl_exec_new(&e, g, &eo, &st) != TL_OK || tl_exec_plan(e, &st) != TL_OK) {
    fprintf(stderr, "bench_verify_models: %s\n", st.msg);
    return 1;
  }
  tl_exec_set_grad_enabled(e, 0);
  tl_exec_plan(e, &st);
  int reps = 20;
  double t0 = now_s();
  for (int r = 0; r < reps; r++)
    for (int i = 0; i < ns; i++) {
      tl_exec_set_input(e, g->inputs[0], X + i * row, &st);
      tl_exec_forward(e, &st);
    }
  double t_fwd = (now_s() - t0) / (reps * ns);
  tl_exec_free(e);
  printf("model %s: %d test images, eps %.6g, f32-any\n", argv[1], ns, eps);
  printf("  float32 forward (runtime FAST, batch 1): %10.4f ms/image\n", 1e3 * t_fwd);
  tl_verify_plan *plan = NULL;
  if (tl_verify_plan_new(&plan, g, &st) != TL_OK) {
    fprintf(stderr, "bench_verify_models: %s\n", st.msg);
    return 1;
  }
  for (int m = 0; m < nmethods; m++) {
    tl_region **r = calloc((size_t)ns, sizeof *r);
    tl_property **p = calloc((size_t)ns, sizeof *p);
    tl_verify_result **res = calloc((size_t)ns, sizeof *res);
    tl_verify_opts o = tl_verify_opts_default();
    o.method = m == 2 ? TL_METHOD_ALPHA_CROWN : m ? TL_METHOD_CROWN : TL_METHOD_IBP, o.falsify = 0;
    o.plan = plan; /* one plan per model, as `torchlean verify` does */
    double tv = 0, tev = 0;
    int verified = 0;
    for (int i = 0; i < ns; i++) {
      tl_region_linf(&r[i], X + i * row, row, eps, 1, 0, 1, NULL);
      tl_property_robust(&p[i], nout, tl_dataset_label(d, i), NULL);
    }
    /* timed without certificate evidence (best of 3 passes over the images), then once with it */
    for (int pass = 0; pass < 4; pass++) {
      o.keep_evidence = pass == 3 && checker != NULL;
      double tp = 0;
      for (int i = 0; i < ns; i++) {
        tl_verify_result_free(res[i]);
        res[i] = NULL;
        double a = now_s();
        if (tl_verify_sample(g, r[i], p[i], &o, &res[i], &st) != TL_OK) {
          fprintf(stderr, "bench_verify_models: %s\n", st.msg);
          return 1;
        }
        tp += now_s() - a;
        if (pass == 3)
          verified += res[i]->verdict == TL_VERDICT_VERIFIED;
      }
      if (pass < 3)
        tv = pass == 0 || tp < tv ? tp : tv;
      else
        tev = tp;
    }
    printf("  %-11s: %8.4f ms/image (%6.1fx the forward pass; %.4f ms with certificate evidence), %d/%d "
           "verified",
           m == 2 ? "alpha-CROWN"
           : m    ? "CROWN"
                  : "IBP",
           1e3 * tv / ns, tv / ns / t_fwd, 1e3 * tev / ns, verified, ns);
    if (checker) {
      char path[256], cmd[700];
      snprintf(path, sizeof path, "/tmp/bench_verify_models_%ld.json", (long)getpid());
      tl_cert_write_many(path, g, ns, (const tl_region *const *)r, (const tl_property *const *)p,
                         (const tl_verify_result *const *)res, NULL, &st);
      snprintf(cmd, sizeof cmd, "%s %s > /dev/null", checker, path);
      double a = now_s();
      int rc = system(cmd);
      double tc = now_s() - a;
      printf("; checker %.2f ms/image (%.1fx the verifier)%s", 1e3 * tc / ns, tc / tev,
             rc == 0 ? "" : " NOT ACCEPTED");
      remove(path);
    }
    printf("\n");
    for (int i = 0; i < ns; i++)
      tl_region_free(r[i]), tl_property_free(p[i]), tl_verify_result_free(res[i]);
    free(r), free(p), free(res);
  }
  tl_verify_plan_free(plan);
  tl_dataset_free(d);
  tl_graph_free(g);
  return 0;
}
