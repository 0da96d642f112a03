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
#include <sys/wait.h>

#include "torchlean/exec.h"
#include "torchlean/io.h"
#include "torchlean/model_file.h"
#include "torchlean/onnx.h"
#include "tl_fixtures.h"

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

/* ---- the fused linear is MatMul-then-Add bit for bit (f32-ref kernels) ------------------------ */

/* g with every 3-parent linear(x, W, b) rebuilt as add(matmul(x, W^T), b) (W^T a new parameter) */
static tl_graph *unfuse_linear(const tl_graph *g) {
  tl_graph *u = tl_graph_new();
  int *map = malloc((size_t)g->nnodes * sizeof *map);
  tl_status st;
  cr_assert(u && map);
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    int p[3];
    for (int k = 0; k < n->nparents; k++)
      p[k] = map[n->parents[k]];
    if (n->op == TL_OP_INPUT) {
      cr_assert_eq(tl_graph_input(u, n->name, n->ndim, n->shape, &map[i], &st), TL_OK, "%s", st.msg);
    } else if (n->op == TL_OP_PARAM) {
      cr_assert_eq(
          tl_graph_param(u, n->name, n->pkind, n->ndim, n->shape, tl_graph_param_data(g, i), &map[i], &st),
          TL_OK, "%s", st.msg);
    } else if (n->op == TL_OP_LINEAR && n->nparents == 3 && n->ndim >= 2) {
      const tl_node *w = &g->nodes[n->parents[1]];
      int64_t O = w->shape[0], I = w->shape[1], ts[2] = {I, O};
      float *wt = malloc((size_t)(O * I) * sizeof *wt);
      const float *wd = tl_graph_param_data(g, n->parents[1]);
      for (int64_t o = 0; o < O; o++)
        for (int64_t k = 0; k < I; k++)
          wt[k * O + o] = wd[o * I + k];
      char nm[64];
      snprintf(nm, sizeof nm, "unfused_w%d", i);
      int wid, mm, q[2];
      cr_assert_eq(tl_graph_param(u, nm, TL_PARAM_CONSTANT, 2, ts, wt, &wid, &st), TL_OK, "%s", st.msg);
      free(wt);
      q[0] = p[0], q[1] = wid;
      cr_assert_eq(tl_graph_op(u, TL_OP_MATMUL, 2, q, NULL, &mm, &st), TL_OK, "%s", st.msg);
      q[0] = mm, q[1] = p[2];
      cr_assert_eq(tl_graph_op(u, TL_OP_ADD, 2, q, NULL, &map[i], &st), TL_OK, "%s", st.msg);
    } else {
      cr_assert_eq(tl_graph_op(u, n->op, n->nparents, p, &n->attrs, &map[i], &st), TL_OK, "%s", st.msg);
    }
  }
  for (int k = 0; k < g->noutputs; k++)
    cr_assert_eq(tl_graph_mark_output(u, map[g->outputs[k]], &st), TL_OK);
  free(map);
  return u;
}

static void fused_equals_unfused(const char *path, const float *x) {
  tl_graph *g = NULL;
  tl_status st;
  cr_assert_eq(tl_model_load(path, &g, &st), TL_OK, "%s", st.msg);
  tl_graph *u = unfuse_linear(g);
  int nlin = 0;
  for (int i = 0; i < g->nnodes; i++)
    nlin += g->nodes[i].op == TL_OP_LINEAR;
  cr_assert_gt(nlin, 0, "%s: no linear node", path);
  tl_exec *e1 = run_graph(g, x, TL_KERNELS_REF), *e2 = run_graph(u, x, TL_KERNELS_REF);
  const tl_node *on = &g->nodes[g->outputs[0]];
  cr_assert_eq(memcmp(tl_exec_value(e1, g->outputs[0]), tl_exec_value(e2, u->outputs[0]),
                      (size_t)on->numel * sizeof(float)),
               0, "%s: linear and matmul+add differ", path);
  tl_exec_free(e1);
  tl_exec_free(e2);
  tl_graph_free(u);
  tl_graph_free(g);
}

