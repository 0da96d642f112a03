/* nn/nn.c - the model object, parameter creation and initialisation, and the basic layers. */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- model ------------------------------------------------------------------------------- */

tl_model *tl_model_new(uint64_t seed) {
  tl_model *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->g = tl_graph_new();
  if (!m->g) {
    free(m);
    return NULL;
  }
  tl_rng_init(&m->seeds, seed);
  return m;
}

void tl_model_free(tl_model *m) {
  if (!m)
    return;
  for (int i = 0; i < m->nmods; i++) {
    free(m->mods[i]->child);
    free(m->mods[i]);
  }
  free(m->mods);
  tl_graph_free(m->g);
  free(m);
}

tl_code tl_model_status(const tl_model *m, tl_status *st) {
  if (m->err != TL_OK && st)
    *st = m->st;
  return m->err;
}

/* A new module owned by the model, or NULL (error recorded) */
tl_module *tl_nn_module_new(tl_model *m, const char *kind, tl_forward_fn fwd) {
  if (m->err)
    return NULL;
  if (m->nmods == m->capmods) {
    int cap = m->capmods ? 2 * m->capmods : 32;
    tl_module **p = realloc(m->mods, (size_t)cap * sizeof *p);
    if (!p) {
      m->err = tl_fail(&m->st, TL_ENOMEM, "nn: out of memory");
      return NULL;
    }
    m->mods = p;
    m->capmods = cap;
  }
  tl_module *mod = calloc(1, sizeof *mod);
  if (!mod) {
    m->err = tl_fail(&m->st, TL_ENOMEM, "nn: out of memory");
    return NULL;
  }
  mod->kind = kind;
  mod->forward = fwd;
  snprintf(mod->label, sizeof mod->label, "%s", kind);
  m->mods[m->nmods++] = mod;
  return mod;
}

/* Add children to a module (the module takes them; the parent names them). */
int tl_nn_module_adopt(tl_model *m, tl_module *parent, tl_module *child, const char *cname) {
  if (m->err || !parent || !child) {
    if (!m->err)
      m->err = tl_fail(&m->st, TL_EARG, "nn: a child of %s is missing", parent ? parent->kind : "a block");
    return 0;
  }
  tl_module **p = realloc(parent->child, (size_t)(parent->nchild + 1) * sizeof *p);
  if (!p) {
    m->err = tl_fail(&m->st, TL_ENOMEM, "nn: out of memory");
    return 0;
  }
  parent->child = p;
  snprintf(child->cname, sizeof child->cname, "%s", cname);
  parent->child[parent->nchild++] = child;
  return 1;
}

/* Create a parameter of `mod` with a temporary unique name; final names come from set_root. */
int tl_nn_param(tl_model *m, tl_module *mod, const char *local, tl_param_kind kind, int ndim,
                const int64_t *shape, tl_init init, double a, double b) {
  if (m->err || !mod)
    return -1;
  if (mod->np >= 6) {
    m->err = tl_fail(&m->st, TL_EARG, "nn: %s has too many parameters", mod->kind);
    return -1;
  }
  char tmp[32];
  snprintf(tmp, sizeof tmp, "~%d", m->g->nnodes);
  int id;
  m->err = tl_graph_param(m->g, tmp, kind, ndim, shape, NULL, &id, &m->st);
  if (m->err)
    return -1;
  m->nparam_nodes = m->g->nnodes;
  mod->pname[mod->np] = local;
  mod->params[mod->np++] = id;
  if (tl_nn_init(m, id, init, a, b) != TL_OK)
    return -1;
  return id;
}

