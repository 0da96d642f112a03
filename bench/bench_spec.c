/* bench_spec.c - cost of the spec interpreter: one interval multiply-add at 128 bits (our dot
 * primitive vs raw MPFI mpfi_mul + mpfi_add) and a point evaluation of an MLP 784-128-10 with
 * random weights.  Prints medians over repetitions.  Not a test. */
#define _POSIX_C_SOURCE 200809L
#include <mpfi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "interp.h" /* spec/ private: the dot primitive itself */
#include "torchlean/spec.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmpd);
  return v[n / 2];
}

static uint64_t sm(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static float rf(uint64_t *s) { return (float)((double)(sm(s) >> 40) / 16777216.0 * 2 - 1); }

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1)
    reps = 1;
  uint64_t s = 42;
  /* 1. raw MPFI multiply-add over n = 100000 pairs of narrow intervals */
  enum { N = 100000 };
  mpfi_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), acc, t;
  for (int i = 0; i < N; i++) {
    mpfi_init2(a[i], 128), mpfi_init2(b[i], 128);
    double x = rf(&s), y = rf(&s);
    mpfi_interv_d(a[i], x, x + 1e-9);
    mpfi_interv_d(b[i], y, y + 1e-9);
  }
  mpfi_init2(acc, 128), mpfi_init2(t, 128);
  double *tm = malloc((size_t)reps * sizeof *tm);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    mpfi_set_ui(acc, 0);
    for (int i = 0; i < N; i++) {
      mpfi_mul(t, a[i], b[i]);
      mpfi_add(acc, acc, t);
    }
    tm[r] = (now() - t0) / N * 1e9;
  }
  printf("raw MPFI mpfi_mul + mpfi_add (128 bits): median %.1f ns per multiply-add\n", median(tm, reps));

  /* 2. our dot primitive (tl_real_dot) on the same data */
  {
    mpfi_srcptr *xp = malloc(N * sizeof *xp), *yp = malloc(N * sizeof *yp);
    for (int i = 0; i < N; i++)
      xp[i] = a[i], yp[i] = b[i];
    tl_dom d = {0};
    tl_dom_real_init(&d, 128);
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      if (d.dot(&d, acc, N, xp, yp, NULL) != TL_OK)
        return 1;
      tm[r] = (now() - t0) / N * 1e9;
    }
    tl_dom_real_clear(&d);
    free(xp), free(yp);
    printf("our dot primitive tl_real_dot (128 bits): median %.1f ns per multiply-add\n", median(tm, reps));
  }

  /* 3. our linear op through the interpreter: y = W x, one row of N = 100000 (a single output:
   * the cost of converting the inputs to fixed point is not shared by other outputs) */
  tl_graph *g = tl_graph_new();
  int64_t xs[] = {1, N}, ws[] = {1, N};
  float *w = malloc(N * sizeof *w);
  double *xl = malloc(N * sizeof *xl), *xh = malloc(N * sizeof *xh);
  for (int i = 0; i < N; i++) {
    w[i] = rf(&s);
    xl[i] = rf(&s);
    xh[i] = xl[i] + 1e-9;
  }
  int x, pw, y;
  tl_graph_input(g, "x", 2, xs, &x, NULL);
  tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, w, &pw, NULL);
  int p[] = {x, pw};
  tl_graph_op(g, TL_OP_LINEAR, 2, p, NULL, &y, NULL);
  const double *L[] = {xl}, *H[] = {xh};
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    tl_spec_result *res;
    if (tl_spec_eval(NULL, g, L, H, &res, NULL) != TL_OK)
      return 1;
    tm[r] = (now() - t0) / N * 1e9;
    tl_spec_result_free(res);
  }
  printf("tl_spec_eval linear (128 bits, incl. setting inputs/params): median %.1f ns per multiply-add\n",
         median(tm, reps));
  tl_graph_free(g);

  /* 4. MLP 784-128-10, point input */
  g = tl_graph_new();
  int64_t is[] = {1, 784}, w1s[] = {128, 784}, b1s[] = {128}, w2s[] = {10, 128}, b2s[] = {10};
  float *w1 = malloc(128 * 784 * sizeof *w1), b1[128], w2[1280], b2[10];
  for (int i = 0; i < 128 * 784; i++)
    w1[i] = rf(&s) * 0.05f;
  for (int i = 0; i < 128; i++)
    b1[i] = rf(&s) * 0.1f;
  for (int i = 0; i < 1280; i++)
    w2[i] = rf(&s) * 0.1f;
  for (int i = 0; i < 10; i++)
    b2[i] = rf(&s) * 0.1f;
  int pw1, pb1, pw2, pb2, h;
  tl_graph_input(g, "x", 2, is, &x, NULL);
  tl_graph_param(g, "w1", TL_PARAM_TRAINABLE, 2, w1s, w1, &pw1, NULL);
  tl_graph_param(g, "b1", TL_PARAM_TRAINABLE, 1, b1s, b1, &pb1, NULL);
  tl_graph_param(g, "w2", TL_PARAM_TRAINABLE, 2, w2s, w2, &pw2, NULL);
  tl_graph_param(g, "b2", TL_PARAM_TRAINABLE, 1, b2s, b2, &pb2, NULL);
  int p1[] = {x, pw1, pb1};
  tl_graph_op(g, TL_OP_LINEAR, 3, p1, NULL, &h, NULL);
  tl_graph_op(g, TL_OP_RELU, 1, &h, NULL, &h, NULL);
  int p2[] = {h, pw2, pb2};
  tl_graph_op(g, TL_OP_LINEAR, 3, p2, NULL, &y, NULL);
  double xin[784];
  for (int i = 0; i < 784; i++)
    xin[i] = (double)(sm(&s) % 256) / 255.0;
  const double *Lm[] = {xin};
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    tl_spec_result *res;
    if (tl_spec_eval(NULL, g, Lm, NULL, &res, NULL) != TL_OK)
      return 1;
    tm[r] = (now() - t0) * 1e3;
    tl_spec_result_free(res);
  }
  printf("tl_spec_eval MLP 784-128-10 point input (128 bits): median %.2f ms\n", median(tm, reps));
  /* the same with the generic MPFI path only (no fixed-point dot products) */
  tl_spec_ctx gen;
  tl_spec_ctx_init(&gen);
  gen.generic = 1;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    tl_spec_result *res;
    if (tl_spec_eval(&gen, g, Lm, NULL, &res, NULL) != TL_OK)
      return 1;
    tm[r] = (now() - t0) * 1e3;
    tl_spec_result_free(res);
  }
  printf("tl_spec_eval MLP 784-128-10 point input, generic MPFI path: median %.2f ms\n", median(tm, reps));
  /* box input: L-inf ball of radius 0.01 around the point */
  double blo[784], bhi[784];
  for (int i = 0; i < 784; i++)
    blo[i] = xin[i] - 0.01, bhi[i] = xin[i] + 0.01;
  const double *Lb[] = {blo}, *Hb[] = {bhi};
  for (int k = 0; k < 2; k++) {
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      tl_spec_result *res;
      if (tl_spec_eval(k ? &gen : NULL, g, Lb, Hb, &res, NULL) != TL_OK)
        return 1;
      tm[r] = (now() - t0) * 1e3;
      tl_spec_result_free(res);
    }
    printf("tl_spec_eval MLP 784-128-10 box input (radius 0.01)%s: median %.2f ms\n",
           k ? ", generic MPFI path" : "", median(tm, reps));
  }
  tl_graph_free(g);
  for (int i = 0; i < N; i++)
    mpfi_clear(a[i]), mpfi_clear(b[i]);
  mpfi_clear(acc), mpfi_clear(t);
  free(a), free(b), free(w), free(xl), free(xh), free(w1), free(tm);
  return 0;
}
