/* nn/nn_zoo.c - ready-made models (mlp, cnn, resnet, transformer classifier), tracing and summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

static tl_model *finish(tl_model *m, tl_module *root, int ndim, const int64_t *shape, int64_t classes) {
  if (!m)
    return NULL;
  tl_model_set_root(m, root, ndim, shape);
  m->num_classes = (int)classes;
  return m; /* errors stay recorded in m: callers check tl_model_status */
}

tl_model *tl_zoo_mlp(uint64_t seed, int ndim, const int64_t *sample_shape, int nhidden, const int64_t *hidden,
                     int64_t classes, const double *normalize) {
  tl_model *m = tl_model_new(seed);
  if (!m)
    return NULL;
  int64_t in = 1;
  for (int i = 0; i < ndim; i++)
    in *= sample_shape[i];
  /* Flatten, Linear, ReLU, ..., Linear as one flat Sequential: names read "1.weight", "3.weight" */
  tl_module **mods = calloc((size_t)(2 * nhidden + 3), sizeof *mods);
  if (!mods) {
    tl_model_free(m);
    return NULL;
  }
  int k = 0;
  mods[k++] = tl_nn_flatten(m);
  if (normalize)
    mods[k++] = tl_nn_normalize(m, normalize[0], normalize[1]);
  for (int i = 0; i <= nhidden; i++) {
    mods[k++] = tl_nn_linear(m, i ? hidden[i - 1] : in, i < nhidden ? hidden[i] : classes);
    if (i < nhidden)
      mods[k++] = tl_nn_relu(m);
  }
  tl_module *root = m->err ? NULL : tl_nn_sequential(m, k, mods);
  free(mods);
  return finish(m, root, ndim, sample_shape, classes);
}

tl_model *tl_zoo_cnn(uint64_t seed, int64_t in_ch, int64_t hw, int64_t classes, const double *normalize) {
  tl_model *m = tl_model_new(seed);
  if (!m)
    return NULL;
  int64_t q = hw / 4;
  tl_module *mods[9];
  int k = 0;
  if (normalize)
    mods[k++] = tl_nn_normalize(m, normalize[0], normalize[1]);
  mods[k++] = tl_nn_conv2d(m, in_ch, 8, 3, 1, 1);
  mods[k++] = tl_nn_relu(m);
  mods[k++] = tl_nn_max_pool2d(m, 2, 2);
  mods[k++] = tl_nn_conv2d(m, 8, 16, 3, 1, 1);
  mods[k++] = tl_nn_relu(m);
  mods[k++] = tl_nn_max_pool2d(m, 2, 2);
  mods[k++] = tl_nn_flatten(m);
  mods[k++] = tl_nn_linear(m, 16 * q * q, classes);
  tl_module *root = m->err ? NULL : tl_nn_sequential(m, k, mods);
  int64_t shape[] = {in_ch, hw, hw};
  return finish(m, root, 3, shape, classes);
}

tl_model *tl_zoo_resnet(uint64_t seed, const char *variant, int64_t in_ch, int64_t hw, int64_t classes) {
  tl_model *m = tl_model_new(seed);
  if (!m)
    return NULL;
  int big = strcmp(variant, "resnet18") == 0;
  if (!big && strcmp(variant, "small") != 0) {
    m->err = tl_fail(&m->st, TL_EARG, "nn: unknown resnet variant '%s' (small, resnet18)", variant);
    return m;
  }
  int64_t widths[4] = {16, 32, 64, 0}, width18[4] = {64, 128, 256, 512};
  const int64_t *w = big ? width18 : widths;
  int stages = big ? 4 : 3, blocks = big ? 2 : 1;
  tl_module *mods[32];
  int k = 0;
  mods[k++] = tl_nn_conv2d_nobias(m, in_ch, w[0], 3, 1, 1);
  mods[k++] = tl_nn_batch_norm(m, w[0]);
  mods[k++] = tl_nn_relu(m);
  int64_t cin = w[0];
  for (int s = 0; s < stages; s++)
    for (int b = 0; b < blocks; b++) {
      mods[k++] = tl_nn_resnet_basic_block(m, cin, w[s], s > 0 && b == 0 ? 2 : 1);
      cin = w[s];
    }
  mods[k++] = tl_nn_global_avg_pool(m);
  mods[k++] = tl_nn_linear(m, cin, classes);
  tl_module *root = m->err ? NULL : tl_nn_sequential(m, k, mods);
  int64_t shape[] = {in_ch, hw, hw};
  return finish(m, root, 3, shape, classes);
}

