/* nn.h - layers, blocks and the model zoo (TorchLean's `nn`).
 *
 * A tl_model owns a graph whose first nodes are the model's parameters (the weight store) and a
 * tree of modules.  A module's forward function builds its nodes through a tl_ctx, so the same
 * model code runs eagerly or is traced once into the IR and compiled (see exec.h).
 *
 * Parameters are named like PyTorch's state dict ("0.weight", "2.conv1.weight").  Initialisation
 * draws from SplitMix64 seed streams: each layer takes a fresh seed from the model's stream, and
 * element i of a tensor initialised with seed s uses low32(sm(sm(s) + i)) / 2^32; the same seed
 * builds the same model bit for bit.
 *
 * Errors while building are sticky: constructors return NULL after the first failure and
 * tl_model_status reports it.
 *
 * Ownership: tl_model_new allocates; tl_model_free frees the model, its graph and every module
 * created with it.  Modules are owned by the model, never freed separately.
 */
#ifndef TORCHLEAN_NN_H
#define TORCHLEAN_NN_H

#include <stdint.h>
#include <stdio.h>

#include "torchlean/exec.h"
#include "torchlean/rand.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_init {
  TL_INIT_ZEROS = 0,
  TL_INIT_ONES,
  TL_INIT_UNIFORM, /* U(a, b) */
  TL_INIT_NORMAL,  /* N(a, b^2): mean a, std b */
  TL_INIT_XAVIER,  /* U(-r, r), r = sqrt(6 / (fan_in + fan_out)) */
  TL_INIT_KAIMING  /* U(-r, r), r = sqrt(6 / fan_in)  (gain sqrt 2, for ReLU) */
} tl_init;

typedef struct tl_module tl_module;
typedef struct tl_model tl_model;

typedef int (*tl_forward_fn)(tl_ctx *c, const tl_module *m, int x);

struct tl_module {
  const char *kind; /* "Linear", "Conv2d", "Sequential", ... */
  char label[96];   /* "Linear(784, 128)" */
  tl_forward_fn forward;
  int np;
  int params[6]; /* node ids of this module's own parameters in the model graph */
  int nchild;
  tl_module **child;    /* owned by the model */
  const char *pname[6]; /* local parameter names ("weight", "bias", ...) */
  char cname[32];       /* name given by the parent ("0", "conv1"); empty at the root */
  int64_t i[8];         /* layer integers (sizes, kernel, stride, padding, heads, flags) */
  double f[4];          /* layer reals (alpha, p, eps, momentum) */
};

struct tl_model {
  tl_graph *g;      /* parameters first; forward passes append after them */
  int nparam_nodes; /* nodes [0, nparam_nodes) are parameters */
  tl_module *root;
  tl_rng seeds; /* seed stream for initialisation */
  tl_code err;
  tl_status st;
  int nmods, capmods;
  tl_module **mods; /* every module, for freeing */
  int64_t in_ndim;  /* input shape without the batch dimension */
  int64_t in_shape[4];
  int num_classes; /* output width of a classifier (0 if unknown) */
};

tl_model *tl_model_new(uint64_t seed); /* NULL only when out of memory */
void tl_model_free(tl_model *m);
tl_code tl_model_status(const tl_model *m, tl_status *st);
/* Set the model's root module and its per-sample input shape (without batch). */
void tl_model_set_root(tl_model *m, tl_module *root, int ndim, const int64_t *sample_shape);
/* Run the model's forward on node x through ctx. */
int tl_model_forward(tl_ctx *c, const tl_model *m, int x);
int tl_module_forward(tl_ctx *c, const tl_module *mod, int x);
/* Re-initialise parameter node `id` (fan_in / fan_out taken from its shape). */
tl_code tl_nn_init(tl_model *m, int id, tl_init scheme, double a, double b);

/* ---- layers ------------------------------------------------------------------------------ */
tl_module *tl_nn_linear(tl_model *m, int64_t in, int64_t out); /* Xavier weight, zero bias */
tl_module *tl_nn_relu(tl_model *m);
tl_module *tl_nn_leaky_relu(tl_model *m, double alpha);
tl_module *tl_nn_silu(tl_model *m);
tl_module *tl_nn_gelu(tl_model *m);
tl_module *tl_nn_sigmoid(tl_model *m);
tl_module *tl_nn_tanh(tl_model *m);
tl_module *tl_nn_softmax(tl_model *m); /* last axis */
tl_module *tl_nn_flatten(tl_model *m); /* axes 1.. */
tl_module *tl_nn_dropout(tl_model *m, double p);
tl_module *tl_nn_conv2d(tl_model *m, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding);
tl_module *tl_nn_conv2d_nobias(tl_model *m, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                               int64_t padding);
tl_module *tl_nn_max_pool2d(tl_model *m, int64_t k, int64_t stride);
tl_module *tl_nn_avg_pool2d(tl_model *m, int64_t k, int64_t stride);
tl_module *tl_nn_global_avg_pool(tl_model *m);
tl_module *tl_nn_batch_norm(tl_model *m, int64_t channels); /* eps 1e-5, momentum 0.1 */
tl_module *tl_nn_layer_norm(tl_model *m, int64_t dim);      /* eps 1e-6 */
tl_module *tl_nn_attention(tl_model *m, int64_t embed, int64_t heads);
tl_module *tl_nn_embedding(tl_model *m, int64_t num, int64_t dim);
tl_module *tl_nn_mean_axis1(tl_model *m);
/* y = (x - mean) / std with constant scalars, as part of the graph (so verification regions stay
 * in the data's own units, e.g. pixels in [0, 1]). */
