/* test_onnx_roundtrip.c - import(export(g)): the ONNX exporter (onnx_export*.c) against the
 * importer (onnx_import*.c).
 *
 * The zoo's MLP, CNN and small ResNet must come back and give the float32 runtime's outputs bit
 * for bit, traced at batch 1 with the symbolic batch (the importer reads N as 1) and at batch 3
 * with a fixed batch.  Op cases at a symbolic batch B > 1 come back at batch 1: they are compared
 * on the first sample.  For the transformers and every op case (tests/support/opcases.c) the
 * import must either give the same bits, or, for the ops the exporter writes as several ONNX
 * nodes (gelu, silu, layer_norm, attention: another float program for the same real function),
 * values within 1e-5 of ours; or be refused with TL_EUNSUPPORTED naming the ONNX op.  Never a
 * crash, never a silently different function.  What the importer refuses is logged. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcases.h"
#include "torchlean/onnx.h"
#include "torchlean/torchlean.h"

/* forward of g on inputs (one array per g->inputs entry); the outputs' values copied into out[k] */
static void run(tl_graph *g, float **inputs, float **out) {
  tl_exec_opts o = tl_exec_opts_default();
  o.mode = TL_COMPILED;
  tl_exec *e;
  tl_status st;
  cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
  for (int i = 0; i < g->ninputs; i++)
    cr_assert_eq(tl_exec_set_input(e, g->inputs[i], inputs[i], &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s", st.msg);
  for (int k = 0; k < g->noutputs; k++) {
    const tl_node *n = &g->nodes[g->outputs[k]];
    out[k] = malloc((size_t)(n->numel > 0 ? n->numel : 1) * sizeof(float));
    memcpy(out[k], tl_exec_value(e, g->outputs[k]), (size_t)n->numel * sizeof(float));
  }
  tl_exec_free(e);
}

typedef enum { RT_SAME_BITS, RT_CLOSE, RT_REFUSED } rt_result;

/* export g, import it back; compare outputs on `inputs`.  tol 0: bits must match. */
static rt_result roundtrip(const char *name, tl_graph *g, float **inputs, int fixed, double tol, char *why,
                           size_t cap) {
  tl_onnx_export_opts o = tl_onnx_export_opts_default();
  o.fixed_batch = fixed;
  void *buf;
  size_t len;
  tl_status st;
  cr_assert_eq(tl_onnx_export_buffer(g, &o, &buf, &len, NULL, &st), TL_OK, "%s: %s", name, st.msg);
  tl_graph *h = NULL;
  tl_code rc = tl_onnx_import_buffer(buf, len, name, &h, &st);
  free(buf);
  if (rc != TL_OK) {
    cr_assert_eq(rc, TL_EUNSUPPORTED, "%s: import failed with %s: %s", name, tl_code_name(rc), st.msg);
    snprintf(why, cap, "%s", st.msg);
    return RT_REFUSED;
  }
  cr_assert_eq(h->ninputs, g->ninputs, "%s", name);
  for (int i = 0; i < g->ninputs; i++) /* same inputs, or the same with a batch of 1 */
    cr_assert(h->nodes[h->inputs[i]].numel <= g->nodes[g->inputs[i]].numel, "%s: input %d", name, i);
  cr_assert_eq(h->noutputs, g->noutputs, "%s", name);
  float *a[4], *b[4];
  run(g, inputs, a);
  run(h, inputs, b);
  rt_result res = RT_SAME_BITS;
  for (int k = 0; k < g->noutputs; k++) {
    const tl_node *na = &g->nodes[g->outputs[k]], *nb = &h->nodes[h->outputs[k]];
    /* a symbolic batch comes back as 1: the import runs on the first sample of each input (the
     * first rows, row-major) and gives the first rows of our outputs */
    cr_assert(
        nb->numel == na->numel || (nb->ndim == na->ndim && nb->shape[0] == 1 && na->numel % nb->numel == 0),
        "%s: output %d has %lld elements, %lld before", name, k, (long long)nb->numel, (long long)na->numel);
    if (memcmp(a[k], b[k], (size_t)nb->numel * sizeof(float)) != 0)
      res = RT_CLOSE;
    for (int64_t i = 0; i < nb->numel; i++)
      cr_assert(fabs((double)a[k][i] - b[k][i]) <= tol * (1 + fabs((double)a[k][i])),
                "%s: output %d[%lld]: %a after the round trip, %a before (tolerance %g)", name, k,
                (long long)i, (double)b[k][i], (double)a[k][i], tol);
    free(a[k]), free(b[k]);
  }
  tl_graph_free(h);
  return res;
}

static float *randu(tl_rng *r, int64_t n, int tokens) {
  float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++)
    v[i] = tokens ? (float)tl_rng_below(r, (uint64_t)tokens) : (float)(2 * tl_rng_uniform(r) - 1);
  return v;
}

/* batch-norm statistics and biases away from their init values */
static void perturb(tl_graph *g, tl_rng *r) {
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM || n->pkind == TL_PARAM_CONSTANT || n->ndim != 1)
      continue;
    int var = strstr(n->name, "running_var") != NULL;
    for (int64_t j = 0; j < n->numel; j++)
      g->weights[n->woff + j] =
          var ? (float)(0.5 + tl_rng_uniform(r)) : (float)(0.4 * tl_rng_uniform(r) - 0.2);
  }
}

