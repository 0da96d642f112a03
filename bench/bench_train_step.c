#define _POSIX_C_SOURCE 200809L
/* bench_train_step.c - median time of one SGD training step (forward + backward + update) of
 * MLP 784-128-10 (batch 1, 64, 256) and a small CNN (batch 64), eager and compiled, plus the
 * raw cblas_sgemm calls an MLP step needs (the GEMM floor).  Output: one line per case,
 * "<model> <batch> <mode> <median_ms>".
 * Usage: bench_train_step [SCALE] [mlp|cnn] [eager|compiled] [BATCH]  (SCALE multiplies the repetitions;
 * the optional filters run one model, one mode, one batch size: profiling, A/B runs). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "torchlean/exec.h"
#include "torchlean/optim.h"
#include "torchlean/rand.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmpd);
  return v[n / 2];
}

static int param(tl_graph *g, tl_rng *r, const char *name, int nd, const int64_t *s, double scale) {
  int id;
  tl_graph_param(g, name, TL_PARAM_TRAINABLE, nd, s, NULL, &id, NULL);
  float *w = tl_graph_param_data(g, id);
  for (int64_t i = 0; i < g->nodes[id].numel; i++)
    w[i] = (float)(scale * (2 * tl_rng_uniform(r) - 1));
  return id;
}

typedef struct net {
  int cnn;
  int64_t batch;
  int p[6];
} net;

static int model(tl_ctx *c, const net *m, tl_exec *eager, const float *x, const float *t, int *X, int *T) {
  int64_t xs[2] = {m->batch, 784}, xc[4] = {m->batch, 1, 28, 28}, ts[2] = {m->batch, 10};
  *X = m->cnn ? tl_input(c, "x", 4, xc) : tl_input(c, "x", 2, xs);
  *T = tl_input(c, "t", 2, ts);
  if (eager) {
    tl_exec_set_input(eager, *X, x, NULL);
    tl_exec_set_input(eager, *T, t, NULL);
  }
  int h;
  if (!m->cnn) {
    h = tl_linear(c, tl_relu(c, tl_linear(c, *X, m->p[0], m->p[1])), m->p[2], m->p[3]);
  } else {
    h = tl_max_pool2d(c, tl_relu(c, tl_conv2d(c, *X, m->p[0], m->p[1], 1, 1, 1, 1)), 2, 2, 0);
    h = tl_max_pool2d(c, tl_relu(c, tl_conv2d(c, h, m->p[2], m->p[3], 1, 1, 1, 1)), 2, 2, 0);
    h = tl_linear(c, tl_flatten(c, h, 1, -1), m->p[4], m->p[5]);
  }
  return tl_cross_entropy(c, h, *T);
}

static double bench(int cnn, int64_t batch, tl_exec_mode mode, int reps) {
  tl_graph *g = tl_graph_new();
  tl_rng r;
  tl_rng_init(&r, 1);
  net m = {.cnn = cnn, .batch = batch};
  if (!cnn) {
    int64_t a[2] = {128, 784}, b[1] = {128}, c2[2] = {10, 128}, d[1] = {10};
    m.p[0] = param(g, &r, "w1", 2, a, 0.03), m.p[1] = param(g, &r, "b1", 1, b, 0.03);
    m.p[2] = param(g, &r, "w2", 2, c2, 0.1), m.p[3] = param(g, &r, "b2", 1, d, 0.1);
  } else {
    int64_t a[4] = {8, 1, 3, 3}, b[1] = {8}, c2[4] = {16, 8, 3, 3}, d[1] = {16}, f[2] = {10, 784},
            fb[1] = {10};
    m.p[0] = param(g, &r, "c1", 4, a, 0.3), m.p[1] = param(g, &r, "cb1", 1, b, 0.1);
    m.p[2] = param(g, &r, "c2", 4, c2, 0.1), m.p[3] = param(g, &r, "cb2", 1, d, 0.1);
    m.p[4] = param(g, &r, "fc", 2, f, 0.03), m.p[5] = param(g, &r, "fb", 1, fb, 0.03);
  }
  int64_t nx = batch * 784;
  float *x = malloc(sizeof(float) * (size_t)nx), *t = calloc((size_t)(batch * 10), sizeof(float));
  for (int64_t i = 0; i < nx; i++)
    x[i] = (float)tl_rng_uniform(&r);
  for (int64_t b = 0; b < batch; b++)
    t[b * 10 + (int64_t)tl_rng_below(&r, 10)] = 1;
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = mode, o.training = 1;
  tl_exec *e;
  tl_status st;
  if (tl_exec_new(&e, g, &o, &st) != TL_OK) {
    fprintf(stderr, "%s\n", st.msg);
    exit(1);
  }
  tl_exec_set_input_grads(e, 0);
  int nparams = g->nnodes, X, T, loss = -1;
  tl_ctx c;
  if (mode == TL_COMPILED) {
    tl_ctx_init(&c, g, NULL);
    loss = model(&c, &m, NULL, x, t, &X, &T);
    tl_exec_plan(e, &st);
  }
  tl_optim *opt; /* SGD lr 0.01 as the PyTorch peer: the update a user (and tl_trainer) runs */
  tl_optim_config oc = tl_optim_sgd(0.01, 0);
  if (tl_optim_new(&opt, &oc, g->nweights, &st) != TL_OK) {
    fprintf(stderr, "%s\n", st.msg);
    exit(1);
  }
  double *times = malloc(sizeof(double) * (size_t)reps);
  for (int it = -2; it < reps; it++) {
    double t0 = now_ms();
    tl_exec_zero_grad(e);
    if (mode == TL_EAGER) {
      tl_graph_truncate(g, nparams);
      tl_exec_reset(e, nparams);
      tl_ctx_init(&c, g, e);
      loss = model(&c, &m, e, x, t, &X, &T);
    } else {
      tl_exec_set_input(e, X, x, NULL);
      tl_exec_set_input(e, T, t, NULL);
      tl_exec_forward(e, &st);
    }
    if (tl_exec_backward(e, loss, NULL, &st) != TL_OK) {
      fprintf(stderr, "%s\n", st.msg);
      exit(1);
    }
    tl_optim_step_exec(opt, e, 0.01, &st);
    if (it >= 0)
      times[it] = now_ms() - t0;
  }
  double med = median(times, reps);
  tl_optim_free(opt);
  free(times);
  free(x);
  free(t);
  tl_exec_free(e);
  tl_graph_free(g);
  return med;
}

