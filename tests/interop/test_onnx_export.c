/* test_onnx_export.c - ONNX export (include/torchlean/onnx.h, runtime/interop/onnx_export*.c).
 *
 * The C side exports the zoo models (mlp, cnn, resnet small, both transformers), a training graph
 * whose output is a loss, and random cases of every op (tests/support/opcases.c), runs each graph
 * on the float32 runtime and writes the inputs, outputs and parameters as .npy next to the .onnx
 * with a manifest; tests/interop/check_onnx_export.py (Debian's /usr/bin/python3 with python3-onnx,
 * python3-numpy and python3-torch) then runs onnx.checker (full check), compares initializers bit
 * for bit, evaluates every model with its own numpy interpreter against our outputs, checks that a
 * symbolic batch is really free, and runs the PyTorch snippet of docs/pytorch.md on our model files.
 * The C side also checks refusals, names, the batch decision and the CLI. */
#define _GNU_SOURCE /* memmem, popen */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opcases.h"
#include "tl_fixtures.h"
#include "torchlean/onnx.h"
#include "torchlean/torchlean.h"

static int add_op(tl_graph *g, tl_op op, int np, const int *p, const tl_attrs *a);

/* ---- writing a case ---------------------------------------------------------------------------- */

typedef struct suite {
  char dir[256];
  FILE *man;
  int ncases;
} suite;

static void suite_open(suite *s) {
  tl_fx_tempdir(s->dir, sizeof s->dir);
  char path[320];
  snprintf(path, sizeof path, "%s/manifest.txt", s->dir);
  s->man = fopen(path, "w");
  cr_assert_not_null(s->man);
  s->ncases = 0;
}

static void write_npy(const char *path, int ndim, const int64_t *shape, const float *v) {
  tl_tensor *t;
  tl_status st;
  cr_assert_eq(tl_tensor_from(&t, TL_F32, ndim, shape, v, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_npy_write(path, t, NULL, &st), TL_OK, "%s", st.msg);
  tl_tensor_free(t);
}

/* the node an exported output shows: a loss's prediction */
static int shown(const tl_graph *g, int o) {
  while (g->nodes[o].op == TL_OP_MSE_LOSS || g->nodes[o].op == TL_OP_CROSS_ENTROPY)
    o = g->nodes[o].parents[0];
  return o;
}

/* Export g to <name>.onnx, run it on `inputs` (one array per g->inputs entry, in order) and write
 * the case's manifest lines.  `dropped` (or NULL) names an input the export must leave out.
 * want_sym: 1 or 0 to assert the batch decision, -1 to accept either. */
static void add_case(suite *s, const char *name, tl_graph *g, float **inputs, double tol, const char *dropped,
                     int want_sym) {
  char file[64], path[512];
  int k = s->ncases++;
  snprintf(file, sizeof file, "c%d.onnx", k);
  snprintf(path, sizeof path, "%s/%s", s->dir, file);
  tl_onnx_export_info info;
  tl_status st;
  cr_assert_eq(tl_onnx_export_ex(path, g, NULL, &info, &st), TL_OK, "%s: %s", name, st.msg);
  if (want_sym >= 0)
    cr_assert_eq(info.symbolic_batch, want_sym, "%s: symbolic batch %d", name, info.symbolic_batch);
  fprintf(s->man, "case %s %s %g\nsym %d\n", name, file, tol, info.symbolic_batch);
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = TL_COMPILED;
  tl_exec *e;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s: %s", name, st.msg);
  for (int i = 0; i < g->ninputs; i++) {
    const tl_node *n = &g->nodes[g->inputs[i]];
    cr_assert_eq(tl_exec_set_input(e, g->inputs[i], inputs[i], &st), TL_OK, "%s", st.msg);
    if (dropped && strcmp(n->name, dropped) == 0)
      continue;
    snprintf(file, sizeof file, "c%d.in%d.npy", k, i);
    snprintf(path, sizeof path, "%s/%s", s->dir, file);
    write_npy(path, n->ndim, n->shape, inputs[i]);
    fprintf(s->man, "in %s %s\n", n->name, file);
  }
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s: %s", name, st.msg);
  for (int i = 0; i < g->noutputs; i++) {
    int id = shown(g, g->outputs[i]);
    snprintf(file, sizeof file, "c%d.out%d.npy", k, i);
    snprintf(path, sizeof path, "%s/%s", s->dir, file);
    cr_assert_not_null(tl_exec_value(e, id));
    write_npy(path, g->nodes[id].ndim, g->nodes[id].shape, tl_exec_value(e, id));
    fprintf(s->man, "out %s\n", file);
  }
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM)
      continue;
    snprintf(file, sizeof file, "c%d.p%d.npy", k, i);
    snprintf(path, sizeof path, "%s/%s", s->dir, file);
    write_npy(path, n->ndim, n->shape, g->weights + n->woff);
    fprintf(s->man, "param %s %s\n", n->name, file);
  }
  tl_exec_free(e);
}