/* the model traced at batch 1 (symbolic export) and at batch 3 (fixed export) */
static rt_result model_roundtrip(const char *name, tl_model *m, int tokens, double tol, char *why,
                                 size_t cap) {
  tl_status st;
  cr_assert_eq(tl_model_status(m, &st), TL_OK, "%s", st.msg);
  tl_rng r;
  tl_rng_init(&r, 31);
  perturb(m->g, &r);
  rt_result worst = RT_SAME_BITS;
  for (int64_t batch = 1; batch <= 3; batch += 2) {
    tl_graph *g;
    cr_assert_eq(tl_model_trace(m, batch, &g, &st), TL_OK, "%s", st.msg);
    float *x = randu(&r, g->nodes[g->inputs[0]].numel, tokens);
    rt_result res = roundtrip(name, g, &x, batch > 1, tol, why, cap);
    worst = res > worst ? res : worst;
    free(x);
    tl_graph_free(g);
    if (res == RT_REFUSED)
      break;
  }
  tl_model_free(m);
  return worst;
}

Test(onnx_roundtrip, zoo_mlp_cnn_resnet_bit_for_bit, .timeout = 300) {
  int64_t img[3] = {1, 8, 8}, hidden[2] = {16, 8};
  double norm[2] = {0.5, 0.25};
  char why[TL_STATUS_MSG_MAX];
  cr_assert_eq(model_roundtrip("mlp", tl_zoo_mlp(1, 3, img, 2, hidden, 10, norm), 0, 0, why, sizeof why),
               RT_SAME_BITS, "mlp: %s", why);
  cr_assert_eq(model_roundtrip("cnn", tl_zoo_cnn(2, 1, 28, 10, norm), 0, 0, why, sizeof why), RT_SAME_BITS,
               "cnn: %s", why);
  cr_assert_eq(model_roundtrip("resnet", tl_zoo_resnet(3, "small", 3, 32, 10), 0, 0, why, sizeof why),
               RT_SAME_BITS, "resnet: %s", why);
}

static const char *result_name(rt_result r) {
  return r == RT_SAME_BITS ? "same bits"
         : r == RT_CLOSE   ? "close (decomposed op)"
                           : "refused by the importer";
}

Test(onnx_roundtrip, transformers_never_wrong) {
  char why[TL_STATUS_MSG_MAX] = "";
  rt_result r =
      model_roundtrip("transformer", tl_zoo_transformer(4, 11, 6, 8, 2, 16, 2, 3), 11, 1e-5, why, sizeof why);
  cr_log_info("transformer: %s %s", result_name(r), r == RT_REFUSED ? why : "");
  double norm[2] = {0.5, 0.25};
  r = model_roundtrip("row_transformer", tl_zoo_row_transformer(5, 1, 6, 5, 8, 2, 16, 1, 4, norm), 0, 1e-5,
                      why, sizeof why);
  cr_log_info("row_transformer: %s %s", result_name(r), r == RT_REFUSED ? why : "");
}

/* ops written as several ONNX nodes: a different float program for the same real function */
static int decomposed(tl_op op) {
  return op == TL_OP_GELU || op == TL_OP_SILU || op == TL_OP_LAYER_NORM || op == TL_OP_ATTENTION;
}

static tl_graph *op_graph(const tcase *c, tl_rng *r, int weights, float **inputs) {
  tl_graph *g = tl_graph_new();
  int ids[5], nin = 0;
  for (int k = 0; k < c->np; k++) {
    int64_t n = 1;
    for (int i = 0; i < c->nd[k]; i++)
      n *= c->sh[k][i];
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    opcase_fill(r, c, k, v, n);
    char nm[16];
    snprintf(nm, sizeof nm, weights && k ? "w%d" : "x%d", k);
    if (weights && k) {
      cr_assert_eq(tl_graph_param(g, nm, TL_PARAM_TRAINABLE, c->nd[k], c->sh[k], v, &ids[k], NULL), TL_OK);
      free(v);
    } else {
      cr_assert_eq(tl_graph_input(g, nm, c->nd[k], c->sh[k], &ids[k], NULL), TL_OK);
      inputs[nin++] = v;
    }
  }
  int y;
  tl_status st;
  cr_assert_eq(tl_graph_op(g, c->op, c->np, ids, &c->a, &y, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_mark_output(g, y, NULL), TL_OK);
  return g;
}

Test(onnx_roundtrip, every_op_same_bits_close_or_refused, .timeout = 300) {
  int counts[3] = {0, 0, 0};
  for (int op = TL_OP_PARAM + 1; op < TL_OP_COUNT; op++) {
    if (op == TL_OP_MSE_LOSS || op == TL_OP_CROSS_ENTROPY)
      continue;
    rt_result worst = RT_SAME_BITS;
    char why[TL_STATUS_MSG_MAX] = "";
    for (int seed = 0; seed < 6; seed++) {
      tl_rng r;
      tl_rng_init(&r, 1000u * (uint64_t)op + (uint64_t)seed);
      tcase c;
      opcase_make((tl_op)op, &r, &c);
      float *inputs[5] = {0};
      tl_graph *g = op_graph(&c, &r, seed & 1, inputs);
      char name[64];
      snprintf(name, sizeof name, "%s#%d", tl_op_get((tl_op)op)->name, seed);
      rt_result res =
          roundtrip(name, g, inputs, seed >= 2, decomposed((tl_op)op) ? 1e-5 : 0, why, sizeof why);
      cr_assert(res != RT_CLOSE || decomposed((tl_op)op), "%s: other bits after the round trip", name);
      counts[res]++;
      worst = res > worst ? res : worst;
      for (int k = 0; k < 5; k++)
        free(inputs[k]);
      tl_graph_free(g);
    }
    cr_log_info("%-16s %s%s%s", tl_op_get((tl_op)op)->name, result_name(worst),
                worst == RT_REFUSED ? ": " : "", worst == RT_REFUSED ? why : "");
  }
  cr_log_info("op cases: %d same bits, %d close, %d refused by the importer", counts[0], counts[1],
              counts[2]);
  cr_assert_gt(counts[RT_SAME_BITS], 100);
}
