/* test_onnx_import.c - ONNX import: parity of the fixture models (tests/fixtures/onnx, made by
 * make_onnx_fixtures.py) with their recorded PyTorch / numpy outputs, the ACAS Xu and vnncomp2021
 * test networks against an independent numpy evaluation, the exporters' quirks, refusals with one
 * line naming node, op type and opset, and hostile bytes.
 *
 * Tolerances (stated here and in docs/onnx.md):
 *  - fixture models vs PyTorch (float32 both sides, different summation orders and libm):
 *    |ours - torch| <= 1e-5 + 1e-5 |torch| per element;
 *  - ACAS Xu / test networks vs numpy in float64 from the same float32 weights (our float32
 *    rounding, 7 layers of at most 50 terms): |ours - ref| <= 1e-4 + 1e-5 |ref|.
 * The largest errors seen are printed (criterion --verbose shows them). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "torchlean/exec.h"
#include "torchlean/io.h"
#include "torchlean/model_file.h"
#include "torchlean/onnx.h"

#define FX TL_FIXTURES "/onnx"

static const char *bench_dir(void) {
  static char buf[1024];
  const char *env = getenv("TL_BENCHMARKS");
  snprintf(buf, sizeof buf, "%s/vnncomp2021", env ? env : TL_SOURCE_DIR "/../shared/benchmarks");
  return buf;
}

static int have_bench(void) {
  struct stat s;
  char p[1100];
  snprintf(p, sizeof p, "%s/acasxu", bench_dir());
  return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static tl_tensor *npy(const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", FX, name);
  tl_tensor *t = NULL;
  tl_status st;
  cr_assert_eq(tl_npy_read(p, &t, &st), TL_OK, "%s", st.msg);
  return t;
}

/* forward pass of g on one input (FAST or REF kernels); the exec is returned for the outputs */
static tl_exec *run_graph(tl_graph *g, const float *x, tl_kernels k) {
  tl_exec_opts o = tl_exec_opts_default();
  o.kernels = k;
  o.threads = 1;
  tl_exec *e = NULL;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_set_input(e, g->inputs[0], x, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
  return e;
}

static double max_err = 0, max_err_acas = 0;

/* |got - want| <= atol + rtol |want| for every element */
static void check_close(const float *got, const double *want, int64_t n, double atol, double rtol,
                        double *worst, const char *what) {
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - want[i]);
    if (d > *worst)
      *worst = d;
    cr_assert(d <= atol + rtol * fabs(want[i]), "%s: element %lld: %.9g vs %.9g", what, (long long)i,
              (double)got[i], want[i]);
  }
}

static double *as_double(const tl_tensor *t) {
  double *d = malloc((size_t)t->numel * sizeof *d);
  cr_assert_not_null(d);
  for (int64_t i = 0; i < t->numel; i++)
    d[i] = t->dtype == TL_F32 ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
  return d;
}

static void parity_model(const char *name, int nout) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s.onnx", FX, name);
  tl_graph *g = NULL;
  tl_status st;
  cr_assert_eq(tl_model_load(p, &g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(g->noutputs, nout, "%s: %d outputs", name, g->noutputs);
  snprintf(p, sizeof p, "%s.in.npy", name);
  tl_tensor *x = npy(p);
  cr_assert_eq(x->numel, g->nodes[g->inputs[0]].numel, "%s: input size", name);
  for (int k = 0; k < 2; k++) {
    tl_exec *e = run_graph(g, x->data, k ? TL_KERNELS_REF : TL_KERNELS_FAST);
    for (int o = 0; o < nout; o++) {
      snprintf(p, sizeof p, "%s.out%d.npy", name, o);
      tl_tensor *y = npy(p);
      const tl_node *on = &g->nodes[g->outputs[o]];
      cr_assert_eq(on->numel, y->numel, "%s: output %d has %lld elements, want %lld", name, o,
                   (long long)on->numel, (long long)y->numel);
      cr_assert(tl_shape_equal(on->ndim, on->shape, y->ndim, y->shape), "%s: output %d shape", name, o);
      double *want = as_double(y);
      snprintf(p, sizeof p, "%s output %d (%s kernels)", name, o, k ? "ref" : "fast");
      check_close(tl_exec_value(e, g->outputs[o]), want, y->numel, 1e-5, 1e-5, &max_err, p);
      free(want);
      tl_tensor_free(y);
    }
    tl_exec_free(e);
  }
  tl_tensor_free(x);
  tl_graph_free(g);
}

Test(onnx_parity, fixture_models_match_pytorch) {
  FILE *f = fopen(FX "/manifest.txt", "r");
  cr_assert_not_null(f);
  char line[256], name[128];
  int nout, count = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || sscanf(line, "%127s %d", name, &nout) != 2)
      continue;
    parity_model(name, nout);
    count++;
  }
  fclose(f);
  cr_assert_geq(count, 15);
  cr_log_info("%d fixture models, max |ours - pytorch| = %.3g", count, max_err);
}