static int run_checker(const suite *s, int with_docs) {
  fclose((FILE *)s->man);
  cr_assert_eq(system("/usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null"), 0,
               "/usr/bin/python3 with the onnx and numpy modules is required: apt install python3-onnx "
               "python3-numpy (scripts/setup.sh)");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/interop/check_onnx_export.py %s/manifest.txt %s%s",
           TL_SOURCE_DIR, s->dir, with_docs ? TL_SOURCE_DIR : "", with_docs ? "/docs/pytorch.md" : "");
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* uniform [-1, 1) floats */
static float *randu(tl_rng *r, int64_t n) {
  float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++)
    v[i] = (float)(2 * tl_rng_uniform(r) - 1);
  return v;
}

/* Trained-looking parameters: biases, norm scales and shifts off their init values, batch-norm
 * statistics away from (0, 1), so that every parameter changes the outputs. */
static void perturb(tl_graph *g, tl_rng *r) {
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM || n->pkind == TL_PARAM_CONSTANT)
      continue;
    float *w = g->weights + n->woff;
    int var = strstr(n->name, "running_var") != NULL;
    for (int64_t j = 0; j < n->numel; j++) {
      if (var)
        w[j] = (float)(0.5 + tl_rng_uniform(r));
      else if (n->ndim == 1)
        w[j] += (float)(0.4 * tl_rng_uniform(r) - 0.2);
    }
  }
}

static void model_case(suite *s, const char *name, tl_model *m, int64_t batch, double tol, int tokens) {
  tl_status st;
  cr_assert_eq(tl_model_status(m, &st), TL_OK, "%s", st.msg);
  tl_graph *g;
  cr_assert_eq(tl_model_trace(m, batch, &g, &st), TL_OK, "%s", st.msg);
  tl_rng r;
  tl_rng_init(&r, 77);
  perturb(g, &r);
  const tl_node *x = &g->nodes[g->inputs[0]];
  float *in = randu(&r, x->numel);
  for (int64_t i = 0; tokens && i < x->numel; i++) /* token ids in [0, tokens) */
    in[i] = (float)tl_rng_below(&r, (uint64_t)tokens);
  add_case(s, name, g, &in, tol, NULL, 1);
  free(in);
  tl_graph_free(g);
  tl_model_free(m);
}

/* ---- random cases of every op ---------------------------------------------------------------------- */

