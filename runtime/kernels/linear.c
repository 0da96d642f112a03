/* kernels/linear.c - linear and batched matmul.
 *
 * f32-ref order (TL_KERNELS_REF forward; see docs/f32-ref-order.md):
 *   linear  y[r,o] = ((((x[r,0]*W[o,0]) + x[r,1]*W[o,1]) + ...) + x[r,I-1]*W[o,I-1]) + b[o]
 *           every product rounded to float before the add (no FMA: -ffp-contract=off), the fold
 *           starts from the first product (-0 + p == p exactly), the bias is added last.
 *           I == 0: the fold is +0.
 *   matmul  y[..,i,k] = left fold over j of a[..,i,j]*b[..,j,k], same rules, no bias.
 * TL_KERNELS_FAST uses OpenBLAS sgemm (any order) for the products, then adds the bias.
 * Backward (both kernel sets) uses sgemm: gx += g W, gW += g^T x, gb += column sums of g. */
#include <stdlib.h>
#include <string.h>

#include "exec/backend.h"

static void relu_inplace(float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    y[i] = (y[i] > 0.0f || y[i] != y[i]) ? y[i] : 0.0f;
}

/* gW[o, i] = +0 + g[o] x[i] (batch-1 weight cotangent assigned: the bits of accumulating the one
 * product into +0); the AVX2 clone does the same two roundings per element on 8 lanes */
__attribute__((target_clones("avx2", "default"))) void tl_k_linear_ger_assign(float *restrict gw,
                                                                              const float *restrict g,
                                                                              const float *restrict x,
                                                                              int64_t O, int64_t I) {
  for (int64_t o = 0; o < O; o++) {
    float go = g[o], *restrict row = gw + o * I;
    for (int64_t i = 0; i < I; i++)
      row[i] = 0.0f + go * x[i];
  }
}

/* y = x W^T + b  (x: R x I, W: O x I) */
tl_code tl_k_linear_fwd(const tl_kctx *k) {
  const tl_node *n = k->n, *w = &k->g->nodes[n->parents[1]];
  int64_t O = w->shape[0], I = w->shape[1], R = O ? n->numel / O : 0;
  const float *x = k->in[0], *W = k->in[1], *b = n->nparents > 2 ? k->in[2] : NULL;
  float *y = k->out;
  if (k->kernels == TL_KERNELS_REF) {
    for (int64_t r = 0; r < R; r++)
      for (int64_t o = 0; o < O; o++) {
        const float *xr = x + r * I, *wo = W + o * I;
        float acc = I ? -0.0f : 0.0f;
        for (int64_t i = 0; i < I; i++) {
          float p = xr[i] * wo[i];
          acc = acc + p;
        }
        if (b)
          acc = acc + b[o];
        y[r * O + o] = acc;
      }
  } else {
    k->be->sgemm(0, 1, (int)R, (int)O, (int)I, 1.0f, x, (int)I, W, (int)I, 0.0f, y, (int)O);
    if (b)
      for (int64_t r = 0; r < R; r++)
        for (int64_t o = 0; o < O; o++)
          y[r * O + o] += b[o];
  }
  if (k->fuse_relu)
    relu_inplace(y, n->numel);
  return TL_OK;
}

tl_code tl_k_linear_bwd(const tl_kctx *k) {
  const tl_node *n = k->n, *w = &k->g->nodes[n->parents[1]];
  int64_t O = w->shape[0], I = w->shape[1], R = O ? n->numel / O : 0;
  const float *g = k->gout;
  if (k->gin[0]) /* gx (R x I) += g (R x O) W (O x I) */
    k->be->sgemm(0, 0, (int)R, (int)I, (int)O, 1.0f, g, (int)O, k->in[1], (int)I, 1.0f, k->gin[0], (int)I);
  if (k->gin[1]) { /* gW (O x I) += g^T (O x R) x (R x I) */
    float *gw = k->gin[1];
    if ((k->gin_assign & 2u) && R == 1 && k->kernels != TL_KERNELS_REF) {
      /* one row: gW = +0 + g[o] x[i], the bits of accumulating the single product into +0 */
      tl_k_linear_ger_assign(gw, g, k->in[0], O, I);
    } else {
      if (k->gin_assign & 2u)
        memset(gw, 0, (size_t)(O * I) * sizeof *gw);
      k->be->sgemm(1, 0, (int)O, (int)I, (int)R, 1.0f, g, (int)O, k->in[0], (int)I, 1.0f, gw, (int)I);
    }
  }
  if (n->nparents > 2 && k->gin[2]) { /* gb += sum over rows of g */
    float *gb = k->gin[2];
    if (k->gin_assign & 4u)
      for (int64_t o = 0; o < O; o++)
        gb[o] = 0.0f;
    for (int64_t r = 0; r < R; r++)
      for (int64_t o = 0; o < O; o++)
        gb[o] += g[r * O + o];
  }
  return TL_OK;
}

