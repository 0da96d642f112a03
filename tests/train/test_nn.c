/* test_nn.c - layers, initialisation determinism, parameter names, zoo shapes, summary lines. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "torchlean/nn.h"

Test(nn, same_seed_same_model_bit_for_bit) {
  int64_t in[] = {1, 28, 28};
  tl_model *a = tl_zoo_cnn(42, 1, 28, 10, NULL), *b = tl_zoo_cnn(42, 1, 28, 10, NULL),
           *c = tl_zoo_cnn(43, 1, 28, 10, NULL);
  (void)in;
  cr_assert_eq(tl_model_status(a, NULL), TL_OK);
  cr_assert_eq(a->g->nweights, b->g->nweights);
  cr_assert_eq(memcmp(a->g->weights, b->g->weights, (size_t)a->g->nweights * sizeof(float)), 0);
  cr_assert_neq(memcmp(a->g->weights, c->g->weights, (size_t)a->g->nweights * sizeof(float)), 0);
  tl_model_free(a);
  tl_model_free(b);
  tl_model_free(c);
}

Test(nn, linear_init_is_xavier_uniform_with_zero_bias) {
  int64_t in[] = {784}, hidden[] = {128};
  tl_model *m = tl_zoo_mlp(0, 1, in, 1, hidden, 10, NULL);
  cr_assert_eq(tl_model_status(m, NULL), TL_OK);
  int w = tl_graph_find(m->g, "1.weight"), b = tl_graph_find(m->g, "1.bias");
  cr_assert(w >= 0 && b >= 0, "state-dict names");
  cr_assert(tl_graph_find(m->g, "3.weight") >= 0);
  double r = sqrt(6.0 / (784 + 128)), s = 0, s2 = 0;
  const float *wd = tl_graph_param_data(m->g, w);
  int64_t n = m->g->nodes[w].numel;
  for (int64_t i = 0; i < n; i++) {
    cr_assert(fabs(wd[i]) <= r);
    s += wd[i];
    s2 += (double)wd[i] * wd[i];
  }
  cr_assert(fabs(s / n) < 0.002);
  cr_assert(fabs(s2 / n - r * r / 3) < 0.01 * r * r); /* variance of U(-r, r) */
  for (int64_t i = 0; i < 128; i++)
    cr_assert_eq(tl_graph_param_data(m->g, b)[i], 0.0f);
  /* counter-based draw: element 0 is low32(sm(sm(s) + 0)) / 2^32 mapped to [-r, r] */
  tl_model_free(m);
}

Test(nn, summary_lines) {
  int64_t in[] = {2}, dims[] = {2, 8, 1};
  tl_model *m = tl_model_new(0);
  tl_module *root = tl_nn_mlp(m, 3, dims, TL_OP_RELU);
  tl_model_set_root(m, root, 1, in);
  char buf[4096] = {0};
  FILE *f = fmemopen(buf, sizeof buf - 1, "w");
  cr_assert_eq(tl_model_summary(m, 1, f, NULL), TL_OK);
  fclose(f);
  cr_assert(strstr(buf, "[0] Linear(2, 8): [1, 2] -> [1, 8] params=24\n"), "%s", buf);
  cr_assert(strstr(buf, "[1] ReLU: [1, 8] -> [1, 8] params=0\n"), "%s", buf);
  cr_assert(strstr(buf, "[2] Linear(8, 1): [1, 8] -> [1, 1] params=9\n"), "%s", buf);
  cr_assert(strstr(buf, "total params=33 trainable=33\n"), "%s", buf);
  tl_model_free(m);
}

Test(nn, zoo_models_trace_with_expected_output_shapes) {
  tl_graph *g;
  tl_model *r = tl_zoo_resnet(1, "small", 3, 32, 10);
  cr_assert_eq(tl_model_trace(r, 2, &g, NULL), TL_OK);
  const tl_node *out = &g->nodes[g->outputs[0]];
  cr_assert_eq(out->ndim, 2);
  cr_assert_eq(out->shape[0], 2);
  cr_assert_eq(out->shape[1], 10);
  cr_assert(tl_graph_find(g, "3.conv1.weight") >= 0);
  cr_assert(tl_graph_find(g, "4.shortcut.0.weight") >= 0, "projection shortcut when the width changes");
  cr_assert(tl_graph_find(g, "1.running_var") >= 0);
  tl_graph_free(g);
  tl_model_free(r);
  tl_model *r18 = tl_zoo_resnet(1, "resnet18", 3, 32, 10);
  cr_assert_eq(tl_model_trace(r18, 1, &g, NULL), TL_OK);
  /* ResNet-18 (CIFAR stem, no bias in convs): 11.17 M parameters */
  int64_t trainable = tl_graph_num_trainable(g);
  cr_assert(trainable > 11000000 && trainable < 11300000, "%lld", (long long)trainable);
  tl_graph_free(g);
  tl_model_free(r18);
  tl_model *t = tl_zoo_transformer(2, 50, 12, 32, 4, 64, 2, 5);
  cr_assert_eq(tl_model_trace(t, 3, &g, NULL), TL_OK);
  out = &g->nodes[g->outputs[0]];
  cr_assert_eq(out->shape[0], 3);
  cr_assert_eq(out->shape[1], 5);
  tl_graph_free(g);
  tl_model_free(t);
}

Test(nn, bad_configuration_is_a_sticky_error) {
  tl_model *m = tl_zoo_resnet(1, "resnet9000", 3, 32, 10);
  tl_status st;
  cr_assert_eq(tl_model_status(m, &st), TL_EARG);
  cr_assert(strstr(st.msg, "resnet9000"));
  tl_graph *g;
  cr_assert_eq(tl_model_trace(m, 1, &g, NULL), TL_EARG);
  tl_model_free(m);
  /* a conv whose kernel does not fit the input fails when traced, naming the node */
  tl_model *c = tl_zoo_cnn(0, 1, 2, 10, NULL);
  cr_assert_neq(tl_model_trace(c, 1, &g, &st), TL_OK);
  cr_assert(strstr(st.msg, "node"), "%s", st.msg);
  tl_model_free(c);
}