/* graph of one op from case c: parent 0 an input, the others inputs (weights = 0) or parameters */
static tl_graph *op_graph(const tcase *c, tl_rng *r, int weights, float **inputs) {
  tl_graph *g = tl_graph_new();
  int ids[5], nin = 0;
  tl_status st;
  for (int k = 0; k < c->np; k++) {
    int64_t n = 1;
    for (int i = 0; i < c->nd[k]; i++)
      n *= c->sh[k][i];
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    opcase_fill(r, c, k, v, n);
    char nm[16];
    snprintf(nm, sizeof nm, weights && k ? "w%d" : "x%d", k);
    if (weights && k) {
      cr_assert_eq(tl_graph_param(g, nm, TL_PARAM_TRAINABLE, c->nd[k], c->sh[k], v, &ids[k], &st), TL_OK);
      free(v);
    } else {
      cr_assert_eq(tl_graph_input(g, nm, c->nd[k], c->sh[k], &ids[k], &st), TL_OK);
      inputs[nin++] = v;
    }
  }
  int y;
  cr_assert_eq(tl_graph_op(g, c->op, c->np, ids, &c->a, &y, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_mark_output(g, y, &st), TL_OK);
  return g;
}

static void op_cases(suite *s, int seeds) {
  for (int op = TL_OP_INPUT + 1; op < TL_OP_COUNT; op++) {
    if (op == TL_OP_PARAM || op == TL_OP_MSE_LOSS || op == TL_OP_CROSS_ENTROPY)
      continue;
    for (int seed = 0; seed < seeds; seed++) {
      tl_rng r;
      tl_rng_init(&r, 1000u * (uint64_t)op + (uint64_t)seed);
      tcase c;
      opcase_make((tl_op)op, &r, &c);
      float *inputs[5] = {0};
      tl_graph *g = op_graph(&c, &r, seed & 1, inputs);
      char name[64];
      snprintf(name, sizeof name, "%s#%d", tl_op_get((tl_op)op)->name, seed);
      add_case(s, name, g, inputs, 1e-6, NULL, -1);
      for (int k = 0; k < 5; k++)
        free(inputs[k]);
      tl_graph_free(g);
    }
  }
}

/* ---- the tests ----------------------------------------------------------------------------------- */

Test(onnx_export, zoo_models_and_every_op_check_and_evaluate_in_python, .timeout = 600) {
  suite s;
  suite_open(&s);
  int64_t img[3] = {1, 8, 8}, hidden[2] = {32, 16};
  double norm[2] = {0.5, 0.25};
  model_case(&s, "zoo_mlp", tl_zoo_mlp(1, 3, img, 2, hidden, 10, norm), 4, 2e-5, 0);
  model_case(&s, "zoo_cnn", tl_zoo_cnn(2, 1, 28, 10, norm), 3, 2e-5, 0);
  model_case(&s, "zoo_resnet_small", tl_zoo_resnet(3, "small", 3, 32, 10), 2, 2e-5, 0);
  model_case(&s, "zoo_transformer", tl_zoo_transformer(4, 11, 6, 8, 2, 16, 2, 3), 3, 2e-5, 11);
  model_case(&s, "zoo_row_transformer", tl_zoo_row_transformer(5, 1, 6, 5, 8, 2, 16, 1, 4, norm), 2, 2e-5, 0);
  op_cases(&s, 6);
  /* outputs that are an input, a parameter and a repeat: Identity nodes, same number and order */
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {3, 2};
  int x, w, r;
  float wv[2] = {0.5f, -2.0f}, *in = NULL;
  tl_rng rng;
  tl_rng_init(&rng, 3);
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 1, xs + 1, wv, &w, NULL), TL_OK);
  int p[2] = {x, w};
  r = add_op(g, TL_OP_MUL, 2, p, NULL);
  int outs[4] = {x, r, w, r};
  for (int k = 0; k < 4; k++)
    cr_assert_eq(tl_graph_mark_output(g, outs[k], NULL), TL_OK);
  in = randu(&rng, 6);
  add_case(&s, "identity_outputs", g, &in, 1e-6, NULL, 1);
  free(in);
  tl_graph_free(g);
  int rc = run_checker(&s, 0);
  cr_assert_eq(rc, 0, "check_onnx_export.py failed (%d); files kept in %s", rc, s.dir);
  tl_fx_rmdir(s.dir);
}

/* a training graph: outputs logits and cross_entropy(logits, labels).  The export has two outputs,
 * both the logits (the second an Identity); the labels input is dropped. */
