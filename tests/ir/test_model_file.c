/* test_model_file.c - graph hash, IR JSON and model files: bit-exact round trips, hash
 * sensitivity, strict rejection of malformed files, mutation robustness, the Python reader and
 * the export/summary commands. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "torchlean/torchlean.h"

#define PINNED_HASH "703e8c0ef0c3c94ccded8c4a10eaddc16e8df7fea148587b7c92645f51061a86"

/* ---- fixtures ------------------------------------------------------------------------------ */
static const uint32_t special_bits[] = {
    0x00000000u, 0x80000000u,                           /* +0, -0 */
    0x00000001u, 0x807fffffu, 0x00400000u,              /* subnormals */
    0x7f800000u, 0xff800000u,                           /* inf */
    0x7fc00000u, 0x7fc00001u, 0xffbfffffu, 0x7f800001u, /* NaNs with payloads, signalling */
    0x7f7fffffu, 0x00800000u, 0x3f800000u, 0xbdcccccdu,
};
#define NSPECIAL (sizeof special_bits / sizeof special_bits[0])

static float from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

/* x (2,1,6,6) -> conv(4,1,3,3,pad 1) -> relu -> maxpool 2 -> flatten -> linear(36->3)
 *   -> layer_norm -> softmax; batch norm branch with buffers; every weight distinct. */