tl_code tl_nn_init(tl_model *m, int id, tl_init scheme, double a, double b) {
  if (id < 0 || id >= m->g->nnodes || m->g->nodes[id].op != TL_OP_PARAM)
    return m->err = tl_fail(&m->st, TL_EARG, "nn: init of node %d, which is not a parameter", id);
  const tl_node *n = &m->g->nodes[id];
  float *w = tl_graph_param_data(m->g, id);
  /* fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field (PyTorch's rule) */
  double rf = 1;
  for (int k = 2; k < n->ndim; k++)
    rf *= (double)n->shape[k];
  double fan_in = n->ndim >= 2 ? (double)n->shape[1] * rf : (double)(n->ndim ? n->shape[0] : 1);
  double fan_out = n->ndim >= 2 ? (double)n->shape[0] * rf : fan_in;
  uint64_t seed = tl_rng_seed(&m->seeds);
  double lo = 0, hi = 0;
  switch (scheme) {
  case TL_INIT_ZEROS: memset(w, 0, (size_t)n->numel * sizeof *w); return TL_OK;
  case TL_INIT_ONES:
    for (int64_t i = 0; i < n->numel; i++)
      w[i] = 1.0f;
    return TL_OK;
  case TL_INIT_NORMAL: {
    tl_rng r;
    tl_rng_init(&r, seed);
    for (int64_t i = 0; i < n->numel; i++)
      w[i] = (float)(a + b * tl_rng_normal(&r));
    return TL_OK;
  }
  case TL_INIT_UNIFORM: lo = a, hi = b; break;
  case TL_INIT_XAVIER: hi = sqrt(6.0 / (fan_in + fan_out)), lo = -hi; break;
  case TL_INIT_KAIMING: hi = sqrt(6.0 / fan_in), lo = -hi; break;
  }
  for (int64_t i = 0; i < n->numel; i++)
    w[i] = (float)(lo + (hi - lo) * tl_rand_counter_uniform(seed, (uint64_t)i));
  return TL_OK;
}

static void name_params(tl_model *m, tl_module *mod, const char *prefix) {
  char path[512];
  for (int i = 0; i < mod->np && !m->err; i++) {
    snprintf(path, sizeof path, "%s%s", prefix, mod->pname[i]);
    m->err = tl_graph_set_name(m->g, mod->params[i], path, &m->st);
  }
  for (int c = 0; c < mod->nchild && !m->err; c++) {
    snprintf(path, sizeof path, "%s%s.", prefix, mod->child[c]->cname);
    name_params(m, mod->child[c], path);
  }
}

void tl_model_set_root(tl_model *m, tl_module *root, int ndim, const int64_t *sample_shape) {
  if (m->err)
    return;
  if (!root || ndim < 0 || ndim > 4) {
    m->err = tl_fail(&m->st, TL_EARG, "nn: model needs a root module and an input of rank 0..4");
    return;
  }
  m->root = root;
  m->in_ndim = ndim;
  memcpy(m->in_shape, sample_shape, (size_t)ndim * sizeof *sample_shape);
  name_params(m, root, "");
}

int tl_module_forward(tl_ctx *c, const tl_module *mod, int x) {
  if (c->err || x < 0)
    return -1;
  return mod->forward(c, mod, x);
}

int tl_model_forward(tl_ctx *c, const tl_model *m, int x) { return tl_module_forward(c, m->root, x); }

/* ---- layers ------------------------------------------------------------------------------ */

static int fwd_linear(tl_ctx *c, const tl_module *m, int x) {
  return tl_linear(c, x, m->params[0], m->params[1]);
}

tl_module *tl_nn_linear(tl_model *m, int64_t in, int64_t out) {
  tl_module *mod = tl_nn_module_new(m, "Linear", fwd_linear);
  if (!mod)
    return NULL;
  snprintf(mod->label, sizeof mod->label, "Linear(%lld, %lld)", (long long)in, (long long)out);
  int64_t ws[] = {out, in}, bs[] = {out};
  tl_nn_param(m, mod, "weight", TL_PARAM_TRAINABLE, 2, ws, TL_INIT_XAVIER, 0, 0);
  tl_nn_param(m, mod, "bias", TL_PARAM_TRAINABLE, 1, bs, TL_INIT_ZEROS, 0, 0);
  return m->err ? NULL : mod;
}

static int fwd_unary(tl_ctx *c, const tl_module *m, int x) { return tl_unary(c, (tl_op)m->i[0], x); }