Test(onnx_export, loss_output_exports_its_prediction) {
  suite s;
  suite_open(&s);
  int64_t in[1] = {6}, hidden[1] = {5};
  tl_model *m = tl_zoo_mlp(9, 1, in, 1, hidden, 3, NULL);
  tl_graph *g;
  cr_assert_eq(tl_model_trace(m, 4, &g, NULL), TL_OK);
  int64_t ys[2] = {4, 3};
  int y, loss, logits = g->outputs[0];
  tl_status st;
  cr_assert_eq(tl_graph_input(g, "labels", 2, ys, &y, &st), TL_OK);
  int p[2] = {logits, y};
  cr_assert_eq(tl_graph_op(g, TL_OP_CROSS_ENTROPY, 2, p, NULL, &loss, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_mark_output(g, loss, &st), TL_OK); /* outputs: logits, loss */
  tl_onnx_export_info info;
  void *buf;
  size_t len;
  cr_assert_eq(tl_onnx_export_buffer(g, NULL, &buf, &len, &info, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(info.losses_dropped, 1);
  cr_assert_eq(info.symbolic_batch, 1);
  free(buf);
  tl_rng r;
  tl_rng_init(&r, 5);
  float *inputs[2] = {randu(&r, 24), randu(&r, 12)};
  add_case(&s, "mlp_with_loss", g, inputs, 1e-5, "labels", 1);
  free(inputs[0]), free(inputs[1]);
  cr_assert_eq(run_checker(&s, 0), 0, "files kept in %s", s.dir);
  tl_fx_rmdir(s.dir);
  tl_graph_free(g);
  tl_model_free(m);
}

static tl_graph *tiny(int64_t batch, int *x, const char *wname) {
  tl_graph *g = tl_graph_new();
  int64_t xs[2] = {batch, 4}, ws[2] = {3, 4};
  float w[12] = {0};
  int wid;
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, x, NULL), TL_OK);
  cr_assert_eq(tl_graph_param(g, wname, TL_PARAM_TRAINABLE, 2, ws, w, &wid, NULL), TL_OK);
  int p[2] = {*x, wid}, y;
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 2, p, NULL, &y, NULL), TL_OK);
  cr_assert_eq(tl_graph_mark_output(g, y, NULL), TL_OK);
  return g;
}

static tl_code export_mem(const tl_graph *g, const tl_onnx_export_opts *o, tl_onnx_export_info *info,
                          tl_status *st) {
  void *buf = NULL;
  size_t len = 0;
  tl_code rc = tl_onnx_export_buffer(g, o, &buf, &len, info, st);
  cr_assert(rc == TL_OK ? buf != NULL && len > 0 : buf == NULL);
  free(buf);
  return rc;
}

static int add_op(tl_graph *g, tl_op op, int np, const int *p, const tl_attrs *a) {
  int id;
  tl_status st;
  cr_assert_eq(tl_graph_op(g, op, np, p, a, &id, &st), TL_OK, "%s", st.msg);
  return id;
}

