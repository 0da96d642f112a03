/* vnets.h - small random networks and a plain float32 reference forward pass with selectable
 * summation orders, for the verification and certificate tests.
 * Ownership: returned graphs are freed with tl_graph_free; buffers are caller-owned. */
#ifndef TL_TEST_VNETS_H
#define TL_TEST_VNETS_H
#include <stdint.h>

#include "torchlean/graph.h"
#include "torchlean/rand.h"

/* MLP in -> h -> h2 -> out with relu (act chooses relu/leaky/sigmoid/tanh for the 2nd). */
tl_graph *vnet_mlp(uint64_t seed, int in, int h, int h2, int out, tl_op act2);
/* tiny CNN: (1,1,6,6) -> conv 3x3 (2 ch, pad 1) -> batch_norm -> relu -> avg_pool 2 -> flatten
 * -> linear 18 -> 3, with max pool instead of avg pool when maxpool. */
tl_graph *vnet_cnn(uint64_t seed, int maxpool);
/* x [1,1,1,2] -> y = max_pool(x) (kernel 1x2) -> out = y - x [1,1,1,2]: with x0 dominating x1,
 * out0 = 0 exactly, which only a max pool relaxation (not the box) can see */
tl_graph *vnet_maxpool_skip(void);

typedef enum { VORD_SEQ = 0, VORD_REV, VORD_PAIR, VORD_COUNT } vnet_order;
/* float32 forward pass (batch 1) of the graph's first output at x, summing dot products in the
 * given order; y gets numel(output) floats.  Returns 0, or -1 for an unsupported op. */
int vnet_f32_forward(const tl_graph *g, const float *x, vnet_order ord, float *y);
#endif
