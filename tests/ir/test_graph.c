/* test_graph.c - the graph IR: building with tl_graph_input/param/op, shape inference of many
 * ops, errors for bad shapes and attributes, clone, truncate, validate on corrupted graphs. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <string.h>

#include "torchlean/torchlean.h"

static int input(tl_graph *g, const char *name, int ndim, const int64_t *shape) {
  int id;
  tl_status st;
  cr_assert_eq(tl_graph_input(g, name, ndim, shape, &id, &st), TL_OK, "%s", st.msg);
  return id;
}

static int param(tl_graph *g, const char *name, int ndim, const int64_t *shape) {
  int id;
  tl_status st;
  cr_assert_eq(tl_graph_param(g, name, TL_PARAM_TRAINABLE, ndim, shape, NULL, &id, &st), TL_OK, "%s", st.msg);
  return id;
}

/* add an op and check its inferred shape (given as a string like "[2, 3]") */
static int op(tl_graph *g, tl_op o, int np, const int *p, const tl_attrs *a, const char *want) {
  int id;
  tl_status st;
  cr_assert_eq(tl_graph_op(g, o, np, p, a, &id, &st), TL_OK, "%s: %s", tl_op_get(o)->name, st.msg);
  char s[128];
  cr_assert_str_eq(tl_shape_str(g->nodes[id].ndim, g->nodes[id].shape, s, sizeof s), want, "%s",
                   tl_op_get(o)->name);
  return id;
}

static void op_fails(tl_graph *g, tl_op o, int np, const int *p, const tl_attrs *a, const char *needle) {
  int id = -7, n = g->nnodes;
  tl_status st;
  cr_assert_neq(tl_graph_op(g, o, np, p, a, &id, &st), TL_OK, "%s accepted", tl_op_get(o)->name);
  cr_assert(strstr(st.msg, needle) != NULL, "wanted '%s' in: %s", needle, st.msg);
  cr_assert_eq(g->nnodes, n, "a failed op leaves the graph unchanged");
}

Test(graph, shape_inference_of_many_ops) {
  tl_graph *g = tl_graph_new();
  int64_t s4[] = {2, 3, 8, 8}, s2[] = {5, 4}, s1[] = {4}, w[] = {6, 3, 3, 3}, b6[] = {6}, lw[] = {7, 4};
  int x = input(g, "x", 4, s4), m = input(g, "m", 2, s2), v = input(g, "v", 1, s1);
  int cw = param(g, "cw", 4, w), cb = param(g, "cb", 1, b6), fw = param(g, "fw", 2, lw);
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  a.stride[0] = a.stride[1] = 2;
  a.padding[0] = a.padding[1] = 1;
  int c = op(g, TL_OP_CONV2D, 3, (int[]){x, cw, cb}, &a, "[2, 6, 4, 4]");
  cr_assert_eq(g->nodes[c].attrs.kernel[0], 3, "kernel taken from the weight");
  op(g, TL_OP_RELU, 1, &c, NULL, "[2, 6, 4, 4]");
  a = tl_attrs_default(TL_OP_AVG_POOL2D);
  a.kernel[0] = a.kernel[1] = 2;
  a.stride[0] = a.stride[1] = 2;
  int pool = op(g, TL_OP_AVG_POOL2D, 1, &c, &a, "[2, 6, 2, 2]");
  op(g, TL_OP_GLOBAL_AVG_POOL, 1, &pool, NULL, "[2, 6]");
  int f = op(g, TL_OP_FLATTEN, 1, &pool, NULL, "[2, 24]");
  a = tl_attrs_default(TL_OP_RESHAPE);
  int64_t target[] = {-1, 4};
  a.list = target, a.nlist = 2;
  int r = op(g, TL_OP_RESHAPE, 1, &f, &a, "[12, 4]");
  cr_assert_eq(g->nodes[r].attrs.list[0], 12, "-1 inferred and stored");
  op(g, TL_OP_LINEAR, 2, (int[]){r, fw}, NULL, "[12, 7]");
  op(g, TL_OP_ADD, 2, (int[]){m, v}, NULL, "[5, 4]");
  op(g, TL_OP_MUL, 2, (int[]){v, m}, NULL, "[5, 4]");
  a = tl_attrs_default(TL_OP_PERMUTE);
  int64_t perm[] = {1, 0};
  a.list = perm, a.nlist = 2;
  int t = op(g, TL_OP_PERMUTE, 1, &m, &a, "[4, 5]");
  op(g, TL_OP_MATMUL, 2, (int[]){m, t}, NULL, "[5, 5]");
  a = tl_attrs_default(TL_OP_SUM);
  int64_t axes[] = {-1};
  a.list = axes, a.nlist = 1;
  int su = op(g, TL_OP_SUM, 1, &m, &a, "[5]");
  cr_assert_eq(g->nodes[su].attrs.list[0], 1, "negative axis normalised");
  a.keepdim = 1;
  op(g, TL_OP_MEAN, 1, &m, &a, "[5, 1]");
  a = tl_attrs_default(TL_OP_MEAN);
  op(g, TL_OP_MEAN, 1, &m, &a, "[]");
  a = tl_attrs_default(TL_OP_CONCAT);
  a.axis = 0;
  op(g, TL_OP_CONCAT, 3, (int[]){m, m, m}, &a, "[15, 4]");
  a = tl_attrs_default(TL_OP_SLICE);
  a.axis = 0, a.start = 1, a.end = 5, a.step = 2;
  op(g, TL_OP_SLICE, 1, &m, &a, "[2, 4]");
  a = tl_attrs_default(TL_OP_SOFTMAX);
  int sm = op(g, TL_OP_SOFTMAX, 1, &m, &a, "[5, 4]");
  cr_assert_eq(g->nodes[sm].attrs.axis, 1);
  op(g, TL_OP_LAYER_NORM, 1, &m, NULL, "[5, 4]");
  op(g, TL_OP_MSE_LOSS, 2, (int[]){m, m}, NULL, "[]");
  op(g, TL_OP_CROSS_ENTROPY, 2, (int[]){m, m}, NULL, "[]");
  a = tl_attrs_default(TL_OP_CLAMP);
  a.lo = -1, a.hi = 1;
  op(g, TL_OP_CLAMP, 1, &m, &a, "[5, 4]");
  tl_status st;
  cr_assert_eq(tl_graph_validate(g, &st), TL_OK, "%s", st.msg);
  tl_graph_free(g);
}