Test(onnx_export, batch_is_symbolic_only_when_samples_stay_apart) {
  int x;
  tl_onnx_export_info info;
  tl_graph *g = tiny(3, &x, "fc.weight");
  cr_assert_eq(export_mem(g, NULL, &info, NULL), TL_OK);
  cr_assert_eq(info.symbolic_batch, 1);
  tl_onnx_export_opts o = tl_onnx_export_opts_default();
  o.fixed_batch = 1;
  cr_assert_eq(export_mem(g, &o, &info, NULL), TL_OK);
  cr_assert_eq(info.symbolic_batch, 0);
  /* a mean over the batch axis mixes samples: fixed batch */
  tl_attrs a = tl_attrs_default(TL_OP_MEAN);
  int64_t axes[1] = {0};
  a.list = axes, a.nlist = 1;
  int out = g->outputs[0];
  g->outputs[0] = add_op(g, TL_OP_MEAN, 1, &out, &a);
  cr_assert_eq(export_mem(g, NULL, &info, NULL), TL_OK);
  cr_assert_eq(info.symbolic_batch, 0);
  /* softmax over axis 0, a reshape that moves the batch, a weight shaped by the batch: fixed */
  tl_attrs sa = tl_attrs_default(TL_OP_SOFTMAX);
  sa.axis = 0;
  g->outputs[0] = add_op(g, TL_OP_SOFTMAX, 1, &out, &sa);
  cr_assert_eq(export_mem(g, NULL, &info, NULL), TL_OK);
  cr_assert_eq(info.symbolic_batch, 0);
  tl_attrs ra = tl_attrs_default(TL_OP_RESHAPE);
  int64_t flat[1] = {9};
  ra.list = flat, ra.nlist = 1;
  g->outputs[0] = add_op(g, TL_OP_RESHAPE, 1, &out, &ra);
  cr_assert_eq(export_mem(g, NULL, &info, NULL), TL_OK);
  cr_assert_eq(info.symbolic_batch, 0);
  int64_t bs[2] = {3, 3};
  int b;
  cr_assert_eq(tl_graph_param(g, "per_sample", TL_PARAM_CONSTANT, 2, bs, NULL, &b, NULL), TL_OK);
  int p[2] = {out, b};
  g->outputs[0] = add_op(g, TL_OP_ADD, 2, p, NULL);
  cr_assert_eq(export_mem(g, NULL, &info, NULL), TL_OK);
  cr_assert_eq(info.symbolic_batch, 0);
  tl_graph_free(g);
}

Test(onnx_export, refusals_name_the_node_and_op) {
  tl_graph *g = tl_graph_new();
  int64_t xs[4] = {1, 2, 6, 6};
  int x;
  tl_status st;
  cr_assert_eq(tl_graph_input(g, "img", 4, xs, &x, NULL), TL_OK);
  tl_attrs a = tl_attrs_default(TL_OP_AVG_POOL2D);
  a.kernel[0] = a.kernel[1] = 2;
  a.stride[0] = a.stride[1] = 1;
  a.dilation[0] = a.dilation[1] = 2;
  int y = add_op(g, TL_OP_AVG_POOL2D, 1, &x, &a);
  cr_assert_eq(tl_graph_set_name(g, y, "blur", NULL), TL_OK);
  cr_assert_eq(tl_graph_mark_output(g, y, NULL), TL_OK);
  cr_assert_eq(export_mem(g, NULL, NULL, &st), TL_EUNSUPPORTED);
  cr_assert(strstr(st.msg, "node 1 (avg_pool2d 'blur')") && strstr(st.msg, "dilation"), "%s", st.msg);
  tl_graph_free(g);

  /* a loss feeding another op is training-only: refused */
  g = tl_graph_new();
  int64_t s2[2] = {2, 3};
  int t, l;
  cr_assert_eq(tl_graph_input(g, "x", 2, s2, &x, NULL), TL_OK);
  cr_assert_eq(tl_graph_input(g, "t", 2, s2, &t, NULL), TL_OK);
  int p[2] = {x, t};
  l = add_op(g, TL_OP_MSE_LOSS, 2, p, NULL);
  int r = add_op(g, TL_OP_SQRT, 1, &l, NULL); /* a unary op on a rank-0 parent (was UB in copy_shape) */
  cr_assert_eq(tl_graph_mark_output(g, r, NULL), TL_OK);
  cr_assert_eq(export_mem(g, NULL, NULL, &st), TL_EUNSUPPORTED);
  cr_assert(strstr(st.msg, "node 2 (mse_loss)") && strstr(st.msg, "training-only"), "%s", st.msg);
  tl_graph_free(g);

  /* no outputs */
  g = tl_graph_new();
  cr_assert_eq(tl_graph_input(g, "x", 2, s2, &x, NULL), TL_OK);
  cr_assert_eq(export_mem(g, NULL, NULL, &st), TL_EARG);
  cr_assert(strstr(st.msg, "no outputs"), "%s", st.msg);
  tl_graph_free(g);
  cr_assert_eq(tl_onnx_export_buffer(NULL, NULL, NULL, NULL, NULL, &st), TL_EARG);
}