static tl_module *unary(tl_model *m, const char *kind, tl_op op) {
  tl_module *mod = tl_nn_module_new(m, kind, fwd_unary);
  if (mod)
    mod->i[0] = op;
  return mod;
}

tl_module *tl_nn_relu(tl_model *m) { return unary(m, "ReLU", TL_OP_RELU); }
tl_module *tl_nn_silu(tl_model *m) { return unary(m, "SiLU", TL_OP_SILU); }
tl_module *tl_nn_gelu(tl_model *m) { return unary(m, "GELU", TL_OP_GELU); }
tl_module *tl_nn_sigmoid(tl_model *m) { return unary(m, "Sigmoid", TL_OP_SIGMOID); }
tl_module *tl_nn_tanh(tl_model *m) { return unary(m, "Tanh", TL_OP_TANH); }

static int fwd_leaky(tl_ctx *c, const tl_module *m, int x) { return tl_leaky_relu(c, x, m->f[0]); }
tl_module *tl_nn_leaky_relu(tl_model *m, double alpha) {
  tl_module *mod = tl_nn_module_new(m, "LeakyReLU", fwd_leaky);
  if (mod) {
    mod->f[0] = alpha;
    snprintf(mod->label, sizeof mod->label, "LeakyReLU(%g)", alpha);
  }
  return mod;
}

static int fwd_softmax(tl_ctx *c, const tl_module *m, int x) { return tl_softmax(c, x, -1); }
tl_module *tl_nn_softmax(tl_model *m) { return tl_nn_module_new(m, "Softmax", fwd_softmax); }

static int fwd_flatten(tl_ctx *c, const tl_module *m, int x) { return tl_flatten(c, x, 1, -1); }
tl_module *tl_nn_flatten(tl_model *m) { return tl_nn_module_new(m, "Flatten", fwd_flatten); }

static int fwd_dropout(tl_ctx *c, const tl_module *m, int x) { return tl_dropout(c, x, m->f[0]); }
tl_module *tl_nn_dropout(tl_model *m, double p) {
  tl_module *mod = tl_nn_module_new(m, "Dropout", fwd_dropout);
  if (mod) {
    mod->f[0] = p;
    snprintf(mod->label, sizeof mod->label, "Dropout(%g)", p);
  }
  return mod;
}

static int fwd_conv(tl_ctx *c, const tl_module *m, int x) {
  return tl_conv2d(c, x, m->params[0], m->np > 1 ? m->params[1] : -1, (int)m->i[3], (int)m->i[4], 1, 1);
}

static tl_module *conv(tl_model *m, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding,
                       int bias) {
  tl_module *mod = tl_nn_module_new(m, "Conv2d", fwd_conv);
  if (!mod)
    return NULL;
  snprintf(mod->label, sizeof mod->label, "Conv2d(%lld, %lld, k=%lld, s=%lld, p=%lld)", (long long)cin,
           (long long)cout, (long long)k, (long long)stride, (long long)padding);
  mod->i[0] = cin, mod->i[1] = cout, mod->i[2] = k, mod->i[3] = stride, mod->i[4] = padding;
  int64_t ws[] = {cout, cin, k, k}, bs[] = {cout};
  tl_nn_param(m, mod, "weight", TL_PARAM_TRAINABLE, 4, ws, TL_INIT_KAIMING, 0, 0);
  if (bias)
    tl_nn_param(m, mod, "bias", TL_PARAM_TRAINABLE, 1, bs, TL_INIT_ZEROS, 0, 0);
  return m->err ? NULL : mod;
}

tl_module *tl_nn_conv2d(tl_model *m, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding) {
  return conv(m, cin, cout, k, stride, padding, 1);
}
tl_module *tl_nn_conv2d_nobias(tl_model *m, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                               int64_t padding) {
  return conv(m, cin, cout, k, stride, padding, 0);
}

static int fwd_maxpool(tl_ctx *c, const tl_module *m, int x) {
  return tl_max_pool2d(c, x, (int)m->i[0], (int)m->i[1], 0);
}
static int fwd_avgpool(tl_ctx *c, const tl_module *m, int x) {
  return tl_avg_pool2d(c, x, (int)m->i[0], (int)m->i[1], 0);
}