static tl_graph *make_graph(void) {
  tl_graph *g = tl_graph_new();
  cr_assert_not_null(g);
  tl_status st;
  int x, cw, cb, c, r, p, f, lw, lb, l, lng, lnb, ln, sm, bg, bb, bm, bv, bn;
  int64_t xs[] = {2, 1, 6, 6}, cws[] = {4, 1, 3, 3}, four[] = {4}, lws[] = {3, 36}, three[] = {3};
  cr_assert_eq(tl_graph_input(g, "x", 4, xs, &x, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_param(g, "conv.weight", TL_PARAM_TRAINABLE, 4, cws, NULL, &cw, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "conv.bias", TL_PARAM_TRAINABLE, 1, four, NULL, &cb, &st), TL_OK);
  tl_attrs a = tl_attrs_default(TL_OP_CONV2D);
  a.padding[0] = a.padding[1] = 1;
  int pc[] = {x, cw, cb};
  cr_assert_eq(tl_graph_op(g, TL_OP_CONV2D, 3, pc, &a, &c, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_op(g, TL_OP_RELU, 1, &c, NULL, &r, &st), TL_OK);
  /* batch norm (eval) with running stats as buffers */
  cr_assert_eq(tl_graph_param(g, "bn.weight", TL_PARAM_TRAINABLE, 1, four, NULL, &bg, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "bn.bias", TL_PARAM_TRAINABLE, 1, four, NULL, &bb, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "bn.running_mean", TL_PARAM_BUFFER, 1, four, NULL, &bm, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "bn.running_var", TL_PARAM_BUFFER, 1, four, NULL, &bv, &st), TL_OK);
  int pbn[] = {r, bg, bb, bm, bv};
  cr_assert_eq(tl_graph_op(g, TL_OP_BATCH_NORM, 5, pbn, NULL, &bn, &st), TL_OK, "%s", st.msg);
  a = tl_attrs_default(TL_OP_MAX_POOL2D);
  a.kernel[0] = a.kernel[1] = 2;
  a.stride[0] = a.stride[1] = 2;
  cr_assert_eq(tl_graph_op(g, TL_OP_MAX_POOL2D, 1, &bn, &a, &p, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_op(g, TL_OP_FLATTEN, 1, &p, NULL, &f, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_param(g, "fc.weight", TL_PARAM_TRAINABLE, 2, lws, NULL, &lw, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "fc.bias", TL_PARAM_TRAINABLE, 1, three, NULL, &lb, &st), TL_OK);
  int pl[] = {f, lw, lb};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 3, pl, NULL, &l, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_param(g, "ln.weight", TL_PARAM_TRAINABLE, 1, three, NULL, &lng, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "ln.bias", TL_PARAM_CONSTANT, 1, three, NULL, &lnb, &st), TL_OK);
  int pln[] = {l, lng, lnb};
  cr_assert_eq(tl_graph_op(g, TL_OP_LAYER_NORM, 3, pln, NULL, &ln, &st), TL_OK, "%s", st.msg);
  a = tl_attrs_default(TL_OP_SOFTMAX);
  cr_assert_eq(tl_graph_op(g, TL_OP_SOFTMAX, 1, &ln, &a, &sm, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_graph_set_name(g, sm, "probs", &st), TL_OK);
  cr_assert_eq(tl_graph_mark_output(g, sm, &st), TL_OK);
  cr_assert_eq(tl_graph_mark_output(g, l, &st), TL_OK);
  /* weights: the special values first, then distinct ordinary values */
  for (int64_t i = 0; i < g->nweights; i++)
    g->weights[i] = i < (int64_t)NSPECIAL ? from_bits(special_bits[i]) : (float)(i * 0.37 - 11.0);
  cr_assert_eq(tl_graph_validate(g, &st), TL_OK, "%s", st.msg);
  return g;
}

static void assert_same_graph(const tl_graph *a, const tl_graph *b) {
  char ha[65], hb[65];
  cr_assert_eq(a->nnodes, b->nnodes);
  cr_assert_eq(a->nweights, b->nweights);
  cr_assert(memcmp(a->weights, b->weights, (size_t)a->nweights * 4) == 0, "weights differ in bits");
  cr_assert_str_eq(tl_graph_hash_hex(a, ha), tl_graph_hash_hex(b, hb));
  for (int i = 0; i < a->nnodes; i++) {
    cr_assert_eq(a->nodes[i].op, b->nodes[i].op);
    cr_assert(tl_shape_equal(a->nodes[i].ndim, a->nodes[i].shape, b->nodes[i].ndim, b->nodes[i].shape));
    cr_assert_eq(a->nodes[i].pkind, b->nodes[i].pkind);
  }
}

static char *tmpdir(void) {
  static char dir[64]; /* one per test process */
  strcpy(dir, "/tmp/tl_model_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  return dir;
}

static void rm_rf(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

/* ---- hash ---------------------------------------------------------------------------------- */
Test(hash, pinned_vector_for_independent_checkers) {
  /* docs/graph-hash.md quotes this graph and its hash */
  tl_graph *g = tl_graph_new();
  tl_status st;
  int x, w, b, y, r;
  int64_t xs[] = {1, 2}, ws[] = {3, 2}, bs[] = {3};
  float wv[] = {1, -2, 0.5f, 0, -0.0f, 3}, bv[] = {0.25f, -1, 1e-45f};
  cr_assert_eq(tl_graph_input(g, "x", 2, xs, &x, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "w", TL_PARAM_TRAINABLE, 2, ws, wv, &w, &st), TL_OK);
  cr_assert_eq(tl_graph_param(g, "b", TL_PARAM_BUFFER, 1, bs, bv, &b, &st), TL_OK);
  int p[] = {x, w, b};
  cr_assert_eq(tl_graph_op(g, TL_OP_LINEAR, 3, p, NULL, &y, &st), TL_OK);
  tl_attrs a = tl_attrs_default(TL_OP_LEAKY_RELU);
  cr_assert_eq(tl_graph_op(g, TL_OP_LEAKY_RELU, 1, &y, &a, &r, &st), TL_OK);
  cr_assert_eq(tl_graph_mark_output(g, r, &st), TL_OK);
  char hex[65];
  tl_graph_hash_hex(g, hex);
  cr_log_info("pinned hash %s", hex);
  cr_assert_str_eq(hex, PINNED_HASH);
  /* and an independent stdlib-only Python recomputation agrees */
  char cmd[512];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/ir/graph_hash_ref.py | grep -qx %s", TL_SOURCE_DIR,
           PINNED_HASH);
  cr_assert_eq(system(cmd), 0, "tests/ir/graph_hash_ref.py disagrees");
  tl_graph_free(g);
}

Test(hash, changes_with_every_weight_bit_attribute_parent_shape_and_name) {
  tl_graph *g = make_graph(), *c;
  uint8_t h0[32], h1[32];
  tl_graph_hash(g, h0);
  for (int64_t i = 0; i < g->nweights; i += 7)
    for (int bit = 0; bit < 32; bit += 5) {
      uint32_t u;
      memcpy(&u, &g->weights[i], 4);
      u ^= 1u << bit;
      memcpy(&g->weights[i], &u, 4);
      tl_graph_hash(g, h1);
      cr_assert(memcmp(h0, h1, 32) != 0, "weight %lld bit %d", (long long)i, bit);
      u ^= 1u << bit;
      memcpy(&g->weights[i], &u, 4);
    }
  tl_graph_hash(g, h1);
  cr_assert(memcmp(h0, h1, 32) == 0, "restoring the weights restores the hash");
  int conv = 3, pool = 10, ln = 17, lin = 14;
  cr_assert_eq(g->nodes[conv].op, TL_OP_CONV2D);
  cr_assert_eq(g->nodes[pool].op, TL_OP_MAX_POOL2D);
  cr_assert_eq(g->nodes[ln].op, TL_OP_LAYER_NORM);
  cr_assert_eq(g->nodes[lin].op, TL_OP_LINEAR);
  for (int k = 0; k < 6; k++) {
    cr_assert_eq(tl_graph_clone(&c, g, NULL), TL_OK);
    switch (k) {
    case 0: c->nodes[conv].attrs.stride[1] = 2; break;
    case 1: c->nodes[ln].attrs.eps = nextafter(c->nodes[ln].attrs.eps, 1.0); break;
    case 2: c->nodes[lin].parents[2] = 1; break;
    case 3: c->nodes[pool].shape[3] = 4; break;
    case 4: c->nodes[c->nnodes - 1].attrs.axis = 0; break;
    case 5: c->nodes[1].pkind = TL_PARAM_BUFFER; break;
    }
    tl_graph_hash(c, h1);
    cr_assert(memcmp(h0, h1, 32) != 0, "change %d not seen by the hash", k);
    tl_graph_free(c);
  }
  cr_assert_eq(tl_graph_clone(&c, g, NULL), TL_OK);
  tl_graph_hash(c, h1);
  cr_assert(memcmp(h0, h1, 32) == 0, "a clone hashes the same");
  tl_graph_free(c);
  tl_graph_free(g);
}

/* ---- IR JSON -------------------------------------------------------------------------------- */
Test(ir_json, round_trip_with_weights_is_bit_exact) {
  tl_graph *g = make_graph(), *h;
  tl_status st;
  char *js, *js2;
  cr_assert_eq(tl_ir_json_write(g, 1, &js, &st), TL_OK, "%s", st.msg);
  cr_assert(strstr(js, "\"nan:0x7fc00001\"") != NULL);
  cr_assert(strstr(js, "\"-0x0p+0\"") != NULL);
  cr_assert_eq(tl_ir_json_read(js, strlen(js), "g.json", &h, &st), TL_OK, "%s", st.msg);
  assert_same_graph(g, h);
  cr_assert_eq(tl_ir_json_write(h, 1, &js2, &st), TL_OK);
  cr_assert_str_eq(js, js2);
  free(js), free(js2);
  tl_graph_free(g), tl_graph_free(h);
}

Test(ir_json, structure_only_round_trip_zero_fills) {
  tl_graph *g = make_graph(), *h;
  tl_status st;
  char *js, *js2;
  cr_assert_eq(tl_ir_json_write(g, 0, &js, &st), TL_OK);
  cr_assert(strstr(js, "weights") == NULL);
  cr_assert(strstr(js, "\"format\": \"torchlean.ir.v1\"") != NULL);
  cr_assert_eq(tl_ir_json_read(js, strlen(js), "g.json", &h, &st), TL_OK, "%s", st.msg);
  for (int64_t i = 0; i < h->nweights; i++)
    cr_assert_eq(h->weights[i], 0.0f);
  cr_assert_eq(tl_ir_json_write(h, 0, &js2, &st), TL_OK);
  cr_assert_str_eq(js, js2);
  /* same structure, zero weights: copy g's weights in and the hashes agree */
  memcpy(h->weights, g->weights, (size_t)g->nweights * 4);
  assert_same_graph(g, h);
  free(js), free(js2);
  tl_graph_free(g), tl_graph_free(h);
}

static const char *small_doc =
    "{\"format\": \"torchlean.ir.v1\", \"input_id\": 0, \"output_id\": 3, \"inputs\": [0], \"outputs\": "
    "[3],\n"
    " \"nodes\": [\n"
    "  {\"id\": 0, \"kind\": \"input\", \"parents\": [], \"shape\": [2, 4], \"name\": \"x\"},\n"
    "  {\"id\": 1, \"kind\": \"param\", \"parents\": [], \"shape\": [3, 4], \"name\": \"w\", \"param_kind\": "
    "\"trainable\", \"numel\": 12},\n"
    "  {\"id\": 2, \"kind\": \"linear\", \"parents\": [0, 1], \"shape\": [2, 3]},\n"
    "  {\"id\": 3, \"kind\": \"softmax\", \"parents\": [2], \"shape\": [2, 3], \"axis\": 1}\n"
    " ]}";

static void expect_ir_error(const char *from, const char *to, const char *needle) {
  const char *at = strstr(small_doc, from);
  cr_assert_not_null(at, "fixture lacks %s", from);
  size_t n = strlen(small_doc) - strlen(from) + strlen(to) + 1;
  char *doc = malloc(n);
  snprintf(doc, n, "%.*s%s%s", (int)(at - small_doc), small_doc, to, at + strlen(from));
  tl_graph *g = (tl_graph *)1;
  tl_status st;
  cr_assert_neq(tl_ir_json_read(doc, strlen(doc), "m.json", &g, &st), TL_OK, "accepted: %s", doc);
  cr_assert_null(g);
  cr_assert(strstr(st.msg, "m.json: ") == st.msg, "%s", st.msg);
  cr_assert(strstr(st.msg, needle) != NULL, "wanted '%s' in: %s", needle, st.msg);
  free(doc);
}

Test(ir_json, small_document_reads) {
  tl_graph *g;
  tl_status st;
  cr_assert_eq(tl_ir_json_read(small_doc, strlen(small_doc), "m.json", &g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(g->nnodes, 4);
  cr_assert_eq(g->nodes[3].attrs.axis, 1);
  tl_graph_free(g);
}

Test(ir_json, strict_errors_name_the_node) {
  expect_ir_error("\"kind\": \"linear\"", "\"kind\": \"lineer\"", "node 2: unknown kind \"lineer\"");
  expect_ir_error("\"parents\": [0, 1]", "\"parents\": [0, 3]", "node 2 (linear): parent 1 is node 3");
  expect_ir_error("\"parents\": [0, 1]", "\"parents\": [0, 2]", "node 2 (linear): parent 1 is node 2");
  expect_ir_error("\"shape\": [2, 3]}", "\"shape\": [2, 4]}", "node 2 (linear): recorded shape [2, 4]");
  expect_ir_error("\"shape\": [3, 4]", "\"shape\": [3, 5]", "node 1 (param): \"numel\" 12");
  expect_ir_error("\"shape\": [3, 4], \"name\": \"w\",", "\"shape\": [5, 4], \"name\": \"w\",", "numel");
  expect_ir_error("\"axis\": 1}", "\"axis\": 1, \"stride\": 2}",
                  "node 3 (softmax): unknown field \"stride\"");
  expect_ir_error("\"axis\": 1}", "\"axis\": \"1\"}", "node 3 (softmax): \"axis\" must be an integer");
  expect_ir_error("\"axis\": 1}", "\"axis\": 1.5}", "node 3 (softmax): \"axis\" must be an integer");
  expect_ir_error("\"axis\": 1}", "\"axis\": 7}", "node 3 (softmax): axis 7 out of range");
  expect_ir_error(", \"axis\": 1}", "}", "node 3 (softmax): missing attribute \"axis\"");
  expect_ir_error("{\"id\": 2,", "{\"id\": 1,", "duplicate id 1");
  expect_ir_error("{\"id\": 2,", "{\"id\": 5,", "id 5 out of order");
  expect_ir_error("\"id\": 3, \"kind\": \"softmax\", \"parents\": [2]", "\"id\": 3, \"kind\": \"softmax\"",
                  "node 3 (softmax): missing field \"parents\"");
  expect_ir_error("\"param_kind\": \"trainable\"", "\"param_kind\": \"frozen\"",
                  "node 1 (param): \"param_kind\"");
  expect_ir_error(", \"name\": \"w\"", "", "node 1 (param): missing field \"name\"");
  expect_ir_error("\"name\": \"w\"", "\"name\": \"x\"", "name 'x'");
  expect_ir_error("\"inputs\": [0]", "\"inputs\": [1]", "\"inputs\"");
  expect_ir_error("\"outputs\": [3]", "\"outputs\": [3, 3]", "twice");
  expect_ir_error("\"format\": \"torchlean.ir.v1\"", "\"format\": \"onnx\"", "\"format\"");
  expect_ir_error("\"nodes\": [", "\"extra\": 1, \"nodes\": [", "unknown field \"extra\"");
  expect_ir_error(" ]}", " ]} x", "line 7");
  expect_ir_error("\"outputs\": [3],", "\"outputs\": [3], \"outputs\": [3],", "appears twice");
  expect_ir_error("\"numel\": 12}", "\"numel\": 12, \"weights\": [\"0x1p+0\"]}", "1 weights for 12 elements");
}

Test(ir_json, weights_must_be_exact_float32) {
  const char *doc = "{\"format\": \"torchlean.ir.v1\", \"input_id\": -1, \"output_id\": -1, \"nodes\": ["
                    "{\"id\": 0, \"kind\": \"param\", \"parents\": [], \"shape\": [2], \"name\": \"w\","
                    " \"param_kind\": \"constant\", \"numel\": 2, \"weights\": [\"0x1p-149\", \"%s\"]}]}";
  const char *good[] = {"-0x1.fffffep+127", "inf", "nan:0xffc00123", "0.5", "-0x0p+0"};
  const char *bad[] = {"0x1p-150", "0.1", "nan:0x3f800000", "nan", " 1", "1x", "", "nan:0x7fc0000"};
  char buf[512];
  tl_graph *g;
  tl_status st;
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    snprintf(buf, sizeof buf, doc, good[i]);
    cr_assert_eq(tl_ir_json_read(buf, strlen(buf), "w.json", &g, &st), TL_OK, "%s: %s", good[i], st.msg);
    cr_assert_eq(g->weights[0], 0x1p-149f);
    tl_graph_free(g);
  }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(buf, sizeof buf, doc, bad[i]);
    cr_assert_neq(tl_ir_json_read(buf, strlen(buf), "w.json", &g, &st), TL_OK, "accepted '%s'", bad[i]);
    cr_assert(strstr(st.msg, "node 0 (param): weights[1]") != NULL, "%s", st.msg);
  }
}

/* ---- model files ---------------------------------------------------------------------------- */
Test(model_file, save_load_round_trip_is_bit_exact) {
  char *dir = tmpdir(), path[128];
  snprintf(path, sizeof path, "%s/m.safetensors", dir);
  tl_graph *g = make_graph(), *h;
  tl_status st;
  cr_assert_eq(tl_model_save(path, g, &st), TL_OK, "%s", st.msg);
  cr_assert_eq(tl_model_load(path, &h, &st), TL_OK, "%s", st.msg);
  assert_same_graph(g, h);
  for (size_t i = 0; i < NSPECIAL; i++) {
    uint32_t u;
    memcpy(&u, &h->weights[i], 4);
    cr_assert_eq(u, special_bits[i], "weight %zu: %08x", i, u);
  }
  /* saving the loaded graph gives the same bytes */
  void *a, *b;
  size_t na, nb;
  cr_assert_eq(tl_model_encode(g, &a, &na, NULL), TL_OK);
  cr_assert_eq(tl_model_encode(h, &b, &nb, NULL), TL_OK);
  cr_assert_eq(na, nb);
  cr_assert(memcmp(a, b, na) == 0);
  cr_assert_eq((na - (size_t)g->nweights * 4) % 8, 0, "header padded to 8 bytes");
  free(a), free(b);
  tl_graph_free(g), tl_graph_free(h);
  rm_rf(dir);
}

/* The header of an encoded model as a string, and its data section. */
typedef struct parts {
  char *header;
  const uint8_t *data;
  size_t dlen;
  void *buf;
} parts;

static parts split(const tl_graph *g) {
  parts p;
  size_t len;
  cr_assert_eq(tl_model_encode(g, &p.buf, &len, NULL), TL_OK);
  const uint8_t *b = p.buf;
  uint64_t n = 0;
  for (int i = 0; i < 8; i++)
    n |= (uint64_t)b[i] << (8 * i);
  p.header = strndup((const char *)b + 8, (size_t)n);
  p.data = b + 8 + n;
  p.dlen = len - 8 - n;
  return p;
}

/* Assemble 8-byte length + header + data and load it; expect failure with `needle`. */
static void expect_model_error(const char *header, const uint8_t *data, size_t dlen, const char *needle) {
  size_t hn = strlen(header), len = 8 + hn + dlen;
  uint8_t *buf = malloc(len);
  for (int i = 0; i < 8; i++)
    buf[i] = (uint8_t)((uint64_t)hn >> (8 * i));
  memcpy(buf + 8, header, hn);
  if (dlen)
    memcpy(buf + 8 + hn, data, dlen);
  tl_graph *g = (tl_graph *)1;
  tl_status st;
  cr_assert_neq(tl_model_load_mem(buf, len, "bad.safetensors", &g, &st), TL_OK, "accepted (%s)", needle);
  cr_assert_null(g);
  cr_assert(strstr(st.msg, "bad.safetensors: ") == st.msg, "%s", st.msg);
  cr_assert(strstr(st.msg, needle) != NULL, "wanted '%s' in: %s", needle, st.msg);
  free(buf);
}

/* header with the first occurrence of `from` replaced by `to` */
static char *replace(const char *s, const char *from, const char *to) {
  const char *at = strstr(s, from);
  cr_assert_not_null(at, "no '%s' in header", from);
  size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
  char *r = malloc(n);
  snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
  return r;
}

static void expect_replaced(const parts *p, const char *from, const char *to, const char *needle) {
  char *h = replace(p->header, from, to);
  expect_model_error(h, p->data, p->dlen, needle);
  free(h);
}

Test(model_file, malformed_files_give_clear_errors) {
  tl_graph *g = make_graph();
  parts p = split(g);
  char off[64];
  /* fc.bias is 3 floats: find its offsets in the header */
  const char *fb = strstr(p.header, "\"fc.bias\"");
  cr_assert_not_null(fb);
  long long b, e;
  cr_assert_eq(sscanf(strstr(fb, "data_offsets") + 15, "%lld,%lld", &b, &e), 2);
  snprintf(off, sizeof off, "[%lld,%lld]", b, e);

  /* too short, header length beyond the file */
  tl_status st;
  tl_graph *h;
  uint8_t tiny[4] = {1, 0, 0, 0};
  cr_assert_neq(tl_model_load_mem(tiny, 4, "bad.safetensors", &h, &st), TL_OK);
  cr_assert(strstr(st.msg, "too short") != NULL, "%s", st.msg);
  uint8_t big[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
  cr_assert_neq(tl_model_load_mem(big, 16, "bad.safetensors", &h, &st), TL_OK);
  cr_assert(strstr(st.msg, "header length 65535 exceeds") != NULL, "%s", st.msg);
  /* JSON errors */
  expect_replaced(&p, "{\"__metadata__\"", "{\"__metadata__\"#", "header: line 1");
  expect_model_error("[1, 2]", p.data, p.dlen, "must be a JSON object");
  expect_model_error("{}", NULL, 0, "no \"__metadata__\"");
  /* metadata */
  expect_replaced(&p, "torchlean.model.v1", "torchlean.model.v0", "__metadata__.format");
  expect_replaced(&p, "\"graph_sha256\":\"", "\"graph_sha256\":\"x", "graph_sha256 must be");
  expect_replaced(&p, "\\\"kind\\\": \\\"relu\\\"", "\\\"kind\\\": \\\"rel\\\"",
                  "__metadata__.graph: node 4: unknown kind \"rel\"");
  /* offsets */
  char bad[64];
  snprintf(bad, sizeof bad, "[%lld,%lld]", b, (long long)p.dlen + 4);
  expect_replaced(&p, off, bad, "tensor 'fc.bias': data_offsets");
  snprintf(bad, sizeof bad, "[%lld,%lld]", e, b);
  expect_replaced(&p, off, bad, "tensor 'fc.bias': data_offsets");
  snprintf(bad, sizeof bad, "[%lld,%lld]", b - 4, e - 4);
  expect_replaced(&p, off, bad, "overlap");
  snprintf(bad, sizeof bad, "[%lld,%lld]", b, e - 4);
  expect_replaced(&p, off, bad, "tensor 'fc.bias': 8 bytes for 3 float32 elements");
  snprintf(bad, sizeof bad, "[%lld]", b);
  expect_replaced(&p, off, bad, "tensor 'fc.bias': \"data_offsets\" must be [begin, end]");
  snprintf(bad, sizeof bad, "[%lld.5,%lld]", b, e);
  expect_replaced(&p, off, bad, "tensor 'fc.bias': \"data_offsets[0]\" must be an integer");
  /* data section longer than the tensors: trailing bytes */
  {
    uint8_t *d2 = malloc(p.dlen + 4);
    memcpy(d2, p.data, p.dlen);
    memset(d2 + p.dlen, 0, 4);
    expect_model_error(p.header, d2, p.dlen + 4, "belong to no tensor");
    free(d2);
  }
  /* dtype, shape */
  expect_replaced(&p, "\"fc.bias\":{\"dtype\":\"F32\"", "\"fc.bias\":{\"dtype\":\"F64\"",
                  "tensor 'fc.bias': dtype \"F64\" is not supported");
  expect_replaced(&p, "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3]",
                  "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[1,3]",
                  "tensor 'fc.bias': shape differs from the graph's [3]");
  expect_replaced(&p, "\"fc.bias\":{\"dtype\":\"F32\"", "\"fc.bias\":{\"dtype\":\"F32\",\"x\":1",
                  "tensor 'fc.bias': unknown field \"x\"");
  /* missing and extra weights */
  expect_replaced(&p, "\"fc.bias\":", "\"fc.bias2\":", "tensor 'fc.bias2': the graph has no parameter");
  {
    char *h2 = replace(p.header, ",\"fc.bias\":{", ",\"zz\":{");
    char *h3 = replace(h2, "\"zz\":", "\"fc.biaz\":");
    free(h3);
    /* delete the fc.bias entry entirely */
    char *start = strstr(h2, ",\"zz\":{"), *end = strchr(strchr(start, ']'), '}') + 1;
    memmove(start, end, strlen(end) + 1);
    expect_model_error(h2, p.data, p.dlen, "parameter 'fc.bias' (node 13) has no tensor in the file");
    free(h2);
  }
  {
    size_t hl = strlen(p.header);
    char *h2 = malloc(hl + 128);
    size_t cut = hl;
    while (p.header[cut - 1] == ' ')
      cut--;
    snprintf(h2, hl + 128, "%.*s,\"extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}}",
             (int)(cut - 1), p.header, p.dlen, p.dlen + 4);
    uint8_t *d2 = malloc(p.dlen + 4);
    memcpy(d2, p.data, p.dlen);
    memset(d2 + p.dlen, 0, 4);
    expect_model_error(h2, d2, p.dlen + 4, "tensor 'extra': the graph has no parameter");
    free(d2), free(h2);
  }
  expect_replaced(&p, "\"fc.bias\":{", "\"fc.bias\":{\"dtype\":\"F32\"}, \"fc.bias\":{", "appears twice");
  /* hash mismatch: change one data bit */
  {
    uint8_t *d2 = malloc(p.dlen);
    memcpy(d2, p.data, p.dlen);
    d2[p.dlen - 1] ^= 0x10;
    expect_model_error(p.header, d2, p.dlen, "graph_sha256 mismatch");
    free(d2);
  }
  free(p.header), free(p.buf);
  tl_graph_free(g);
}

Test(model_file, mutations_never_crash_and_accepted_graphs_validate) {
  tl_graph *g = make_graph();
  void *buf;
  size_t len;
  cr_assert_eq(tl_model_encode(g, &buf, &len, NULL), TL_OK);
  uint8_t *m = malloc(len);
  tl_rng r;
  tl_rng_init(&r, 20240601);
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 400; iter++) {
    memcpy(m, buf, len);
    size_t mlen = len;
    int kind = (int)tl_rng_below(&r, 4);
    if (kind == 0) { /* flip 1..4 bits anywhere */
      int nflip = 1 + (int)tl_rng_below(&r, 4);
      for (int k = 0; k < nflip; k++) {
        size_t at = (size_t)tl_rng_below(&r, len);
        m[at] ^= (uint8_t)(1u << tl_rng_below(&r, 8));
      }
    } else if (kind == 1) { /* truncate */
      mlen = (size_t)tl_rng_below(&r, len);
    } else if (kind == 2) { /* overwrite a header byte with a JSON-ish character */
      static const char chars[] = "{}[]\":,0123456789-.eE \\x";
      size_t at = 8 + (size_t)tl_rng_below(&r, 600);
      m[at] = (uint8_t)chars[tl_rng_below(&r, sizeof chars - 1)];
    } else { /* flip a data bit: must be caught by the hash */
      size_t at = len - 1 - (size_t)tl_rng_below(&r, (uint64_t)g->nweights * 4);
      m[at] ^= (uint8_t)(1u << tl_rng_below(&r, 8));
    }
    tl_graph *h = NULL;
    tl_status st;
    tl_code rc = tl_model_load_mem(m, mlen, "mut", &h, &st);
    if (rc == TL_OK) {
      accepted++;
      cr_assert_eq(tl_graph_validate(h, &st), TL_OK, "%s", st.msg);
      cr_assert_neq(kind, 3, "a flipped data bit was not caught");
      tl_graph_free(h);
    } else {
      rejected++;
      cr_assert_null(h);
      cr_assert(strncmp(st.msg, "mut: ", 5) == 0 && strlen(st.msg) > 6, "%s", st.msg);
    }
  }
  cr_log_info("mutations: %d accepted, %d rejected", accepted, rejected);
  cr_assert_gt(rejected, 300);
  free(m), free(buf);
  tl_graph_free(g);
}

Test(model_file, python_numpy_reads_it_without_safetensors) {
  char *dir = tmpdir(), path[128], exp[128], cmd[512];
  snprintf(path, sizeof path, "%s/m.safetensors", dir);
  snprintf(exp, sizeof exp, "%s/expected.txt", dir);
  tl_graph *g = make_graph();
  cr_assert_eq(tl_model_save(path, g, NULL), TL_OK);
  FILE *f = fopen(exp, "w");
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM)
      continue;
    fprintf(f, "%s ", n->name);
    for (int k = 0; k < n->ndim; k++)
      fprintf(f, k ? ",%lld" : "%lld", (long long)n->shape[k]);
    if (!n->ndim)
      fputc('-', f);
    for (int64_t k = 0; k < n->numel; k++) {
      uint32_t u;
      memcpy(&u, &g->weights[n->woff + k], 4);
      fprintf(f, " %08x", u);
    }
    fputc('\n', f);
  }
  fclose(f);
  cr_assert_eq(system("/usr/bin/python3 -c 'import numpy' 2>/dev/null"), 0,
               "/usr/bin/python3 with numpy is required (scripts/setup.sh installs python3-numpy)");
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/ir/check_model_file.py %s %s", TL_SOURCE_DIR, path,
           exp);
  int rc = system(cmd);
  cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "python check failed: %d", rc);
  tl_graph_free(g);
  rm_rf(dir);
}

/* ---- CLI ------------------------------------------------------------------------------------ */
static int run_cli(const char *args, const char *out, const char *err) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/tools/torchlean %s >%s 2>%s", TL_BUILD_DIR, args, out, err);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *path) {
  void *d;
  size_t n;
  cr_assert_eq(tl_read_file(path, &d, &n, NULL), TL_OK);
  char *s = realloc(d, n + 1);
  s[n] = '\0';
  return s;
}