/* batch offsets of a and b for output batch index t (broadcast batch dims) */
static void mm_offsets(const tl_node *y, const tl_node *a, const tl_node *b, int64_t t, int64_t *oa,
                       int64_t *ob) {
  int nb = y->ndim - 2;
  int64_t ia = 0, ib = 0, sa = 1, sb = 1;
  for (int d = nb - 1; d >= 0; d--) {
    int64_t c = t % y->shape[d];
    t /= y->shape[d];
    int da_i = d - (nb - (a->ndim - 2)), db_i = d - (nb - (b->ndim - 2));
    int64_t da = da_i >= 0 ? a->shape[da_i] : 1, db = db_i >= 0 ? b->shape[db_i] : 1;
    if (da != 1)
      ia += c * sa;
    if (db != 1)
      ib += c * sb;
    sa *= da, sb *= db;
  }
  *oa = ia, *ob = ib;
}

/* y[.., i, k] = sum_j a[.., i, j] b[.., j, k] */
tl_code tl_k_matmul_fwd(const tl_kctx *k) {
  const tl_node *y = k->n, *a = &k->g->nodes[y->parents[0]], *b = &k->g->nodes[y->parents[1]];
  int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
  int64_t batches = (M > 0 && N > 0) ? y->numel / (M * N) : 0;
  for (int64_t t = 0; t < batches; t++) {
    int64_t ia, ib;
    mm_offsets(y, a, b, t, &ia, &ib);
    const float *A = k->in[0] + ia * M * K, *B = k->in[1] + ib * K * N;
    float *C = k->out + t * M * N;
    if (k->kernels == TL_KERNELS_REF) {
      for (int64_t i = 0; i < M; i++)
        for (int64_t c = 0; c < N; c++) {
          float acc = K ? -0.0f : 0.0f;
          for (int64_t j = 0; j < K; j++) {
            float p = A[i * K + j] * B[j * N + c];
            acc = acc + p;
          }
          C[i * N + c] = acc;
        }
    } else {
      k->be->sgemm(0, 0, (int)M, (int)N, (int)K, 1.0f, A, (int)K, B, (int)N, 0.0f, C, (int)N);
    }
  }
  return TL_OK;
}

/* ga += g b^T, gb += a^T g (per batch; broadcast batches accumulate) */
tl_code tl_k_matmul_bwd(const tl_kctx *k) {
  const tl_node *y = k->n, *a = &k->g->nodes[y->parents[0]], *b = &k->g->nodes[y->parents[1]];
  int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
  int64_t batches = (M > 0 && N > 0) ? y->numel / (M * N) : 0;
  for (int64_t t = 0; t < batches; t++) {
    int64_t ia, ib;
    mm_offsets(y, a, b, t, &ia, &ib);
    const float *G = k->gout + t * M * N;
    if (k->gin[0])
      k->be->sgemm(0, 1, (int)M, (int)K, (int)N, 1.0f, G, (int)N, k->in[1] + ib * K * N, (int)N, 1.0f,
                   k->gin[0] + ia * M * K, (int)K);
    if (k->gin[1])
      k->be->sgemm(1, 0, (int)K, (int)N, (int)M, 1.0f, k->in[0] + ia * M * K, (int)K, G, (int)N, 1.0f,
                   k->gin[1] + ib * K * N, (int)N);
  }
  return TL_OK;
}