static tl_module *pool(tl_model *m, const char *kind, tl_forward_fn f, int64_t k, int64_t stride) {
  tl_module *mod = tl_nn_module_new(m, kind, f);
  if (mod) {
    mod->i[0] = k, mod->i[1] = stride;
    snprintf(mod->label, sizeof mod->label, "%s(%lld, stride=%lld)", kind, (long long)k, (long long)stride);
  }
  return mod;
}
tl_module *tl_nn_max_pool2d(tl_model *m, int64_t k, int64_t stride) {
  return pool(m, "MaxPool2d", fwd_maxpool, k, stride);
}
tl_module *tl_nn_avg_pool2d(tl_model *m, int64_t k, int64_t stride) {
  return pool(m, "AvgPool2d", fwd_avgpool, k, stride);
}

static int fwd_gap(tl_ctx *c, const tl_module *m, int x) {
  return tl_op_node(c, TL_OP_GLOBAL_AVG_POOL, 1, &x, NULL);
}
tl_module *tl_nn_global_avg_pool(tl_model *m) { return tl_nn_module_new(m, "GlobalAvgPool", fwd_gap); }

static int fwd_mean1(tl_ctx *c, const tl_module *m, int x) {
  tl_attrs a = tl_attrs_default(TL_OP_MEAN);
  int64_t axes[] = {1};
  a.list = axes, a.nlist = 1;
  return tl_op_node(c, TL_OP_MEAN, 1, &x, &a);
}
tl_module *tl_nn_mean_axis1(tl_model *m) { return tl_nn_module_new(m, "MeanPool", fwd_mean1); }

static int fwd_bn(tl_ctx *c, const tl_module *m, int x) {
  int p[5] = {x, m->params[0], m->params[1], m->params[2], m->params[3]};
  tl_attrs a = tl_attrs_default(TL_OP_BATCH_NORM);
  a.eps = m->f[0], a.momentum = m->f[1];
  return tl_op_node(c, TL_OP_BATCH_NORM, 5, p, &a);
}

tl_module *tl_nn_batch_norm(tl_model *m, int64_t channels) {
  tl_module *mod = tl_nn_module_new(m, "BatchNorm", fwd_bn);
  if (!mod)
    return NULL;
  snprintf(mod->label, sizeof mod->label, "BatchNorm(%lld)", (long long)channels);
  mod->f[0] = 1e-5, mod->f[1] = 0.1;
  int64_t s[] = {channels};
  tl_nn_param(m, mod, "weight", TL_PARAM_TRAINABLE, 1, s, TL_INIT_ONES, 0, 0);
  tl_nn_param(m, mod, "bias", TL_PARAM_TRAINABLE, 1, s, TL_INIT_ZEROS, 0, 0);
  tl_nn_param(m, mod, "running_mean", TL_PARAM_BUFFER, 1, s, TL_INIT_ZEROS, 0, 0);
  tl_nn_param(m, mod, "running_var", TL_PARAM_BUFFER, 1, s, TL_INIT_ONES, 0, 0);
  return m->err ? NULL : mod;
}

static int fwd_ln(tl_ctx *c, const tl_module *m, int x) {
  int p[3] = {x, m->params[0], m->params[1]};
  tl_attrs a = tl_attrs_default(TL_OP_LAYER_NORM);
  a.eps = m->f[0];
  return tl_op_node(c, TL_OP_LAYER_NORM, 3, p, &a);
}

tl_module *tl_nn_layer_norm(tl_model *m, int64_t dim) {
  tl_module *mod = tl_nn_module_new(m, "LayerNorm", fwd_ln);
  if (!mod)
    return NULL;
  snprintf(mod->label, sizeof mod->label, "LayerNorm(%lld)", (long long)dim);
  mod->f[0] = 1e-6;
  int64_t s[] = {dim};
  tl_nn_param(m, mod, "weight", TL_PARAM_TRAINABLE, 1, s, TL_INIT_ONES, 0, 0);
  tl_nn_param(m, mod, "bias", TL_PARAM_TRAINABLE, 1, s, TL_INIT_ZEROS, 0, 0);
  return m->err ? NULL : mod;
}

