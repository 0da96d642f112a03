/* nets.h - small random networks for the exact-side tests: the same network as a tl_graph, as
 * plain float32 code with a chosen summation order, and as exact GMP rationals. */
#ifndef TL_TEST_NETS_H
#define TL_TEST_NETS_H

#include <gmp.h>
#include <stdint.h>

#include "torchlean/graph.h"

enum { NET_SEQ = 0, NET_REV, NET_PAIR };

typedef struct tnet {
  int conv;                         /* 1: conv2d -> relu -> pool -> reshape -> linear; 0: MLP */
  int maxpool;                      /* conv: max pool (else avg pool) */
  int stride, pad;                  /* conv */
  int C, H, W, O;                   /* conv dims (kernel 3x3, pool 2x2 stride 2) */
  int B, n, h;                      /* MLP: batch, in, hidden */
  int K;                            /* outputs */
  int reduce;                       /* 0 none, 1 sum over axis 1, 2 mean over axis 1 */
  float *w1, *b1, *s, *t, *w2, *b2; /* owned */
  int64_t nin;                      /* input elements */
  int64_t nfeat;                    /* width after the first stage */
  tl_graph *g;                      /* owned */
  int out;                          /* output node */
} tnet;

/* Random network from seed (small integers scaled by powers of two and random floats). */
void tnet_make(tnet *t, uint64_t seed);
void tnet_free(tnet *t);
/* float32 evaluation in the given order; out has tnet_nout(t) entries */
int64_t tnet_nout(const tnet *t);
void tnet_eval_f32(const tnet *t, const float *x, int order, float *out);
/* exact evaluation for a real input given as doubles */
void tnet_eval_q(const tnet *t, const double *x, mpq_t *out);
uint64_t tnet_rand(uint64_t *s);
float tnet_randf(uint64_t *s); /* in [-1, 1) */

#endif
