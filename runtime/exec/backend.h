/* exec/backend.h - PRIVATE backend interface of the float32 executor.
 *
 * A backend is a table of function pointers: buffer allocation, a row-major sgemm, and one
 * forward and one backward (VJP) kernel per op.  The executor (exec/exec.c) only talks to this table,
 * so a CUDA backend slots in by providing another table (device pointers in tl_kctx) without
 * touching model code.  The CPU backend (exec/backend_cpu.c) wires the kernels of runtime/kernels/.
 *
 * Kernel contract:
 *  - forward: read k->in[i] (numel of parent i), write all of k->out (numel of k->n).  When
 *    k->fuse_relu is set (linear, conv2d only) apply relu(y) = max(y, +0) in place at the end.
 *  - backward: given k->gout (cotangent of the output) ACCUMULATE (+=) each parent's cotangent
 *    into k->gin[i]; gin[i] == NULL means that parent's gradient is not wanted.  k->out is the
 *    forward value (NULL when the executor did not keep it: only ops that do not need it).
 *  - k->in[i] may be NULL in backward for ops that do not read their inputs (tl_op_bwd_needs_in).
 *  - scratch memory comes from k->ws (owned by the exec; one request per kernel invocation).
 * Ownership: every pointer in tl_kctx is borrowed from the executor for the duration of the call.
 */
#ifndef TORCHLEAN_RUNTIME_BACKEND_H
#define TORCHLEAN_RUNTIME_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "torchlean/exec.h"

/* Growable scratch buffer owned by an exec. */
typedef struct tl_ws {
  float *p;
  size_t n;
} tl_ws;
/* At least n floats (contents undefined); NULL when out of memory.  Invalidates earlier results. */
float *tl_ws_get(tl_ws *w, size_t n);
void tl_ws_free(tl_ws *w);

struct tl_backend;

/* A small persistent pool of our own threads (the caller is worker 0).  tl_pool_run calls
 * fn(arg, t, w) exactly once for every task t in [0, ntasks), on some worker w in
 * [0, tl_pool_workers(p)), and returns when all tasks are done.  Which worker runs a task must not
 * change results: kernels split work into tasks fixed by the problem shape (never by the thread
 * count) and use worker w only to pick scratch memory.  BLAS is switched to one thread first
 * (our threads or BLAS threads, never both nested); inside a task use tl_backend.sgemm_st.
 * p == NULL runs every task on the caller (worker 0).  Owned by an exec (tl_pool_new/free). */
typedef struct tl_pool tl_pool;
typedef void (*tl_task_fn)(void *arg, int task, int worker);
tl_pool *tl_pool_new(int nthreads); /* NULL when nthreads < 2 or threads cannot be started */
void tl_pool_free(tl_pool *p);
int tl_pool_workers(const tl_pool *p);
void tl_pool_run(tl_pool *p, int ntasks, tl_task_fn fn, void *arg);
int tl_pool_default_threads(void);

typedef struct tl_kctx {
  const tl_graph *g;
  int id;
  const tl_node *n;
  const float *const *in; /* parent values, n->nparents entries */
  float *out;             /* output value */
  const float *gout;      /* backward: output cotangent */
  float *const *gin;      /* backward: parent cotangents to accumulate into (entries may be NULL) */
  tl_kernels kernels;
  int training;
  uint64_t seed, step;
  int fuse_relu;
  float *weights; /* g->weights, writable: batch-norm running statistics */
  const struct tl_backend *be;
  tl_ws *ws;
  tl_pool *pool;       /* our worker threads (NULL: run tasks serially); FAST kernels only */
  unsigned gin_assign; /* backward, bit i: gin[i] was NOT zeroed and this call is its only
                        * contributor: write every element as (+0 + cotangent), i.e. the bits
                        * accumulating into a zeroed buffer gives (only ops tl_op_bwd_can_assign) */
  tl_status *st;
} tl_kctx;

typedef tl_code (*tl_kernel_fn)(const tl_kctx *k);

typedef struct tl_backend {
  const char *name;
  void *(*alloc)(size_t bytes); /* uninitialised buffer, NULL when out of memory */
  void (*free)(void *p);
  /* Row-major C = alpha op(A) op(B) + beta C, op(X) = X or X^T; A is m x k after op, B k x n. */
  void (*sgemm)(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc);
  /* The same product on the calling thread only, safe to call concurrently from pool tasks
   * (never changes the BLAS thread count). */
  void (*sgemm_st)(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc);
  /* gw[o*cols + i] = +0 + g[o] x[i] (rows x cols): the batch-1 linear weight cotangent when assigned, the
   * bits tl_k_linear_bwd writes; NULL: the executor never defers that cotangent (see exec/exec.c) */
  void (*ger_assign)(float *gw, const float *g, const float *x, int64_t rows, int64_t cols);
  tl_kernel_fn forward[TL_OP_COUNT];
  tl_kernel_fn backward[TL_OP_COUNT];
} tl_backend;

const tl_backend *tl_backend_cpu(void);

/* What an op's backward reads: its inputs (all parents) and/or its own output value. */
int tl_op_bwd_needs_in(tl_op op);
int tl_op_bwd_needs_out(tl_op op);
/* The backward kernel honours tl_kctx.gin_assign for parent 0 (saves zeroing + re-reading gx). */
int tl_op_bwd_can_assign(tl_op op);

/* Dropout keep-mask draw for element i of node id at step t (shared by forward and backward):
 * u = tl_rand_counter_uniform(sm(sm(seed) ^ t) ^ id... see kernels/misc.c); kept when u >= p. */
double tl_dropout_uniform(uint64_t seed, uint64_t step, int id, int64_t i);

/* "node 7 (linear)" */
const char *tl_node_where(const tl_kctx *k, char *buf, size_t cap);

/* ---- kernel entry points (runtime/k_*.c) ---- */
#define TL_K(name)                                                                                           \
  tl_code tl_k_##name##_fwd(const tl_kctx *k);                                                               \
  tl_code tl_k_##name##_bwd(const tl_kctx *k);
TL_K(binary)
TL_K(unary)
TL_K(linear)
TL_K(matmul)
TL_K(conv2d)
TL_K(maxpool)
TL_K(avgpool)
TL_K(gap)
TL_K(batchnorm)
TL_K(layernorm)
TL_K(softmax)
TL_K(log_softmax)
TL_K(mse)
TL_K(cross_entropy)
TL_K(copy)
TL_K(permute)
TL_K(concat)
TL_K(slice)
TL_K(reduce)
TL_K(dropout)
TL_K(embedding)
TL_K(attention)
#undef TL_K
void tl_k_linear_ger_assign(float *gw, const float *g, const float *x, int64_t rows, int64_t cols);

#endif