/* the five GEMMs of an MLP step with the runtime's thread policy (input gradient skipped) */
static double bench_gemm(int64_t B, int reps) {
  int n = (int)B;
  float *x = calloc((size_t)(B * 784), 4), *w1 = calloc(128 * 784, 4), *h = calloc((size_t)(B * 128), 4);
  float *w2 = calloc(1280, 4), *y = calloc((size_t)(B * 10), 4), *g1 = calloc(128 * 784, 4),
        *g2 = calloc(1280, 4);
  float *gh = calloc((size_t)(B * 128), 4);
  double *times = malloc(sizeof(double) * (size_t)reps);
  for (int it = -2; it < reps; it++) {
    double t0 = now_ms();
    int big = 2.0 * B * 784 * 128 >= 4e6; /* TL_EXEC_SMALL_FLOPS */
    openblas_set_num_threads(big ? openblas_get_num_procs() : 1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, 128, 784, 1, x, 784, w1, 784, 0, h, 128);
    openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, 10, 128, 1, h, 128, w2, 128, 0, y, 10);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 10, 128, n, 1, y, 10, h, 128, 1, g2, 128);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, 128, 10, 1, y, 10, w2, 128, 0, gh, 128);
    openblas_set_num_threads(big ? openblas_get_num_procs() : 1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 128, 784, n, 1, gh, 128, x, 784, 1, g1, 784);
    if (it >= 0)
      times[it] = now_ms() - t0;
  }
  double med = median(times, reps);
  free(x);
  free(w1);
  free(h);
  free(w2);
  free(y);
  free(g1);
  free(g2);
  free(gh);
  free(times);
  return med;
}

int main(int argc, char **argv) {
  int scale = argc > 1 ? atoi(argv[1]) : 1;     /* repetitions multiplier */
  const char *only = argc > 2 ? argv[2] : NULL; /* "mlp" or "cnn": run only that model (profiling) */
  const char *mode = argc > 3 ? argv[3] : NULL; /* "eager" or "compiled": only that mode */
  if (only && strcmp(only, "all") == 0)
    only = NULL;
  if (mode && strcmp(mode, "all") == 0)
    mode = NULL;
  long long onlyb = argc > 4 ? atoll(argv[4]) : 0; /* > 0: only that batch size */
  struct {
    int cnn;
    int64_t b;
    int reps;
  } cases[] = {{0, 1, 200}, {0, 64, 60}, {0, 256, 25}, {1, 64, 40}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *name = cases[i].cnn ? "cnn" : "mlp";
    if ((only && strcmp(only, name) != 0) || (onlyb > 0 && onlyb != cases[i].b))
      continue;
    int reps = cases[i].reps * scale;
    if (!mode || strcmp(mode, "eager") == 0)
      printf("%s %lld eager %.4f\n", name, (long long)cases[i].b,
             bench(cases[i].cnn, cases[i].b, TL_EAGER, reps));
    if (!mode || strcmp(mode, "compiled") == 0)
      printf("%s %lld compiled %.4f\n", name, (long long)cases[i].b,
             bench(cases[i].cnn, cases[i].b, TL_COMPILED, reps));
    if (!cases[i].cnn && !mode)
      printf("%s %lld sgemm %.4f\n", name, (long long)cases[i].b, bench_gemm(cases[i].b, reps));
    fflush(stdout);
  }
  return 0;
}