tl_module *tl_nn_normalize(tl_model *m, double mean, double std); /* (N, L, E) -> (N, E) */

/* ---- blocks ------------------------------------------------------------------------------ */
/* Sequential: children run in order; their parameters are renamed "<index>.<name>". */
tl_module *tl_nn_sequential(tl_model *m, int n, tl_module *const *mods);
/* residual: inner(x) + x */
tl_module *tl_nn_residual(tl_model *m, tl_module *inner);
/* mlp: Linear(d0, d1), act, ..., Linear(d_{n-2}, d_{n-1}) (no activation after the last). */
tl_module *tl_nn_mlp(tl_model *m, int n, const int64_t *dims, tl_op act);
/* conv -> activation -> max pool */
tl_module *tl_nn_conv_act_pool(tl_model *m, int64_t cin, int64_t cout, int64_t k, int64_t pad, tl_op act,
                               int64_t pool);
/* ResNet basic block: conv3x3(s)-bn-relu-conv3x3-bn + shortcut (identity, or conv1x1(s)-bn when the
 * shape changes), then relu. */
tl_module *tl_nn_resnet_basic_block(tl_model *m, int64_t cin, int64_t cout, int64_t stride);
/* Transformer encoder block on (N, L, E): post-norm x = LN(x + MHA(x)); x = LN(x + FFN(x)) by
 * default, pre-norm x = x + MHA(LN(x)); x = x + FFN(LN(x)); FFN = Linear(E,H), GELU, Linear(H,E). */
tl_module *tl_nn_transformer_block(tl_model *m, int64_t embed, int64_t heads, int64_t hidden, int pre_norm);

/* ---- model zoo --------------------------------------------------------------------------- */
/* `normalize` (NULL for none) is {mean, std}: a Normalize layer first, inside the graph. */
/* MLP classifier on (C, H, W) or (D) inputs: flatten, [normalize], Linear, ReLU, ..., Linear. */
tl_model *tl_zoo_mlp(uint64_t seed, int ndim, const int64_t *sample_shape, int nhidden, const int64_t *hidden,
                     int64_t classes, const double *normalize);
/* Small CNN on (1, 28, 28): [normalize], conv(1->8, 3x3, pad 1)-relu-maxpool2, conv(8->16)-relu-maxpool2,
 * flatten, linear(16*7*7 -> classes). */
tl_model *tl_zoo_cnn(uint64_t seed, int64_t in_ch, int64_t hw, int64_t classes, const double *normalize);
/* ResNet for 3x32x32: "small" (stages 16-32-64, one block each) or "resnet18" (64-128-256-512, two
 * blocks each), stem conv3x3-bn-relu, global average pool, linear. */
tl_model *tl_zoo_resnet(uint64_t seed, const char *variant, int64_t in_ch, int64_t hw, int64_t classes);
/* Transformer encoder classifier on token ids (L): embedding + learned positions, `layers`
 * encoder blocks, mean over positions, linear. */
tl_model *tl_zoo_transformer(uint64_t seed, int64_t vocab, int64_t len, int64_t embed, int64_t heads,
                             int64_t hidden, int layers, int64_t classes);
/* Transformer encoder classifier on images (C, H, W) read as C H tokens (rows) of W values:
 * [Normalize (mean, std) when normalize != NULL], per-row linear embedding + learned positions,
 * `layers` post-norm encoder blocks, mean over tokens, linear.  `torchlean train --model
 * transformer` (embed 64, 4 heads, hidden 128, 2 layers). */
tl_model *tl_zoo_row_transformer(uint64_t seed, int64_t in_ch, int64_t h, int64_t w, int64_t embed,
                                 int64_t heads, int64_t hidden, int layers, int64_t classes,
                                 const double *normalize);

/* ---- summary ----------------------------------------------------------------------------- */
/* Print one line per top-level layer ("[i] Linear(2, 8): [2] -> [8] params=24") and totals,
 * tracing the model on a batch of `batch` samples. */
tl_code tl_model_summary(const tl_model *m, int64_t batch, FILE *out, tl_status *st);
/* Trace the model for inference on a batch of `batch` into a new graph (parameters, an input "x",
 * the logits marked as output): the graph a verifier or model file consumes.  Caller frees. */
tl_code tl_model_trace(const tl_model *m, int64_t batch, tl_graph **out, tl_status *st);

#ifdef __cplusplus
}
#endif
#endif