/* token embedding plus learned positions: y = tok[x] + pos */
static int fwd_tokens(tl_ctx *c, const tl_module *m, int x) {
  int p[2] = {x, m->params[0]};
  return tl_add(c, tl_op_node(c, TL_OP_EMBEDDING, 2, p, NULL), m->params[1]);
}

/* The encoder part of the transformer classifiers after their embedding mods[0..k): `layers`
 * post-norm blocks, mean over tokens, linear; the root Sequential (NULL after an error). */
static tl_module *encoder_classifier(tl_model *m, tl_module **mods, int k, int64_t embed, int64_t heads,
                                     int64_t hidden, int layers, int64_t classes) {
  for (int i = 0; i < layers; i++)
    mods[k++] = tl_nn_transformer_block(m, embed, heads, hidden, 0);
  mods[k++] = tl_nn_mean_axis1(m);
  mods[k++] = tl_nn_linear(m, embed, classes);
  return m->err ? NULL : tl_nn_sequential(m, k, mods);
}

/* a new model, or one holding the error when `layers` is outside 1..24 (mods hold 24 blocks) */
static tl_model *transformer_model(uint64_t seed, int layers) {
  tl_model *m = tl_model_new(seed);
  if (m && (layers < 1 || layers > 24))
    m->err = tl_fail(&m->st, TL_EARG, "nn: transformer layers %d not in 1..24", layers);
  return m;
}

tl_model *tl_zoo_transformer(uint64_t seed, int64_t vocab, int64_t len, int64_t embed, int64_t heads,
                             int64_t hidden, int layers, int64_t classes) {
  tl_model *m = transformer_model(seed, layers);
  if (!m || m->err)
    return m;
  tl_module *tok = tl_nn_module_new(m, "TokenEmbedding", fwd_tokens);
  if (tok) {
    snprintf(tok->label, sizeof tok->label, "TokenEmbedding(%lld, %lld, len=%lld)", (long long)vocab,
             (long long)embed, (long long)len);
    int64_t ts[] = {vocab, embed}, ps[] = {len, embed};
    tl_nn_param(m, tok, "weight", TL_PARAM_TRAINABLE, 2, ts, TL_INIT_NORMAL, 0, 1);
    tl_nn_param(m, tok, "positions", TL_PARAM_TRAINABLE, 2, ps, TL_INIT_NORMAL, 0, 0.02);
  }
  tl_module *mods[28] = {tok};
  tl_module *root = encoder_classifier(m, mods, 1, embed, heads, hidden, layers, classes);
  int64_t shape[] = {len};
  return finish(m, root, 1, shape, classes);
}

/* image rows as tokens: (N, C, H, W) -> (N, C H, W), then a per-token linear embedding plus
 * learned positions: y = x_rows W^T + b + pos */
static int fwd_rows(tl_ctx *c, const tl_module *m, int x) {
  int64_t shape[3] = {c->g->nodes[x].shape[0], m->i[0], m->i[1]};
  int t = tl_reshape(c, x, 3, shape);
  return tl_add(c, tl_linear(c, t, m->params[0], m->params[1]), m->params[2]);
}