Test(graph, bad_shapes_and_attributes_are_rejected_with_the_node) {
  tl_graph *g = tl_graph_new();
  int64_t s2[] = {5, 4}, s3[] = {3, 3}, s4[] = {1, 2, 4, 4}, w[] = {3, 3, 2, 2};
  int m = input(g, "m", 2, s2), q = input(g, "q", 2, s3), x = input(g, "x", 4, s4);
  int cw = param(g, "cw", 4, w);
  op_fails(g, TL_OP_ADD, 2, (int[]){m, q}, NULL, "node 4 (add): shapes [5, 4] (node 0) and [3, 3] (node 1)");
  op_fails(g, TL_OP_MATMUL, 2, (int[]){m, q}, NULL, "do not fit");
  op_fails(g, TL_OP_LINEAR, 2, (int[]){m, q}, NULL, "node 4 (linear)");
  op_fails(g, TL_OP_CONV2D, 2, (int[]){x, cw}, NULL, "node 4 (conv2d)");
  op_fails(g, TL_OP_RELU, 2, (int[]){m, m}, NULL, "2 parents, expected 1..1");
  op_fails(g, TL_OP_RELU, 1, (int[]){9}, NULL, "parent 0 is node 9, which does not exist yet");
  tl_attrs a = tl_attrs_default(TL_OP_SOFTMAX);
  a.axis = 2;
  op_fails(g, TL_OP_SOFTMAX, 1, &m, &a, "axis 2 out of range for rank 2");
  a = tl_attrs_default(TL_OP_DROPOUT);
  a.p = 1;
  op_fails(g, TL_OP_DROPOUT, 1, &m, &a, "dropout probability 1");
  a = tl_attrs_default(TL_OP_CLAMP);
  a.lo = 2, a.hi = 1;
  op_fails(g, TL_OP_CLAMP, 1, &m, &a, "lo <= hi");
  a = tl_attrs_default(TL_OP_RESHAPE);
  int64_t t[] = {3, 7};
  a.list = t, a.nlist = 2;
  op_fails(g, TL_OP_RESHAPE, 1, &m, &a, "target shape has 21 elements, input has 20");
  a = tl_attrs_default(TL_OP_PERMUTE);
  int64_t perm[] = {0, 0};
  a.list = perm, a.nlist = 2;
  op_fails(g, TL_OP_PERMUTE, 1, &m, &a, "repeated");
  a = tl_attrs_default(TL_OP_MAX_POOL2D);
  a.kernel[0] = a.kernel[1] = 5;
  op_fails(g, TL_OP_MAX_POOL2D, 1, &x, &a, "does not fit");
  a = tl_attrs_default(TL_OP_SLICE);
  a.axis = 0, a.start = 2, a.end = 9;
  op_fails(g, TL_OP_SLICE, 1, &m, &a, "slice 2:9:1 invalid");
  op_fails(g, TL_OP_INPUT, 0, NULL, NULL, "bad op");
  int id;
  tl_status st;
  cr_assert_neq(tl_graph_input(g, "m", 2, s2, &id, &st), TL_OK);
  cr_assert(strstr(st.msg, "name 'm' used twice") != NULL, "%s", st.msg);
  int64_t neg[] = {-2};
  cr_assert_neq(tl_graph_param(g, "p", TL_PARAM_TRAINABLE, 1, neg, NULL, &id, &st), TL_OK);
  tl_graph_free(g);
}

