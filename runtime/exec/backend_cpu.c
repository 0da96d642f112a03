/* exec/backend_cpu.c - the CPU backend: malloc buffers, OpenBLAS sgemm and the kernels of
 * runtime/kernels/, one row per op of ops.def (the thread pool FAST kernels use is exec/pool.c). */
#include <cblas.h>
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

/* One row per op of ops.def: the kernel family (tl_k_<family>_fwd / _bwd) that runs the op; a
 * missing row is a compile error.  CPU_NONE: no kernel (the executor supplies the value).  The math
 * of each op is its ops.def comment; the f32-ref order is in the kernel file's header. */
#define CPU_NONE NONE
#define tl_k_NONE_fwd NULL
#define tl_k_NONE_bwd NULL
#define CPU_input CPU_NONE              /* set by tl_exec_set_input */
#define CPU_param CPU_NONE              /* read from the weight store */
#define CPU_linear linear               /* kernels/linear.c: y = x W^T + b */
#define CPU_matmul matmul               /* kernels/linear.c: y = a b (batched) */
#define CPU_add binary                  /* kernels/elementwise.c: y = a + b */
#define CPU_sub binary                  /* y = a - b */
#define CPU_mul binary                  /* y = a * b */
#define CPU_div binary                  /* y = a / b */
#define CPU_max binary                  /* y = max(a, b) */
#define CPU_min binary                  /* y = min(a, b) */
#define CPU_neg unary                   /* kernels/elementwise.c: y = -x */
#define CPU_abs unary                   /* y = |x| */
#define CPU_sqrt unary                  /* y = sqrt(x) */
#define CPU_exp unary                   /* y = e^x */
#define CPU_log unary                   /* y = ln x */
#define CPU_relu unary                  /* y = max(x, 0) */
#define CPU_leaky_relu unary            /* y = x >= 0 ? x : alpha x */
#define CPU_sigmoid unary               /* y = 1 / (1 + e^-x) */
#define CPU_tanh unary                  /* y = tanh x */
#define CPU_gelu unary                  /* y = x/2 (1 + tanh(...)) */
#define CPU_silu unary                  /* y = x sigmoid(x) */
#define CPU_softmax softmax             /* kernels/softmax.c: y = e^(x - m) / sum e^(x - m) */
#define CPU_log_softmax log_softmax     /* y = x - m - ln sum e^(x - m) */
#define CPU_clamp unary                 /* y = min(max(x, lo), hi) */
#define CPU_sum reduce                  /* kernels/shape.c: y = sum over axes */
#define CPU_mean reduce                 /* y = mean over axes */
#define CPU_reshape copy                /* kernels/shape.c: same elements, new shape */
#define CPU_flatten copy                /* same elements, merged axes */
#define CPU_permute permute             /* y = x with axes permuted */
#define CPU_concat concat               /* y = parents joined along axis */
#define CPU_slice slice                 /* y = x[start:end:step] along axis */
#define CPU_conv2d conv2d               /* kernels/conv.c: y = b + sum W x (window) */
#define CPU_max_pool2d maxpool          /* kernels/pool.c: y = max over the window */
#define CPU_avg_pool2d avgpool          /* y = mean over the window (padding zeros) */
#define CPU_global_avg_pool gap         /* y = mean over all positions */
#define CPU_batch_norm batchnorm        /* kernels/norm.c: y = (x - mean) / sqrt(var + eps) g + b */
#define CPU_layer_norm layernorm        /* same over the last axis */
#define CPU_dropout dropout             /* kernels/misc.c: y = x m / (1 - p) */
#define CPU_embedding embedding         /* y = table[idx] */
#define CPU_attention attention         /* softmax(Q K^T / sqrt(dh) + mask) V, projected */
#define CPU_mse_loss mse                /* kernels/softmax.c: y = mean (a - b)^2 */
#define CPU_cross_entropy cross_entropy /* y = mean over rows of -sum t log_softmax(x) */
#define CPU_FWD(family) CPU_FWD_(family)
#define CPU_FWD_(family) tl_k_##family##_fwd
#define CPU_BWD(family) CPU_BWD_(family)
#define CPU_BWD_(family) tl_k_##family##_bwd

static const tl_backend cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .sgemm = cpu_sgemm,
    .sgemm_st = cpu_sgemm_st,
    .ger_assign = tl_k_linear_ger_assign,
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = CPU_FWD(CPU_##name),
    .forward =
        {
#include "torchlean/ops.def"
        },
#undef TL_OP
#define TL_OP(ENUM, name, ...) [TL_OP_##ENUM] = CPU_BWD(CPU_##name),
    .backward =
        {
#include "torchlean/ops.def"
        },
#undef TL_OP
};

const tl_backend *tl_backend_cpu(void) { return &cpu_backend; }
