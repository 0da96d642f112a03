/* nn/nn_blocks.c - blocks built from layers: sequential, residual, mlp, conv-act-pool, ResNet basic
 * block, transformer encoder block. */
#include <stdio.h>
#include <stdlib.h>

#include "nn/nn_internal.h"

static int fwd_sequential(tl_ctx *c, const tl_module *m, int x) {
  for (int i = 0; i < m->nchild && x >= 0; i++)
    x = tl_module_forward(c, m->child[i], x);
  return x;
}

tl_module *tl_nn_sequential(tl_model *m, int n, tl_module *const *mods) {
  tl_module *s = tl_nn_module_new(m, "Sequential", fwd_sequential);
  char name[16];
  for (int i = 0; s && i < n; i++) {
    snprintf(name, sizeof name, "%d", i);
    if (!tl_nn_module_adopt(m, s, mods[i], name))
      return NULL;
  }
  return s;
}

/* y = inner(x) + x */
static int fwd_residual(tl_ctx *c, const tl_module *m, int x) {
  return tl_add(c, tl_module_forward(c, m->child[0], x), x);
}

tl_module *tl_nn_residual(tl_model *m, tl_module *inner) {
  tl_module *r = tl_nn_module_new(m, "Residual", fwd_residual);
  return r && tl_nn_module_adopt(m, r, inner, "inner") ? r : NULL;
}

static tl_module *activation(tl_model *m, tl_op act) {
  switch (act) {
  case TL_OP_RELU: return tl_nn_relu(m);
  case TL_OP_GELU: return tl_nn_gelu(m);
  case TL_OP_SILU: return tl_nn_silu(m);
  case TL_OP_TANH: return tl_nn_tanh(m);
  case TL_OP_SIGMOID: return tl_nn_sigmoid(m);
  case TL_OP_LEAKY_RELU: return tl_nn_leaky_relu(m, 0.01);
  default: break;
  }
  if (!m->err)
    m->err = tl_fail(&m->st, TL_EARG, "nn: op %s is not an activation", tl_op_get(act)->name);
  return NULL;
}

tl_module *tl_nn_mlp(tl_model *m, int n, const int64_t *dims, tl_op act) {
  if (n < 2) {
    if (!m->err)
      m->err = tl_fail(&m->st, TL_EARG, "nn: mlp needs at least two sizes");
    return NULL;
  }
  tl_module **mods = calloc((size_t)(2 * n), sizeof *mods);
  if (!mods) {
    m->err = tl_fail(&m->st, TL_ENOMEM, "nn: out of memory");
    return NULL;
  }
  int k = 0;
  for (int i = 0; i + 1 < n; i++) {
    mods[k++] = tl_nn_linear(m, dims[i], dims[i + 1]);
    if (i + 2 < n)
      mods[k++] = activation(m, act);
  }
  tl_module *s = m->err ? NULL : tl_nn_sequential(m, k, mods);
  free(mods);
  if (s)
    s->kind = "MLP";
  return s;
}

tl_module *tl_nn_conv_act_pool(tl_model *m, int64_t cin, int64_t cout, int64_t k, int64_t pad, tl_op act,
                               int64_t pool) {
  tl_module *mods[3] = {tl_nn_conv2d(m, cin, cout, k, 1, pad), activation(m, act),
                        tl_nn_max_pool2d(m, pool, pool)};
  tl_module *s = m->err ? NULL : tl_nn_sequential(m, 3, mods);
  if (s)
    s->kind = "ConvActPool";
  return s;
}

/* relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)) */
static int fwd_basic_block(tl_ctx *c, const tl_module *m, int x) {
  int h = x;
  for (int i = 0; i < 4; i++) {
    h = tl_module_forward(c, m->child[i], h);
    if (i == 1)
      h = tl_relu(c, h);
  }
  int s = x;
  for (int i = 4; i < m->nchild; i++)
    s = tl_module_forward(c, m->child[i], s);
  return tl_relu(c, tl_add(c, h, s));
}

tl_module *tl_nn_resnet_basic_block(tl_model *m, int64_t cin, int64_t cout, int64_t stride) {
  tl_module *b = tl_nn_module_new(m, "BasicBlock", fwd_basic_block);
  if (!b)
    return NULL;
  snprintf(b->label, sizeof b->label, "BasicBlock(%lld, %lld, stride=%lld)", (long long)cin, (long long)cout,
           (long long)stride);
  int ok = tl_nn_module_adopt(m, b, tl_nn_conv2d_nobias(m, cin, cout, 3, stride, 1), "conv1") &&
           tl_nn_module_adopt(m, b, tl_nn_batch_norm(m, cout), "bn1") &&
           tl_nn_module_adopt(m, b, tl_nn_conv2d_nobias(m, cout, cout, 3, 1, 1), "conv2") &&
           tl_nn_module_adopt(m, b, tl_nn_batch_norm(m, cout), "bn2");
  if (ok && (stride != 1 || cin != cout))
    ok = tl_nn_module_adopt(m, b, tl_nn_conv2d_nobias(m, cin, cout, 1, stride, 0), "shortcut.0") &&
         tl_nn_module_adopt(m, b, tl_nn_batch_norm(m, cout), "shortcut.1");
  return ok ? b : NULL;
}

/* children: attn, ln1, ff1, ff2, ln2; i[0] = pre_norm */
static int fwd_transformer(tl_ctx *c, const tl_module *m, int x) {
  tl_module *const *k = m->child;
  if (m->i[0]) { /* pre-norm */
    x = tl_add(c, x, tl_module_forward(c, k[0], tl_module_forward(c, k[1], x)));
    int h = tl_module_forward(c, k[4], x);
    h = tl_module_forward(c, k[3], tl_unary(c, TL_OP_GELU, tl_module_forward(c, k[2], h)));
    return tl_add(c, x, h);
  }
  x = tl_module_forward(c, k[1], tl_add(c, x, tl_module_forward(c, k[0], x)));
  int h = tl_module_forward(c, k[3], tl_unary(c, TL_OP_GELU, tl_module_forward(c, k[2], x)));
  return tl_module_forward(c, k[4], tl_add(c, x, h));
}

tl_module *tl_nn_transformer_block(tl_model *m, int64_t embed, int64_t heads, int64_t hidden, int pre_norm) {
  tl_module *b = tl_nn_module_new(m, "TransformerEncoderBlock", fwd_transformer);
  if (!b)
    return NULL;
  snprintf(b->label, sizeof b->label, "TransformerEncoderBlock(%lld, heads=%lld, ffn=%lld, %s)",
           (long long)embed, (long long)heads, (long long)hidden, pre_norm ? "pre-norm" : "post-norm");
  b->i[0] = pre_norm;
  int ok = tl_nn_module_adopt(m, b, tl_nn_attention(m, embed, heads), "self_attn") &&
           tl_nn_module_adopt(m, b, tl_nn_layer_norm(m, embed), "norm1") &&
           tl_nn_module_adopt(m, b, tl_nn_linear(m, embed, hidden), "linear1") &&
           tl_nn_module_adopt(m, b, tl_nn_linear(m, hidden, embed), "linear2") &&
           tl_nn_module_adopt(m, b, tl_nn_layer_norm(m, embed), "norm2");
  return ok ? b : NULL;
}
