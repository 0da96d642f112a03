/* test_layers_torch.c - every nn layer's forward against PyTorch reference outputs stored as
 * fixtures (tests/fixtures/torch_layers/make_layer_fixtures.py, Debian python3-torch).  The
 * parameters are loaded by their state-dict names, which TorchLean's layers share. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "torchlean/torchlean.h"

#define FIXDIR TL_FIXTURES "/torch_layers/"

static tl_tensor *load(const char *c, const char *name) {
  char path[512];
  snprintf(path, sizeof path, FIXDIR "%s/%s.npy", c, name);
  tl_tensor *t;
  tl_status st;
  cr_assert_eq(tl_npy_read(path, &t, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(t->dtype, TL_F32);
  return t;
}

/* copy every <name>.npy of the case folder into the parameter of that name; all trainable
 * parameters and buffers must be covered */
static void load_params(const char *c, tl_graph *g) {
  char path[512];
  snprintf(path, sizeof path, FIXDIR "%s", c);
  DIR *d = opendir(path);
  cr_assert_not_null(d);
  struct dirent *e;
  int loaded = 0;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 4, ".npy") || !strcmp(e->d_name, "x.npy") ||
        !strcmp(e->d_name, "y.npy") || !strncmp(e->d_name, "after_", 6))
      continue;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(n - 4), e->d_name);
    int id = tl_graph_find(g, name);
    cr_assert(id >= 0, "%s: no parameter named %s", c, name);
    tl_tensor *t = load(c, name);
    cr_assert_eq(t->numel, g->nodes[id].numel, "%s: %s has %lld values", c, name, (long long)t->numel);
    memcpy(tl_graph_param_data(g, id), t->data, (size_t)t->numel * sizeof(float));
    tl_tensor_free(t);
    loaded++;
  }
  closedir(d);
  int params = 0;
  for (int i = 0; i < g->nnodes; i++)
    params += g->nodes[i].op == TL_OP_PARAM && g->nodes[i].pkind != TL_PARAM_CONSTANT;
  cr_assert_eq(loaded, params, "%s: %d of %d parameters have fixtures", c, loaded, params);
}

static void expect_close(const char *c, const float *got, const float *want, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    cr_assert(fabsf(got[i] - want[i]) <= 2e-5f + 1e-4f * fabsf(want[i]),
              "%s: element %lld: got %.9g, PyTorch %.9g", c, (long long)i, got[i], want[i]);
}

/* Run the module built by `make` on the case's x (eval unless training) and compare with y. */
static void check(const char *c, tl_module *(*make)(tl_model *), int training) {
  tl_model *m = tl_model_new(0);
  tl_module *mod = make(m);
  tl_tensor *x = load(c, "x"), *y = load(c, "y");
  tl_model_set_root(m, mod, x->ndim - 1, x->shape + 1);
  tl_status st;
  cr_assert_eq(tl_model_status(m, &st), TL_OK, "%s: %s", c, st.msg);
  tl_graph *g;
  cr_assert_eq(tl_model_trace(m, x->shape[0], &g, &st), TL_OK, "%s: %s", c, st.msg);
  load_params(c, g);
  for (int k = 0; k < 2; k++) { /* both execution modes */
    tl_exec *e;
    tl_exec_opts o = tl_exec_opts_default();
    o.mode = k ? TL_COMPILED : TL_EAGER;
    o.training = training;
    float *saved = malloc((size_t)g->nweights * sizeof(float) + 1);
    if (g->nweights)
      memcpy(saved, g->weights, (size_t)g->nweights * sizeof(float));
    cr_assert_eq(tl_exec_new(&e, g, &o, &st), TL_OK, "%s", st.msg);
    if (o.mode == TL_COMPILED)
      cr_assert_eq(tl_exec_plan(e, &st), TL_OK, "%s", st.msg);
    cr_assert_eq(tl_exec_set_input(e, g->inputs[0], x->data, &st), TL_OK, "%s", st.msg);
    cr_assert_eq(tl_exec_forward(e, &st), TL_OK, "%s: %s", c, st.msg);
    const tl_node *out = &g->nodes[g->outputs[0]];
    cr_assert_eq(out->numel, y->numel, "%s: %lld outputs, PyTorch %lld", c, (long long)out->numel,
                 (long long)y->numel);
    expect_close(c, tl_exec_value(e, g->outputs[0]), y->data, y->numel);
    if (training) { /* running statistics updated as PyTorch does (unbiased variance) */
      tl_tensor *rm = load(c, "after_running_mean"), *rv = load(c, "after_running_var");
      expect_close(c, tl_graph_param_data(g, tl_graph_find(g, "running_mean")), rm->data, rm->numel);
      expect_close(c, tl_graph_param_data(g, tl_graph_find(g, "running_var")), rv->data, rv->numel);
      tl_tensor_free(rm);
      tl_tensor_free(rv);
    }
    tl_exec_free(e);
    if (g->nweights)
      memcpy(g->weights, saved, (size_t)g->nweights * sizeof(float));
    free(saved);
  }
  tl_graph_free(g);
  tl_tensor_free(x);
  tl_tensor_free(y);
  tl_model_free(m);
}