Test(cli, export_and_summary) {
  char *dir = tmpdir(), model[128], out[128], err[128], args[512], j[128];
  snprintf(model, sizeof model, "%s/m.safetensors", dir);
  snprintf(out, sizeof out, "%s/out.txt", dir);
  snprintf(err, sizeof err, "%s/err.txt", dir);
  snprintf(j, sizeof j, "%s/g.json", dir);
  tl_graph *g = make_graph(), *h;
  cr_assert_eq(tl_model_save(model, g, NULL), TL_OK);

  snprintf(args, sizeof args, "export %s --format ir-json --weights --out %s", model, j);
  cr_assert_eq(run_cli(args, out, err), 0);
  char *s = slurp(j);
  tl_status st;
  cr_assert_eq(tl_ir_json_read(s, strlen(s), j, &h, &st), TL_OK, "%s", st.msg);
  assert_same_graph(g, h);
  tl_graph_free(h);
  free(s);

  snprintf(args, sizeof args, "export --format=dot %s", model);
  cr_assert_eq(run_cli(args, out, err), 0);
  s = slurp(out);
  cr_assert(strncmp(s, "digraph torchlean {", 19) == 0, "%s", s);
  cr_assert(strstr(s, "conv2d\\n[2, 4, 6, 6]") != NULL, "%s", s);
  cr_assert(strstr(s, "n2 -> n3;") != NULL);
  free(s);

  snprintf(args, sizeof args, "summary %s", model);
  cr_assert_eq(run_cli(args, out, err), 0);
  s = slurp(out);
  cr_assert(
      strstr(s, "[3] Conv2d(1, 4, kernel=(3, 3), padding=(1, 1)): [2, 1, 6, 6] -> [2, 4, 6, 6] params=40") !=
          NULL,
      "%s", s);
  cr_assert(strstr(s, "[14] Linear(36, 3): [2, 36] -> [2, 3] params=111") != NULL, "%s", s);
  cr_assert(strstr(s, "total params=173 trainable=162 buffers=8 constants=3") != NULL, "%s", s);
  free(s);

  /* bad inputs: exit 2 with one line on stderr */
  snprintf(args, sizeof args, "summary %s", out);
  cr_assert_eq(run_cli(args, out, err), 2);
  s = slurp(err);
  cr_assert(strstr(s, "torchlean summary: ") == s, "%s", s);
  cr_assert(strchr(s, '\n') == s + strlen(s) - 1, "one line: %s", s);
  free(s);
  snprintf(args, sizeof args, "export %s/missing.safetensors", dir);
  cr_assert_eq(run_cli(args, out, err), 2);
  snprintf(args, sizeof args, "export %s --format onnx", model);
  cr_assert_eq(run_cli(args, out, err), 2);
  tl_graph_free(g);
  rm_rf(dir);
}