tl_model *tl_zoo_row_transformer(uint64_t seed, int64_t in_ch, int64_t h, int64_t w, int64_t embed,
                                 int64_t heads, int64_t hidden, int layers, int64_t classes,
                                 const double *normalize) {
  tl_model *m = transformer_model(seed, layers);
  if (!m || m->err)
    return m;
  int64_t len = in_ch * h;
  tl_module *mods[29];
  int k = 0;
  if (normalize)
    mods[k++] = tl_nn_normalize(m, normalize[0], normalize[1]);
  tl_module *rows = tl_nn_module_new(m, "RowEmbedding", fwd_rows);
  if (rows) {
    snprintf(rows->label, sizeof rows->label, "RowEmbedding(%lld tokens of %lld, %lld)", (long long)len,
             (long long)w, (long long)embed);
    rows->i[0] = len, rows->i[1] = w;
    int64_t ws[] = {embed, w}, bs[] = {embed}, ps[] = {len, embed};
    tl_nn_param(m, rows, "weight", TL_PARAM_TRAINABLE, 2, ws, TL_INIT_XAVIER, 0, 0);
    tl_nn_param(m, rows, "bias", TL_PARAM_TRAINABLE, 1, bs, TL_INIT_ZEROS, 0, 0);
    tl_nn_param(m, rows, "positions", TL_PARAM_TRAINABLE, 2, ps, TL_INIT_NORMAL, 0, 0.02);
  }
  mods[k++] = rows;
  tl_module *root = encoder_classifier(m, mods, k, embed, heads, hidden, layers, classes);
  int64_t shape[] = {in_ch, h, w};
  return finish(m, root, 3, shape, classes);
}

/* ---- tracing and summary ---------------------------------------------------------------------- */

tl_code tl_model_trace(const tl_model *m, int64_t batch, tl_graph **out, tl_status *st) {
  *out = NULL;
  TL_TRY(tl_model_status(m, st));
  if (!m->root)
    return tl_fail(st, TL_EARG, "nn: model has no root module");
  tl_graph *g;
  TL_TRY(tl_graph_clone(&g, m->g, st));
  tl_graph_truncate(g, m->nparam_nodes);
  tl_ctx c;
  tl_ctx_init(&c, g, NULL);
  int64_t shape[5] = {batch};
  memcpy(shape + 1, m->in_shape, (size_t)m->in_ndim * sizeof *shape);
  int x = tl_input(&c, "x", (int)m->in_ndim + 1, shape);
  int y = tl_model_forward(&c, m, x);
  if (c.err == TL_OK)
    c.err = tl_graph_mark_output(g, y, &c.st);
  if (c.err != TL_OK) {
    if (st)
      *st = c.st;
    tl_graph_free(g);
    return c.err;
  }
  *out = g;
  return TL_OK;
}

static int64_t count_params(const tl_graph *g, const tl_module *mod, int64_t *trainable) {
  int64_t n = 0;
  for (int i = 0; i < mod->np; i++) {
    n += g->nodes[mod->params[i]].numel;
    if (g->nodes[mod->params[i]].pkind == TL_PARAM_TRAINABLE)
      *trainable += g->nodes[mod->params[i]].numel;
  }
  for (int c = 0; c < mod->nchild; c++)
    n += count_params(g, mod->child[c], trainable);
  return n;
}

tl_code tl_model_summary(const tl_model *m, int64_t batch, FILE *out, tl_status *st) {
  tl_graph *g;
  TL_TRY(tl_model_trace(m, batch, &g, st));
  /* re-run the top-level children one by one on the traced graph to learn each one's shapes */
  tl_graph_truncate(g, m->nparam_nodes);
  tl_ctx c;
  tl_ctx_init(&c, g, NULL);
  int64_t shape[5] = {batch};
  memcpy(shape + 1, m->in_shape, (size_t)m->in_ndim * sizeof *shape);
  int x = tl_input(&c, "x", (int)m->in_ndim + 1, shape);
  int nlayers = m->root->nchild ? m->root->nchild : 1;
  int64_t total = 0, trainable = 0;
  char a[128], b[128];
  for (int i = 0; i < nlayers && c.err == TL_OK; i++) {
    const tl_module *mod = m->root->nchild ? m->root->child[i] : m->root;
    int y = tl_module_forward(&c, mod, x);
    if (y < 0)
      break;
    int64_t tr = 0, n = count_params(m->g, mod, &tr);
    total += n, trainable += tr;
    fprintf(out, "[%d] %s: %s -> %s params=%lld\n", i, mod->label,
            tl_shape_str(g->nodes[x].ndim, g->nodes[x].shape, a, sizeof a),
            tl_shape_str(g->nodes[y].ndim, g->nodes[y].shape, b, sizeof b), (long long)n);
    x = y;
  }
  tl_code rc = c.err;
  if (rc != TL_OK && st)
    *st = c.st;
  if (rc == TL_OK)
    fprintf(out, "total params=%lld trainable=%lld\n", (long long)total, (long long)trainable);
  tl_graph_free(g);
  return rc;
}