static tl_module *linear(tl_model *m) { return tl_nn_linear(m, 5, 3); }
static tl_module *relu(tl_model *m) { return tl_nn_relu(m); }
static tl_module *leaky(tl_model *m) { return tl_nn_leaky_relu(m, 0.1); }
static tl_module *silu(tl_model *m) { return tl_nn_silu(m); }
static tl_module *gelu(tl_model *m) { return tl_nn_gelu(m); }
static tl_module *sigmoid(tl_model *m) { return tl_nn_sigmoid(m); }
static tl_module *tanh_(tl_model *m) { return tl_nn_tanh(m); }
static tl_module *softmax(tl_model *m) { return tl_nn_softmax(m); }
static tl_module *dropout(tl_model *m) { return tl_nn_dropout(m, 0.5); }
static tl_module *flatten(tl_model *m) { return tl_nn_flatten(m); }
static tl_module *conv(tl_model *m) { return tl_nn_conv2d(m, 3, 4, 3, 2, 1); }
static tl_module *maxpool(tl_model *m) { return tl_nn_max_pool2d(m, 2, 2); }
static tl_module *avgpool(tl_model *m) { return tl_nn_avg_pool2d(m, 3, 2); }
static tl_module *gap(tl_model *m) { return tl_nn_global_avg_pool(m); }
static tl_module *bn(tl_model *m) { return tl_nn_batch_norm(m, 3); }
static tl_module *ln(tl_model *m) { return tl_nn_layer_norm(m, 6); }
static tl_module *attn(tl_model *m) { return tl_nn_attention(m, 8, 2); }
static tl_module *embed(tl_model *m) { return tl_nn_embedding(m, 10, 4); }
static tl_module *post(tl_model *m) { return tl_nn_transformer_block(m, 8, 2, 16, 0); }
static tl_module *pre(tl_model *m) { return tl_nn_transformer_block(m, 8, 2, 16, 1); }
static tl_module *block(tl_model *m) { return tl_nn_resnet_basic_block(m, 4, 8, 2); }

Test(layers_torch, linear) { check("linear", linear, 0); }
Test(layers_torch, relu) { check("relu", relu, 0); }
Test(layers_torch, leaky_relu) { check("leaky_relu", leaky, 0); }
Test(layers_torch, silu) { check("silu", silu, 0); }
Test(layers_torch, gelu_tanh) { check("gelu", gelu, 0); }
Test(layers_torch, sigmoid) { check("sigmoid", sigmoid, 0); }
Test(layers_torch, tanh) { check("tanh", tanh_, 0); }
Test(layers_torch, softmax) { check("softmax", softmax, 0); }
Test(layers_torch, dropout_eval) { check("dropout_eval", dropout, 0); }
Test(layers_torch, flatten) { check("flatten", flatten, 0); }
Test(layers_torch, conv2d) { check("conv2d", conv, 0); }
Test(layers_torch, max_pool2d) { check("max_pool2d", maxpool, 0); }
Test(layers_torch, avg_pool2d) { check("avg_pool2d", avgpool, 0); }
Test(layers_torch, global_avg_pool) { check("global_avg_pool", gap, 0); }
Test(layers_torch, batch_norm_eval) { check("batch_norm_eval", bn, 0); }
Test(layers_torch, batch_norm_train) { check("batch_norm_train", bn, 1); }
Test(layers_torch, layer_norm) { check("layer_norm", ln, 0); }
Test(layers_torch, attention) { check("attention", attn, 0); }
Test(layers_torch, embedding) { check("embedding", embed, 0); }
Test(layers_torch, transformer_post_norm) { check("transformer_post", post, 0); }
Test(layers_torch, transformer_pre_norm) { check("transformer_pre", pre, 0); }
Test(layers_torch, resnet_basic_block) { check("resnet_basic_block", block, 0); }

/* hand-computed values */
Test(layers_hand, linear_and_leaky_relu) {
  tl_model *m = tl_model_new(0);
  tl_module *mods[] = {tl_nn_linear(m, 2, 1), tl_nn_leaky_relu(m, 0.5)};
  int64_t in[] = {2};
  tl_model_set_root(m, tl_nn_sequential(m, 2, mods), 1, in);
  tl_graph *g;
  cr_assert_eq(tl_model_trace(m, 2, &g, NULL), TL_OK);
  float *w = tl_graph_param_data(g, tl_graph_find(g, "0.weight")),
        *b = tl_graph_param_data(g, tl_graph_find(g, "0.bias"));
  w[0] = 2, w[1] = -1, b[0] = 0.5f;
  float x[] = {1, 1, 0, 3}; /* rows: 2 - 1 + 0.5 = 1.5; 0 - 3 + 0.5 = -2.5 -> -1.25 */
  tl_exec *e;
  tl_exec_opts o = tl_exec_opts_default();
  cr_assert_eq(tl_exec_new(&e, g, &o, NULL), TL_OK);
  cr_assert_eq(tl_exec_set_input(e, g->inputs[0], x, NULL), TL_OK);
  cr_assert_eq(tl_exec_forward(e, NULL), TL_OK);
  const float *y = tl_exec_value(e, g->outputs[0]);
  cr_assert_eq(y[0], 1.5f);
  cr_assert_eq(y[1], -1.25f);
  tl_exec_free(e);
  tl_graph_free(g);
  tl_model_free(m);
}