/* names: parameters keep their names even when an unnamed op node's default name ("<op>_<id>")
 * is taken; the file is written atomically (a failed export leaves an existing file alone) */
Test(onnx_export, names_unique_and_params_exact) {
  int x;
  tl_graph *g = tiny(2, &x, "linear_2"); /* node 2 is the linear op */
  char dir[256], path[320];
  tl_fx_tempdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  tl_status st;
  cr_assert_eq(tl_onnx_export(path, g, &st), TL_OK, "%s", st.msg);
  void *d;
  size_t n;
  cr_assert_eq(tl_read_file(path, &d, &n, NULL), TL_OK);
  cr_assert(memmem(d, n, "linear_2_2", 10) != NULL, "the op node was renamed");
  cr_assert(memmem(d, n, "torchlean", 9) != NULL);
  /* a refused graph leaves the old file as it was */
  tl_graph *bad = tl_graph_new();
  int64_t xs[4] = {1, 1, 5, 5};
  int bx;
  cr_assert_eq(tl_graph_input(bad, "x", 4, xs, &bx, NULL), TL_OK);
  tl_attrs pa = tl_attrs_default(TL_OP_AVG_POOL2D);
  pa.kernel[0] = pa.kernel[1] = 2;
  pa.stride[0] = pa.stride[1] = 1;
  pa.dilation[0] = pa.dilation[1] = 2;
  int y = add_op(bad, TL_OP_AVG_POOL2D, 1, &bx, &pa);
  cr_assert_eq(tl_graph_mark_output(bad, y, NULL), TL_OK);
  cr_assert_eq(tl_onnx_export(path, bad, &st), TL_EUNSUPPORTED);
  cr_assert(strncmp(st.msg, path, strlen(path)) == 0, "message starts with the path: %s", st.msg);
  void *d2;
  size_t n2;
  cr_assert_eq(tl_read_file(path, &d2, &n2, NULL), TL_OK);
  cr_assert(n2 == n && memcmp(d, d2, n) == 0);
  cr_assert_eq(tl_fx_count_entries(dir), 1, "no temporary file left behind");
  free(d), free(d2);
  tl_graph_free(bad);
  tl_graph_free(g);
  tl_fx_rmdir(dir);
}

/* ---- the CLI and the PyTorch snippet of docs/pytorch.md ------------------------------------------ */