static int fwd_attn(tl_ctx *c, const tl_module *m, int x) {
  int p[5] = {x, m->params[0], m->params[1], m->params[2], m->params[3]};
  tl_attrs a = tl_attrs_default(TL_OP_ATTENTION);
  a.heads = m->i[1];
  return tl_op_node(c, TL_OP_ATTENTION, 5, p, &a);
}

tl_module *tl_nn_attention(tl_model *m, int64_t embed, int64_t heads) {
  tl_module *mod = tl_nn_module_new(m, "MultiheadAttention", fwd_attn);
  if (!mod)
    return NULL;
  snprintf(mod->label, sizeof mod->label, "MultiheadAttention(%lld, heads=%lld)", (long long)embed,
           (long long)heads);
  mod->i[0] = embed, mod->i[1] = heads;
  int64_t win[] = {3 * embed, embed}, bin[] = {3 * embed}, wo[] = {embed, embed}, bo[] = {embed};
  tl_nn_param(m, mod, "in_proj_weight", TL_PARAM_TRAINABLE, 2, win, TL_INIT_XAVIER, 0, 0);
  tl_nn_param(m, mod, "in_proj_bias", TL_PARAM_TRAINABLE, 1, bin, TL_INIT_ZEROS, 0, 0);
  tl_nn_param(m, mod, "out_proj.weight", TL_PARAM_TRAINABLE, 2, wo, TL_INIT_XAVIER, 0, 0);
  tl_nn_param(m, mod, "out_proj.bias", TL_PARAM_TRAINABLE, 1, bo, TL_INIT_ZEROS, 0, 0);
  return m->err ? NULL : mod;
}

static int fwd_embed(tl_ctx *c, const tl_module *m, int x) {
  int p[2] = {x, m->params[0]};
  return tl_op_node(c, TL_OP_EMBEDDING, 2, p, NULL);
}

tl_module *tl_nn_embedding(tl_model *m, int64_t num, int64_t dim) {
  tl_module *mod = tl_nn_module_new(m, "Embedding", fwd_embed);
  if (!mod)
    return NULL;
  snprintf(mod->label, sizeof mod->label, "Embedding(%lld, %lld)", (long long)num, (long long)dim);
  int64_t s[] = {num, dim};
  tl_nn_param(m, mod, "weight", TL_PARAM_TRAINABLE, 2, s, TL_INIT_NORMAL, 0, 1);
  return m->err ? NULL : mod;
}

/* y = (x - mean) * inv_std with constant scalars (inv_std = 1/std rounded to float32 once) */
static int fwd_normalize(tl_ctx *c, const tl_module *m, int x) {
  return tl_mul(c, tl_sub(c, x, m->params[0]), m->params[1]);
}

tl_module *tl_nn_normalize(tl_model *m, double mean, double std) {
  tl_module *mod = tl_nn_module_new(m, "Normalize", fwd_normalize);
  if (!mod)
    return NULL;
  if (!(std > 0)) {
    m->err = tl_fail(&m->st, TL_EVALUE, "nn: Normalize needs std > 0 (got %g)", std);
    return NULL;
  }
  snprintf(mod->label, sizeof mod->label, "Normalize(mean=%g, std=%g)", mean, std);
  int64_t s[] = {1};
  int mi = tl_nn_param(m, mod, "mean", TL_PARAM_CONSTANT, 1, s, TL_INIT_ZEROS, 0, 0);
  int si = tl_nn_param(m, mod, "inv_std", TL_PARAM_CONSTANT, 1, s, TL_INIT_ZEROS, 0, 0);
  if (m->err)
    return NULL;
  tl_graph_param_data(m->g, mi)[0] = (float)mean;
  tl_graph_param_data(m->g, si)[0] = (float)(1.0 / std);
  return mod;
}