/* import through tl_model_load; output at one (1,1,1,5)-shaped point */
static void eval_net(const char *path, const float *x, int64_t nin, float *y, int64_t nout, tl_kernels k) {
  tl_graph *g = NULL;
  tl_status st;
  cr_assert_eq(tl_model_load(path, &g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(g->ninputs, 1);
  cr_assert_eq(g->noutputs, 1);
  cr_assert_eq(g->nodes[g->inputs[0]].numel, nin, "%s: input size", path);
  cr_assert_eq(g->nodes[g->outputs[0]].numel, nout, "%s: output size", path);
  tl_exec *e = run_graph(g, x, k);
  memcpy(y, tl_exec_value(e, g->outputs[0]), (size_t)nout * sizeof *y);
  tl_exec_free(e);
  tl_graph_free(g);
}

Test(onnx_parity, acasxu_networks_match_numpy) {
  if (!have_bench())
    cr_skip_test("benchmarks not found at %s (set TL_BENCHMARKS)", bench_dir());
  tl_tensor *pts = npy("acasxu_points.npy"), *ref = npy("acasxu_expected.npy");
  int64_t P = pts->shape[0];
  double *want = as_double(ref);
  for (int a = 1; a <= 5; a++)
    for (int b = 1; b <= 9; b++) {
      char p[1200];
      snprintf(p, sizeof p, "%s/acasxu/ACASXU_run2a_%d_%d_batch_2000.onnx", bench_dir(), a, b);
      for (int64_t i = 0; i < P; i++)
        for (int k = 0; k < 2; k++) {
          float y[5];
          eval_net(p, (const float *)pts->data + 5 * i, 5, y, 5, k ? TL_KERNELS_REF : TL_KERNELS_FAST);
          check_close(y, want + (((a - 1) * 9 + b - 1) * P + i) * 5, 5, 1e-4, 1e-5, &max_err_acas, p);
        }
    }
  cr_log_info("45 ACAS Xu networks x %lld points: max |ours - numpy| = %.3g", (long long)P, max_err_acas);
  free(want);
  tl_tensor_free(pts);
  tl_tensor_free(ref);
}

Test(onnx_parity, vnncomp_test_networks_match_numpy) {
  if (!have_bench())
    cr_skip_test("benchmarks not found at %s (set TL_BENCHMARKS)", bench_dir());
  static const char *names[] = {"test_nano", "test_tiny", "test_small", "test_sat", "test_unsat"};
  static const double tp[] = {-1.0, 0.25, 2.0};
  tl_tensor *ref = npy("vnntest_expected.npy");
  double *want = as_double(ref), worst = 0;
  for (int n = 0; n < 5; n++)
    for (int i = 0; i < 3; i++) {
      char p[1200];
      snprintf(p, sizeof p, "%s/test/%s.onnx", bench_dir(), names[n]);
      int acas = n >= 3;
      float x[5], y[5];
      for (int k = 0; k < 5; k++)
        x[k] = (float)(acas ? tp[i] * 0.1 : tp[i]);
      eval_net(p, x, acas ? 5 : 1, y, acas ? 5 : 1, TL_KERNELS_REF);
      check_close(y, want + (n * 3 + i) * 5, acas ? 5 : 1, 1e-4, 1e-5, &worst, p);
    }
  free(want);
  tl_tensor_free(ref);
}
