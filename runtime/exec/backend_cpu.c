/* exec/backend_cpu.c - the CPU backend: malloc buffers, OpenBLAS sgemm, the k_*.c kernels, and the
 * small thread pool that FAST kernels use for work BLAS threads do badly (skinny GEMMs). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "exec/backend.h"

/* GEMMs below this many flops run on one BLAS thread (thread start-up costs more than it
 * saves); bigger ones use every thread OpenBLAS was started with.  Kernels that run tasks on our own
 * pool (tl_pool_run) switch BLAS to one thread first: never both nested. */
#ifndef TL_EXEC_SMALL_FLOPS
#define TL_EXEC_SMALL_FLOPS 4e6 /* e.g. the CNN head 64x784 -> 10 (1 Mflop) stays on one thread */
#endif

static void *cpu_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void cpu_free(void *p) { free(p); }

static void cpu_sgemm(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0) { /* C = beta C */
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        c[(size_t)i * ldc + j] = beta == 0 ? 0.0f : beta * c[(size_t)i * ldc + j];
    return;
  }
  double flops = 2.0 * m * n * k;
  int want = flops < TL_EXEC_SMALL_FLOPS ? 1 : openblas_get_num_procs();
  if (openblas_get_num_threads() != want)
    openblas_set_num_threads(want); /* process-wide: the one threading policy of the runtime */
  cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