Test(onnx_import, fused_linear_is_bitwise_matmul_then_add) {
  tl_tensor *x = npy("mlp3d_op11.in.npy");
  fused_equals_unfused(FX "/mlp3d_op11.onnx", x->data);
  tl_tensor_free(x);
  if (!have_bench())
    return;
  tl_tensor *pts = npy("acasxu_points.npy");
  char p[1200];
  snprintf(p, sizeof p, "%s/acasxu/ACASXU_run2a_3_7_batch_2000.onnx", bench_dir());
  for (int64_t i = 0; i < pts->shape[0]; i++)
    fused_equals_unfused(p, (const float *)pts->data + 5 * i);
  tl_tensor_free(pts);
}

/* ---- exporters' quirks ------------------------------------------------------------------------ */

static tl_graph *load_fx(const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", FX, name);
  tl_graph *g = NULL;
  tl_status st;
  cr_assert_eq(tl_model_load(p, &g, &st), TL_OK, "%s", st.msg);
  return g;
}

static int count_op(const tl_graph *g, tl_op op) {
  int k = 0;
  for (int i = 0; i < g->nnodes; i++)
    k += g->nodes[i].op == op;
  return k;
}

Test(onnx_import, quirks_batch_dims_inputs_and_layouts) {
  tl_graph *g = load_fx("mlp_op17_dynbatch.onnx"); /* symbolic batch dimension -> 1 */
  const tl_node *in = &g->nodes[g->inputs[0]];
  cr_assert(in->ndim == 2 && in->shape[0] == 1 && in->shape[1] == 8);
  cr_assert_eq(count_op(g, TL_OP_LINEAR), 3);
  tl_graph_free(g);
  g = load_fx("col784_op13.onnx"); /* [1, 784, 1] input, float_data weights */
  in = &g->nodes[g->inputs[0]];
  cr_assert(in->ndim == 3 && in->shape[1] == 784 && in->shape[2] == 1);
  tl_graph_free(g);
  g = load_fx("gemm_trans_op9.onnx"); /* weights also listed as graph inputs: one INPUT */
  cr_assert_eq(g->ninputs, 1);
  cr_assert_eq(count_op(g, TL_OP_PERMUTE), 1); /* transA */
  tl_graph_free(g);
  g = load_fx("nhwc_op12.onnx"); /* NHWC input then Transpose */
  in = &g->nodes[g->inputs[0]];
  cr_assert(in->ndim == 4 && in->shape[3] == 3);
  cr_assert_eq(g->nodes[g->inputs[0] + 1].op, TL_OP_PERMUTE);
  tl_graph_free(g);
  g = load_fx("dead_branch_op13.onnx"); /* an unused branch (with Erf) is skipped */
  cr_assert_eq(g->nnodes, 2);
  tl_graph_free(g);
  g = load_fx("norm_front_op10.onnx"); /* Sub of a mean, Div by a constant in front */
  cr_assert_eq(count_op(g, TL_OP_SUB), 1);
  cr_assert_eq(count_op(g, TL_OP_DIV), 1);
  tl_graph_free(g);
  if (!have_bench())
    return;
  char p[1200];
  snprintf(p, sizeof p, "%s/acasxu/ACASXU_run2a_1_1_batch_2000.onnx", bench_dir());
  tl_status st;
  cr_assert_eq(tl_onnx_import(p, &g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(g->ninputs, 1); /* MATLAB lists the 15 weights as inputs too */
  in = &g->nodes[g->inputs[0]];
  cr_assert(in->ndim == 4 && in->shape[3] == 5);
  cr_assert_eq(count_op(g, TL_OP_LINEAR), 7);
  cr_assert_eq(count_op(g, TL_OP_MATMUL) + count_op(g, TL_OP_ADD), 0);
  tl_graph_free(g);
}

/* ---- refusals and hostile bytes ---------------------------------------------------------------- */

static void refused(const char *name, tl_code code, const char *const *parts) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", FX, name);
  tl_graph *g = (tl_graph *)1;
  tl_status st;
  cr_assert_eq(tl_onnx_import(p, &g, &st), code, "%s: %s", name, st.msg);
  cr_assert_null(g);
  cr_assert(strstr(st.msg, name), "%s: message does not name the file: %s", name, st.msg);
  cr_assert_null(strchr(st.msg, '\n'), "one line: %s", st.msg);
  for (int k = 0; parts[k]; k++)
    cr_assert(strstr(st.msg, parts[k]), "%s: '%s' missing from: %s", name, parts[k], st.msg);
}

Test(onnx_import, refusals_name_node_op_and_opset) {
  refused("bad_unsupported_op.onnx", TL_EUNSUPPORTED,
          (const char *[]){"node 1", "'bad_node'", "Erf", "opset 13", NULL});
  refused("bad_external_data.onnx", TL_EUNSUPPORTED, (const char *[]){"'W'", "external", NULL});
  refused("bad_shapes.onnx", TL_ESHAPE, (const char *[]){"node 0 'mm'", "MatMul", "opset 13", NULL});
  refused("bad_short_data.onnx", TL_EFORMAT, (const char *[]){"'W'", "raw_data holds 20 bytes", NULL});
  refused("bad_asym_pads.onnx", TL_EUNSUPPORTED,
          (const char *[]){"'conv0'", "Conv", "opset 11", "asymmetric", NULL});
  refused("bad_avgpool_pad.onnx", TL_EUNSUPPORTED,
          (const char *[]){"'pool0'", "AveragePool", "count_include_pad", NULL});
}

Test(onnx_import, every_refusal_is_one_clear_line) {
  static const struct {
    const char *file;
    tl_code code;
    const char *parts[4];
  } cases[] = {
      {"bad_opset19.onnx", TL_EUNSUPPORTED, {"opset 19", "7 to 18"}},
      {"bad_pad_reflect.onnx", TL_EUNSUPPORTED, {"node 0 'p' (Pad, opset 10)", "reflect"}},
      {"bad_slice_negative_step.onnx", TL_EUNSUPPORTED, {"'sl' (Slice, opset 13)", "negative step"}},
      {"bad_bn_training.onnx", TL_EUNSUPPORTED, {"'bn' (BatchNormalization, opset 15)", "training_mode"}},
      {"bad_ceil_mode.onnx", TL_EUNSUPPORTED, {"'mp' (MaxPool, opset 11)", "ceil_mode"}},
      {"bad_cast_int.onnx", TL_EUNSUPPORTED, {"'cast' (Cast, opset 13)", "data type 7"}},
      {"bad_symbolic_feature_dim.onnx", TL_EUNSUPPORTED, {"input 'x'", "dimension 1 is symbolic"}},
      {"bad_double_weight.onnx", TL_EUNSUPPORTED, {"initializer 0 'd'", "data type 11"}},
      {"bad_gemm_beta_runtime_c.onnx", TL_EUNSUPPORTED, {"'gemm' (Gemm, opset 13)", "beta"}},
      {"bad_dropout_training.onnx", TL_EUNSUPPORTED, {"'drop' (Dropout, opset 13)", "training mode"}},
      {"bad_conv1d.onnx", TL_EUNSUPPORTED, {"'c1' (Conv, opset 13)", "rank 3"}},
      {"bad_undefined_input.onnx", TL_EFORMAT, {"'add' (Add, opset 13)", "'nowhere' is not defined"}},
      {"bad_topo_order.onnx", TL_EFORMAT, {"'late' (Relu, opset 13)", "topological"}},
      {"bad_int_into_float.onnx", TL_EUNSUPPORTED, {"'mix' (Add, opset 13)", "integer tensor 'i'"}},
      {"bad_newline_name.onnx", TL_EFORMAT, {"'r' (Relu, opset 13)", "input 'a?b' is not defined"}},
      {"bad_clip_runtime_bound.onnx", TL_EUNSUPPORTED, {"'clip' (Clip, opset 13)", "not a float constant"}},
      {"bad_domain.onnx", TL_EUNSUPPORTED, {"'g' (Gelu, opset 13)", "com.microsoft"}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    refused(cases[i].file, cases[i].code, cases[i].parts);
}

static void *read_all(const char *path, size_t *len) {
  void *buf;
  tl_status st;
  cr_assert_eq(tl_read_file(path, &buf, len, &st), TL_OK, "%s", st.msg);
  return buf;
}

Test(onnx_import, truncated_garbage_and_flipped_bytes_never_crash) {
  size_t len;
  uint8_t *buf = read_all(FX "/cnn_op11.onnx", &len);
  tl_graph *g;
  tl_status st;
  for (size_t n = 0; n < len; n++) { /* every strict prefix is refused */
    cr_assert_neq(tl_onnx_import_buffer(buf, n, "cut.onnx", &g, &st), TL_OK, "prefix of %zu bytes accepted",
                  n);
    cr_assert_null(g);
    cr_assert(strncmp(st.msg, "cut.onnx: ", 10) == 0, "%s", st.msg);
  }
  cr_assert_eq(tl_onnx_import_buffer(buf, len, "whole.onnx", &g, &st), TL_OK, "%s", st.msg);
  tl_graph_free(g);
  for (size_t i = 0; i < len; i++) { /* any single corrupted byte: a clean verdict either way */
    buf[i] ^= 0xA5;
    if (tl_onnx_import_buffer(buf, len, "flip.onnx", &g, &st) == TL_OK)
      tl_graph_free(g);
    buf[i] ^= 0xA5;
  }
  free(buf);
  static const char garbage[] = "\x08\x07\x12\xff\xff\xff\xff\x0f this is not a protobuf";
  cr_assert_eq(tl_onnx_import_buffer(garbage, sizeof garbage, "garbage.onnx", &g, &st), TL_EFORMAT, "%s",
               st.msg);
  cr_assert_neq(tl_onnx_import_buffer("", 0, "empty.onnx", &g, &st), TL_OK);
  /* fuzz_onnx finding: a value name holding a line break broke the one-line message */
  cr_assert_eq(tl_onnx_import(TL_SOURCE_DIR "/tests/fuzz/seeds/onnx/regress_newline_in_name.onnx", &g, &st),
               TL_EFORMAT, "%s", st.msg);
  cr_assert_null(strchr(st.msg, '\n'), "%s", st.msg);
  cr_assert_eq(tl_onnx_import("/nonexistent/x.onnx", &g, &st), TL_EIO);
  cr_assert(strstr(st.msg, "/nonexistent/x.onnx"), "%s", st.msg);
}

Test(onnx_import, sniffing_and_model_load_dispatch) {
  cr_assert_eq(tl_onnx_sniff(FX "/mlp_op13.onnx"), 1);
  cr_assert_eq(tl_onnx_sniff(FX "/mlp_op13.in.npy"), 0);
  cr_assert_eq(tl_onnx_sniff("/nonexistent.onnx"), 0);
  char dir[512], p[700], q[700];
  tl_fx_tempdir(dir, sizeof dir);
  size_t len;
  void *buf = read_all(FX "/mlp_op13.onnx", &len);
  tl_status st;
  snprintf(p, sizeof p, "%s/model_without_extension", dir); /* found by its content */
  cr_assert_eq(tl_write_file_atomic(p, buf, len, &st), TL_OK, "%s", st.msg);
  free(buf);
  tl_graph *g = NULL, *h = NULL;
  cr_assert_eq(tl_model_load(p, &g, &st), TL_OK, "%s", st.msg);
  snprintf(q, sizeof q, "%s/ours_named.onnx", dir); /* our own format wins over the extension */
  cr_assert_eq(tl_model_save(q, g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_onnx_sniff(q), 0);
  cr_assert_eq(tl_model_load(q, &h, &st), TL_OK, "%s", st.msg);
  char a[65], b[65];
  cr_assert_str_eq(tl_graph_hash_hex(g, a), tl_graph_hash_hex(h, b));
  tl_graph_free(g);
  tl_graph_free(h);
  tl_fx_rmdir(dir);
}

/* ---- the CLI: torchlean import, and ONNX wherever a model is taken ------------------------------ */

static int run_cli(const char *args, char *out, size_t cap) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s/tools/torchlean %s 2>&1", TL_BUILD_DIR, args);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *hash_in(const char *s) {
  const char *h = strstr(s, "sha256 ");
  cr_assert_not_null(h, "%s", s);
  return h + 7;
}

Test(onnx_cli, import_then_summary_agree) {
  static char o1[1 << 14], o2[1 << 14], o3[1 << 14];
  char dir[512], args[1500];
  tl_fx_tempdir(dir, sizeof dir);
  snprintf(args, sizeof args, "import %s/cnn_op11.onnx --out %s/cnn.tlm", FX, dir);
  cr_assert_eq(run_cli(args, o1, sizeof o1), 0, "%s", o1);
  cr_assert(strstr(o1, "wrote "), "%s", o1);
  snprintf(args, sizeof args, "summary %s/cnn.tlm", dir);
  cr_assert_eq(run_cli(args, o2, sizeof o2), 0, "%s", o2);
  snprintf(args, sizeof args, "summary %s/cnn_op11.onnx", FX);
  cr_assert_eq(run_cli(args, o3, sizeof o3), 0, "%s", o3);
  cr_assert(strstr(o3, "Conv2d(3, 4") && strstr(o3, "BatchNorm") && strstr(o3, "Linear(24, 5)"), "%s", o3);
  cr_assert_eq(strncmp(hash_in(o1), hash_in(o2), 64), 0); /* same graph through the file */
  cr_assert_eq(strncmp(hash_in(o2), hash_in(o3), 64), 0);
  cr_assert_str_eq(strchr(o2, '\n'), strchr(o3, '\n'));                     /* same layers */
  snprintf(args, sizeof args, "summary /dev/stdin < %s/mlp_op13.onnx", FX); /* a pipe, sniffed */
  cr_assert_eq(run_cli(args, o2, sizeof o2), 0, "%s", o2);
  cr_assert(strstr(o2, "Linear(16, 12)"), "%s", o2);
  tl_fx_rmdir(dir);
}

Test(onnx_cli, import_errors_exit_2_with_one_line) {
  static char o[1 << 14];
  char dir[512], args[1500];
  tl_fx_tempdir(dir, sizeof dir);
  snprintf(args, sizeof args, "import %s/bad_unsupported_op.onnx --out %s/x.tlm", FX, dir);
  cr_assert_eq(run_cli(args, o, sizeof o), 2, "%s", o);
  cr_assert(strstr(o, "node 1 'bad_node' (Erf, opset 13)"), "%s", o);
  cr_assert_eq(strchr(o, '\n'), o + strlen(o) - 1, "one line: %s", o);
  snprintf(args, sizeof args, "summary %s/bad_external_data.onnx", FX);
  cr_assert_eq(run_cli(args, o, sizeof o), 2, "%s", o);
  cr_assert(strstr(o, "external"), "%s", o);
  snprintf(args, sizeof args, "import %s/mlp_op13.onnx", FX);
  cr_assert_eq(run_cli(args, o, sizeof o), 2, "%s", o);
  cr_assert(strstr(o, "--out"), "%s", o);
  snprintf(args, sizeof args, "import %s/mlp_op13.onnx --out %s/no/such/dir/x.tlm", FX, dir);
  cr_assert_eq(run_cli(args, o, sizeof o), 2, "%s", o);
  snprintf(args, sizeof args, "import %s/mlp_op13.onnx --out %s/mlp_op13.onnx", FX, FX);
  cr_assert_eq(run_cli(args, o, sizeof o), 2, "%s", o);
  snprintf(args, sizeof args, "import %s/mlp_op13.in.npy --out %s/x.tlm", FX, dir);
  cr_assert_eq(run_cli(args, o, sizeof o), 2, "%s", o);
  tl_fx_rmdir(dir);
}