static tl_graph *small(void) {
  tl_graph *g = tl_graph_new();
  int64_t xs[] = {2, 4}, ws[] = {3, 4}, bs[] = {3};
  float wv[12], bv[3] = {1, 2, 3};
  for (int i = 0; i < 12; i++)
    wv[i] = (float)i - 5.5f;
  int x = input(g, "x", 2, xs), w, b, id;
  tl_status st;
  cr_assert_eq(tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, wv, &w, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "b", TL_PARAM_BUFFER, 1, bs, bv, &b, &st), TL_OK);
  int y = op(g, TL_OP_LINEAR, 3, (int[]){x, w, b}, NULL, "[2, 3]");
  id = op(g, TL_OP_TANH, 1, &y, NULL, "[2, 3]");
  cr_assert_eq(tl_graph_mark_output(g, id, &st), TL_OK);
  return g;
}

Test(graph, clone_is_deep_and_hash_equal) {
  tl_graph *g = small(), *c;
  cr_assert_eq(tl_graph_clone(&c, g, NULL), TL_OK);
  char h1[65], h2[65];
  cr_assert_str_eq(tl_graph_hash_hex(g, h1), tl_graph_hash_hex(c, h2));
  cr_assert_neq(c->weights, g->weights);
  cr_assert_neq(c->nodes[3].parents, g->nodes[3].parents);
  c->weights[0] = 100;
  cr_assert_eq(g->weights[0], -5.5f);
  cr_assert_eq(tl_graph_num_trainable(c), 12);
  cr_assert_eq(tl_graph_find(c, "b"), 2);
  cr_assert_eq(tl_graph_param_data(c, 2)[2], 3.0f);
  tl_graph_free(g);
  cr_assert_eq(tl_graph_validate(c, NULL), TL_OK);
  tl_graph_free(c);
}

Test(graph, truncate_drops_nodes_outputs_and_trailing_weights) {
  tl_graph *g = small();
  tl_graph_truncate(g, 3);
  cr_assert_eq(g->nnodes, 3);
  cr_assert_eq(g->noutputs, 0);
  cr_assert_eq(g->nweights, 15);
  tl_graph_truncate(g, 2);
  cr_assert_eq(g->nweights, 12, "the last param gives its weights back");
  cr_assert_eq(tl_graph_validate(g, NULL), TL_OK);
  int y, id;
  int64_t bs[] = {3};
  cr_assert_eq(tl_graph_param(g, "b", TL_PARAM_TRAINABLE, 1, bs, NULL, &id, NULL), TL_OK, "name free again");
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 3, (int[]){0, 1, 2}, NULL, &y, NULL), TL_OK);
  cr_assert_eq(tl_graph_validate(g, NULL), TL_OK);
  tl_graph_free(g);
}

/* corrupt a clone of small() and expect validate to name the problem */
static void corrupt(int k, const char *needle) {
  tl_graph *g = small();
  switch (k) {
  case 0: g->nodes[3].parents[0] = 3; break;                         /* self/forward parent */
  case 1: g->nodes[4].shape[1] = 4; break;                           /* wrong recorded shape (numel too) */
  case 2: g->nodes[4].shape[0] = 3, g->nodes[4].shape[1] = 2; break; /* same numel, wrong shape */
  case 3: g->nodes[2].woff = 14; break;                              /* weights outside the store */
  case 4: g->nodes[3].op = TL_OP_COUNT; break;
  case 5: g->nodes[3].nparents = 1; break;
  case 6: free(g->nodes[2].name), g->nodes[2].name = strdup("w"); break;
  case 7: g->outputs[0] = 9; break;
  case 8: g->nweights = 16; break;
  case 9: g->nodes[4].numel = 5; break;
  }
  tl_status st;
  cr_assert_neq(tl_graph_validate(g, &st), TL_OK, "corruption %d accepted", k);
  cr_assert(strstr(st.msg, needle) != NULL, "corruption %d: wanted '%s' in: %s", k, needle, st.msg);
  tl_graph_free(g);
}

Test(graph, validate_catches_corruption) {
  corrupt(0, "node 3 (linear): parent 0 is node 3");
  corrupt(1, "node 4 (tanh)");
  corrupt(2, "node 4 (tanh): recorded shape [3, 2], but its parents give [2, 3]");
  corrupt(3, "node 2 (param) 'b': weights");
  corrupt(4, "node 3: unknown op kind");
  corrupt(5, "node 3 (linear): 1 parents");
  corrupt(6, "name 'w' also used by node 1");
  corrupt(7, "output 0 names node 9");
  corrupt(8, "parameters cover 15 of 16");
  corrupt(9, "element count 5 does not match");
}