/* C = alpha op(A) op(B) + beta C on the calling thread: the pool switched BLAS to one thread */
static void cpu_sgemm_st(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc) {
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0) {
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        c[(size_t)i * ldc + j] = beta == 0 ? 0.0f : beta * c[(size_t)i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- thread pool ---------------------------------------------------------------------------
 * Workers sleep on `wake` until `gen` changes; tasks are claimed under the mutex (tasks are
 * coarse: a few per kernel call), `ndone` counts finished tasks of the current run and the
 * caller waits on `done` for ndone == ntasks.  A helper that wakes late simply finds no task. */
typedef struct tl_pool_worker {
  struct tl_pool *p;
  int w;
} tl_pool_worker;

struct tl_pool {
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  int nthreads, quit;
  uint64_t gen;
  tl_task_fn fn;
  void *arg;
  int ntasks, next, ndone;
  pthread_t *th;
  tl_pool_worker *wk;
};

/* claim and run tasks of the current run; called and returns with the mutex held */
static void pool_drain(tl_pool *p, int w) {
  while (p->next < p->ntasks) {
    int t = p->next++;
    tl_task_fn fn = p->fn;
    void *arg = p->arg;
    pthread_mutex_unlock(&p->mu);
    fn(arg, t, w);
    pthread_mutex_lock(&p->mu);
    if (++p->ndone == p->ntasks)
      pthread_cond_signal(&p->done);
  }
}

static void *pool_main(void *arg) {
  tl_pool_worker *me = arg;
  tl_pool *p = me->p;
  pthread_mutex_lock(&p->mu);
  uint64_t seen = p->gen;
  for (;;) {
    while (p->gen == seen && !p->quit)
      pthread_cond_wait(&p->wake, &p->mu);
    if (p->quit)
      break;
    seen = p->gen;
    pool_drain(p, me->w);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int tl_pool_default_threads(void) {
  int n = openblas_get_num_procs();
  return n < 1 ? 1 : (n > 64 ? 64 : n);
}

tl_pool *tl_pool_new(int nthreads) {
  if (nthreads < 2)
    return NULL;
  tl_pool *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->th = calloc((size_t)nthreads, sizeof *p->th);
  p->wk = calloc((size_t)nthreads, sizeof *p->wk);
  if (!p->th || !p->wk || pthread_mutex_init(&p->mu, NULL) != 0) {
    free(p->th), free(p->wk), free(p);
    return NULL;
  }
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  p->nthreads = 1; /* the caller */
  for (int w = 1; w < nthreads; w++) {
    p->wk[w].p = p, p->wk[w].w = w;
    if (pthread_create(&p->th[w], NULL, pool_main, &p->wk[w]) != 0)
      break;
    p->nthreads = w + 1;
  }
  if (p->nthreads < 2) {
    tl_pool_free(p);
    return NULL;
  }
  return p;
}

void tl_pool_free(tl_pool *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->quit = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int w = 1; w < p->nthreads; w++)
    pthread_join(p->th[w], NULL);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p->th);
  free(p->wk);
  free(p);
}

int tl_pool_workers(const tl_pool *p) { return p ? p->nthreads : 1; }

void tl_pool_run(tl_pool *p, int ntasks, tl_task_fn fn, void *arg) {
  if (ntasks <= 0)
    return;
  if (openblas_get_num_threads() != 1)
    openblas_set_num_threads(1); /* never BLAS threads inside our threads */
  if (!p || ntasks == 1) {
    for (int t = 0; t < ntasks; t++)
      fn(arg, t, 0);
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->fn = fn, p->arg = arg, p->ntasks = ntasks, p->next = 0, p->ndone = 0;
  p->gen++;
  pthread_cond_broadcast(&p->wake);
  pool_drain(p, 0);
  while (p->ndone < p->ntasks)
    pthread_cond_wait(&p->done, &p->mu);
  p->fn = NULL, p->arg = NULL, p->ntasks = 0, p->next = 0;
  pthread_mutex_unlock(&p->mu);
}

float *tl_ws_get(tl_ws *w, size_t n) {
  if (n > w->n) {
    float *p = realloc(w->p, (n ? n : 1) * sizeof *p);
    if (!p)
      return NULL;
    w->p = p;
    w->n = n;
  }
  return w->p ? w->p : (w->p = malloc(sizeof(float)));
}

void tl_ws_free(tl_ws *w) {
  free(w->p);
  w->p = NULL;
  w->n = 0;
}

const char *tl_node_where(const tl_kctx *k, char *buf, size_t cap) {
  snprintf(buf, cap, "node %d (%s)", k->id, tl_op_get(k->n->op)->name);
  return buf;
}

int tl_op_bwd_needs_in(tl_op op) { return (tl_op_get(op)->backward & TL_BWD_IN) != 0; }
int tl_op_bwd_needs_out(tl_op op) { return (tl_op_get(op)->backward & TL_BWD_OUT) != 0; }
int tl_op_bwd_can_assign(tl_op op) { return (tl_op_get(op)->backward & TL_BWD_ASSIGN) != 0; }

static const tl_backend cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .sgemm = cpu_sgemm,
    .sgemm_st = cpu_sgemm_st,
    .ger_assign = tl_k_linear_ger_assign,
#define E(op, k) [op] = tl_k_##k##_fwd
    .forward = {E(TL_OP_LINEAR, linear), E(TL_OP_MATMUL, matmul), E(TL_OP_ADD, binary), E(TL_OP_SUB, binary),
                E(TL_OP_MUL, binary), E(TL_OP_DIV, binary), E(TL_OP_MAX, binary), E(TL_OP_MIN, binary),
                E(TL_OP_NEG, unary), E(TL_OP_ABS, unary), E(TL_OP_SQRT, unary), E(TL_OP_EXP, unary),
                E(TL_OP_LOG, unary), E(TL_OP_RELU, unary), E(TL_OP_LEAKY_RELU, unary), E(TL_OP_SIGMOID, unary),
                E(TL_OP_TANH, unary), E(TL_OP_GELU, unary), E(TL_OP_SILU, unary), E(TL_OP_CLAMP, unary),
                E(TL_OP_SOFTMAX, softmax), E(TL_OP_LOG_SOFTMAX, log_softmax), E(TL_OP_SUM, reduce),
                E(TL_OP_MEAN, reduce), E(TL_OP_RESHAPE, copy), E(TL_OP_FLATTEN, copy), E(TL_OP_PERMUTE, permute),
                E(TL_OP_CONCAT, concat), E(TL_OP_SLICE, slice), E(TL_OP_CONV2D, conv2d),
                E(TL_OP_MAX_POOL2D, maxpool), E(TL_OP_AVG_POOL2D, avgpool), E(TL_OP_GLOBAL_AVG_POOL, gap),
                E(TL_OP_BATCH_NORM, batchnorm), E(TL_OP_LAYER_NORM, layernorm), E(TL_OP_DROPOUT, dropout),
                E(TL_OP_EMBEDDING, embedding), E(TL_OP_ATTENTION, attention), E(TL_OP_MSE_LOSS, mse),
                E(TL_OP_CROSS_ENTROPY, cross_entropy)},
#undef E
#define E(op, k) [op] = tl_k_##k##_bwd
    .backward = {E(TL_OP_LINEAR, linear), E(TL_OP_MATMUL, matmul), E(TL_OP_ADD, binary), E(TL_OP_SUB, binary),
                 E(TL_OP_MUL, binary), E(TL_OP_DIV, binary), E(TL_OP_MAX, binary), E(TL_OP_MIN, binary),
                 E(TL_OP_NEG, unary), E(TL_OP_ABS, unary), E(TL_OP_SQRT, unary), E(TL_OP_EXP, unary),
                 E(TL_OP_LOG, unary), E(TL_OP_RELU, unary), E(TL_OP_LEAKY_RELU, unary), E(TL_OP_SIGMOID, unary),
                 E(TL_OP_TANH, unary), E(TL_OP_GELU, unary), E(TL_OP_SILU, unary), E(TL_OP_CLAMP, unary),
                 E(TL_OP_SOFTMAX, softmax), E(TL_OP_LOG_SOFTMAX, log_softmax), E(TL_OP_SUM, reduce),
                 E(TL_OP_MEAN, reduce), E(TL_OP_RESHAPE, copy), E(TL_OP_FLATTEN, copy), E(TL_OP_PERMUTE, permute),
                 E(TL_OP_CONCAT, concat), E(TL_OP_SLICE, slice), E(TL_OP_CONV2D, conv2d),
                 E(TL_OP_MAX_POOL2D, maxpool), E(TL_OP_AVG_POOL2D, avgpool), E(TL_OP_GLOBAL_AVG_POOL, gap),
                 E(TL_OP_BATCH_NORM, batchnorm), E(TL_OP_LAYER_NORM, layernorm), E(TL_OP_DROPOUT, dropout),
                 E(TL_OP_EMBEDDING, embedding), E(TL_OP_ATTENTION, attention), E(TL_OP_MSE_LOSS, mse),
                 E(TL_OP_CROSS_ENTROPY, cross_entropy)},
#undef E
};

const tl_backend *tl_backend_cpu(void) { return &cpu_backend; }