static int cli(const char *args, char *out, size_t cap) {
  char cmd[1536];
  snprintf(cmd, sizeof cmd, "%s/tools/torchlean %s 2>&1", TL_BUILD_DIR, args);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* save the model traced at batch 1 (as `torchlean train` does), export it with the CLI, and record
 * the runtime's outputs on a batch of `batch` for both the ONNX check and the docs' PyTorch check */
static void cli_model(suite *s, const char *kind, tl_model *m, int64_t batch, const char *torch_args) {
  char model[320], onnx[320], args[1024], out[4096];
  tl_graph *g1, *g;
  tl_rng r;
  tl_rng_init(&r, 11);
  perturb(m->g, &r);
  cr_assert_eq(tl_model_trace(m, 1, &g1, NULL), TL_OK);
  snprintf(model, sizeof model, "%s/%s.safetensors", s->dir, kind);
  cr_assert_eq(tl_model_save(model, g1, NULL), TL_OK);
  snprintf(onnx, sizeof onnx, "%s/%s_cli.onnx", s->dir, kind);
  snprintf(args, sizeof args, "export %s --format onnx --out %s", model, onnx);
  cr_assert_eq(cli(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "batch symbolic N"), "%s", out);
  /* the runtime on a bigger batch; the ONNX file from the CLI must reproduce it (free batch) */
  cr_assert_eq(tl_model_trace(m, batch, &g, NULL), TL_OK);
  float *x = randu(&r, g->nodes[g->inputs[0]].numel);
  int k = s->ncases;
  add_case(s, kind, g, &x, 1e-5, NULL, 1);
  fprintf(s->man, "case %s_cli %s_cli.onnx 1e-5\nsym 1\nin x c%d.in0.npy\nout c%d.out0.npy\n", kind, kind, k,
          k);
  fprintf(s->man, "torch %s %s.safetensors c%d.in0.npy c%d.out0.npy %s\n", kind, kind, k, k, torch_args);
  free(x);
  tl_graph_free(g);
  tl_graph_free(g1);
  tl_model_free(m);
}

Test(onnx_export, cli_and_pytorch_docs_snippet, .timeout = 300) {
  suite s;
  suite_open(&s);
  int64_t img[3] = {1, 6, 6}, hidden[2] = {12, 8};
  double norm[2] = {0.3, 0.2};
  cli_model(&s, "mlp", tl_zoo_mlp(21, 3, img, 2, hidden, 5, norm), 3, "36 12,8 5");
  cli_model(&s, "cnn", tl_zoo_cnn(22, 1, 12, 4, norm), 2, "4 1 12");
  cr_assert_eq(system("/usr/bin/python3 -c 'import torch' 2>/dev/null"), 0,
               "/usr/bin/python3 with torch is required for the docs check: apt install python3-torch");
  cr_assert_eq(run_checker(&s, 1), 0, "files kept in %s", s.dir);

  char args[1024], out[4096], model[320];
  snprintf(model, sizeof model, "%s/cnn.safetensors", s.dir);
  snprintf(args, sizeof args, "export %s --format onnx", model);
  cr_assert_eq(cli(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "--format onnx needs --out"), "%s", out);
  snprintf(args, sizeof args, "export %s --format onnx --out %s/nodir/m.onnx", model, s.dir);
  cr_assert_eq(cli(args, out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "export %s --format onnx --weights --out %s/w.onnx", model, s.dir);
  cr_assert_eq(cli(args, out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "export %s --fixed-batch", model);
  cr_assert_eq(cli(args, out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "export %s/missing.safetensors --format onnx --out %s/m.onnx", s.dir, s.dir);
  cr_assert_eq(cli(args, out, sizeof out), 2, "%s", out);
  snprintf(args, sizeof args, "export %s --format onnx --fixed-batch --out %s/fixed.onnx", model, s.dir);
  cr_assert_eq(cli(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "batch fixed"), "%s", out);

  /* a model the exporter refuses: exit 2, one line naming the node and op, no file written */
  tl_graph *g = tl_graph_new();
  int64_t xs[4] = {1, 1, 6, 6};
  int x;
  cr_assert_eq(tl_graph_input(g, "x", 4, xs, &x, NULL), TL_OK);
  tl_attrs pa = tl_attrs_default(TL_OP_AVG_POOL2D);
  pa.kernel[0] = pa.kernel[1] = 2;
  pa.stride[0] = pa.stride[1] = 1;
  pa.dilation[0] = pa.dilation[1] = 2;
  int y = add_op(g, TL_OP_AVG_POOL2D, 1, &x, &pa);
  cr_assert_eq(tl_graph_mark_output(g, y, NULL), TL_OK);
  snprintf(model, sizeof model, "%s/dilated.safetensors", s.dir);
  cr_assert_eq(tl_model_save(model, g, NULL), TL_OK);
  tl_graph_free(g);
  snprintf(args, sizeof args, "export %s --format onnx --out %s/dilated.onnx", model, s.dir);
  cr_assert_eq(cli(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "torchlean export: ") == out && strstr(out, "node 1 (avg_pool2d)"), "%s", out);
  cr_assert(strchr(out, '\n') == out + strlen(out) - 1, "one line: %s", out);
  snprintf(args, sizeof args, "%s/dilated.onnx", s.dir);
  cr_assert(access(args, F_OK) != 0, "no file written");
  tl_fx_rmdir(s.dir);
}
