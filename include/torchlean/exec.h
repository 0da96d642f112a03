/* exec.h - float32 execution of a graph: eager and compiled modes, autograd.
 *
 * One op set, two modes.  Model code builds nodes through a tl_ctx (the tl_* op functions
 * below).  In EAGER mode every node runs the moment it is added (its value is available at
 * once, and a tape of nodes is kept for backward); in COMPILED mode the nodes are only
 * recorded, then tl_exec_plan schedules them (buffer reuse, fused bias+activation) and
 * tl_exec_forward / tl_exec_backward replay them on new inputs.  Both modes call the same
 * kernels, so they give bit-identical results for the same kernel choice.
 *
 * A model's graph starts with its PARAM nodes; a forward pass appends op nodes after them.
 * Eager training truncates the graph back to the parameters (tl_graph_truncate, graph.h) every
 * step and re-runs the model code; compiled training traces once.
 *
 * Kernels: TL_KERNELS_FAST uses OpenBLAS sgemm for linear, matmul and conv2d and vectorisable
 * loops elsewhere; TL_KERNELS_REF follows the declared f32-ref order exactly (left-fold dot
 * products starting from the first product, no FMA, bias added last) so that the floats/
 * emulator matches it bit for bit.
 *
 * Threading: one policy, never nested.  OpenBLAS owns the threads for plain GEMMs (problems
 * smaller than TL_EXEC_SMALL_FLOPS run with one BLAS thread).  FAST conv2d and 2x2 max pool split
 * the batch into tasks fixed by the shape and run them on the exec's own small thread pool
 * (tl_exec_opts.threads), with BLAS switched to one thread meanwhile; the split never depends on
 * the thread count, so neither do the results.
 *
 * Ownership: tl_exec_new borrows the graph (it must outlive the exec and may grow while the exec
 * is in eager mode); tl_exec_free releases the buffers.  Pointers returned by tl_exec_value /
 * tl_exec_grad stay valid until the next forward/backward/plan or node addition.
 */
#ifndef TORCHLEAN_EXEC_H
#define TORCHLEAN_EXEC_H

#include <stdint.h>

#include "torchlean/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_exec_mode { TL_EAGER = 0, TL_COMPILED } tl_exec_mode;
typedef enum tl_kernels { TL_KERNELS_FAST = 0, TL_KERNELS_REF } tl_kernels;
typedef enum tl_device { TL_DEVICE_CPU = 0, TL_DEVICE_CUDA } tl_device;

typedef struct tl_exec_opts {
  tl_exec_mode mode;
  tl_kernels kernels;
  tl_device device;
  int training;  /* 1: dropout active, batch norm uses batch statistics and updates running stats */
  uint64_t seed; /* dropout masks: element i of node n at step t draws from (seed, t, n, i) */
  int threads;   /* our own worker threads for FAST kernels that split work (conv2d, 2x2 max
                  * pool): 0 = one per core, 1 = none.  Results do not depend on it. */
} tl_exec_opts;

typedef struct tl_exec tl_exec; /* opaque */

/* Default options: eager, fast kernels, cpu, eval, seed 0. */
tl_exec_opts tl_exec_opts_default(void);
tl_code tl_exec_new(tl_exec **out, tl_graph *g, const tl_exec_opts *opts, tl_status *st);
void tl_exec_free(tl_exec *e);
void tl_exec_set_training(tl_exec *e, int training);
/* Step counter used for dropout masks; incremented by tl_exec_forward in compiled mode and by
 * tl_exec_reset in eager mode. */
void tl_exec_set_step(tl_exec *e, uint64_t step);

/* 1 when the exec runs in compiled mode. */
int tl_exec_is_compiled(const tl_exec *e);
/* Current dropout step. */
uint64_t tl_exec_step(const tl_exec *e);
/* Gradients wanted (default 1).  With 0 a compiled plan reuses every buffer it can (inference)
 * and tl_exec_backward fails; with 1 it keeps the values backward reads. */
void tl_exec_set_grad_enabled(tl_exec *e, int on);
/* Whether backward also computes cotangents of INPUT nodes and of non-trainable PARAM nodes
 * (constants, buffers) (default 1).  Training loops turn it off to skip the input-gradient GEMM
 * of the first layer and the backward of constant-only subgraphs (e.g. in-graph normalisation);
 * autograd helpers force it for wrt. */
void tl_exec_set_input_grads(tl_exec *e, int on);

/* Supply the value of an INPUT node (numel floats, copied). */
tl_code tl_exec_set_input(tl_exec *e, int input_id, const float *data, tl_status *st);
/* Compiled mode: schedule the graph (after tracing).  Re-plans automatically if nodes changed. */
tl_code tl_exec_plan(tl_exec *e, tl_status *st);
/* Compiled mode: run every node.  Eager mode: run the nodes not yet run. */
tl_code tl_exec_forward(tl_exec *e, tl_status *st);
/* Eager mode: forget values of nodes >= first (after tl_graph_truncate). */
void tl_exec_reset(tl_exec *e, int first);
/* Value of a node after forward (numel floats), or NULL when not computed/kept. */
const float *tl_exec_value(const tl_exec *e, int id);

/* ---- autograd ---------------------------------------------------------------------------- */
/* Reverse sweep from node `out` with output cotangent `seed` (numel(out) floats; NULL means 1 for
 * a scalar).  Afterwards tl_exec_grad(e, id) is d<seed, out>/d(node id) for every node on a path,
 * parameters and inputs included.  Gradients of PARAM nodes are also accumulated (+=) into the
 * flat buffer tl_exec_param_grads, aligned with the graph's weight store. */
tl_code tl_exec_backward(tl_exec *e, int out, const float *seed, tl_status *st);
/* For a PARAM node the pointer may alias its slice of tl_exec_param_grads (backward after
 * tl_exec_zero_grad accumulates there directly); it then holds this backward's gradient until the
 * flat buffer changes. */
const float *tl_exec_grad(const tl_exec *e, int id);
/* Flat gradient buffer aligned with g->weights (g->nweights floats); zero it with
 * tl_exec_zero_grad.  Valid until the graph's weight store grows. */
float *tl_exec_param_grads(tl_exec *e);
void tl_exec_zero_grad(tl_exec *e);

/* Tangent of node `out` for an input tangent `v` on node `wrt` (an INPUT or PARAM):
 * out_tangent = J v  (numel(out) floats).  Needs a forward of the current values.
 * METHOD: forward-mode automatic differentiation: one tangent sweep in node order, each node's
 * tangent = its Jacobian times its parents' tangents (exact per-op rules; other inputs and
 * parameters have tangent zero and nodes with only zero tangents are skipped).  Values a compiled
 * plan did not keep are recomputed at the current point.  Costs about one forward pass.
 * Every op has a rule (multi-head attention included); TL_EUNSUPPORTED naming the node is kept
 * for an op added without one.
 * Does not touch tl_exec_param_grads, tl_exec_grad or the weight store. */
tl_code tl_autograd_jvp(tl_exec *e, int wrt, const float *v, int out, float *out_tangent, tl_status *st);
/* Reverse-mode Jacobian d out / d wrt as a row-major (numel(out), numel(wrt)) matrix: row r is
 * the VJP with seed e_r.  Does not touch tl_exec_param_grads. */
tl_code tl_autograd_jacobian(tl_exec *e, int out, int wrt, float *jac, tl_status *st);
/* Hessian-vector product of scalar node `loss` w.r.t. node `wrt`: H v (numel(wrt) floats).
 * Needs a forward of the current values.
 * METHOD: exact forward-over-reverse automatic differentiation (Pearlmutter): the forward-mode
 * tangent sweep of tl_autograd_jvp with v on wrt, then one reverse sweep carrying every cotangent
 * g and its tangent dg (per node: the VJP kernel with seed dg plus an exact second-order rule).
 * No finite differences, no forwards at perturbed points; the weight store (batch-norm statistics
 * included), tl_exec_param_grads and tl_exec_grad are untouched.  Costs about one forward and two
 * backward passes, more through attention, whose rules recompute its forward (and for HVP its
 * VJP) in double with tangents alongside.  Every op has a rule; TL_EUNSUPPORTED naming the node
 * is kept for an op added without one. */
tl_code tl_autograd_hvp(tl_exec *e, int loss, int wrt, const float *v, float *hv, tl_status *st);

/* ---- building with a context (same code in eager and compiled modes) ----------------------- */
typedef struct tl_ctx {
  tl_graph *g;
  tl_exec *exec; /* eager: runs each node as it is added; NULL or compiled: only records */
  tl_code err;   /* first failure (sticky): later ops return -1 and do nothing */
  tl_status st;  /* its message */
} tl_ctx;

void tl_ctx_init(tl_ctx *c, tl_graph *g, tl_exec *exec);

/* Each returns the new node id, or -1 after a failure (recorded in c->err / c->st). */
int tl_input(tl_ctx *c, const char *name, int ndim, const int64_t *shape);
int tl_op_node(tl_ctx *c, tl_op op, int nparents, const int *parents, const tl_attrs *attrs); /* any op */
int tl_linear(tl_ctx *c, int x, int w, int b); /* b may be -1 */
int tl_matmul(tl_ctx *c, int a, int b);
int tl_add(tl_ctx *c, int a, int b);
int tl_sub(tl_ctx *c, int a, int b);
int tl_mul(tl_ctx *c, int a, int b);
int tl_div(tl_ctx *c, int a, int b);
int tl_unary(tl_ctx *c, tl_op op, int x); /* neg abs sqrt exp log relu sigmoid tanh gelu silu */
int tl_relu(tl_ctx *c, int x);
int tl_leaky_relu(tl_ctx *c, int x, double alpha);
int tl_softmax(tl_ctx *c, int x, int axis);
int tl_log_softmax(tl_ctx *c, int x, int axis);
int tl_reshape(tl_ctx *c, int x, int ndim, const int64_t *shape);
int tl_flatten(tl_ctx *c, int x, int start, int end);
int tl_conv2d(tl_ctx *c, int x, int w, int b, int stride, int padding, int dilation, int groups);
int tl_max_pool2d(tl_ctx *c, int x, int kernel, int stride, int padding); /* stride <= 0: kernel */
int tl_avg_pool2d(tl_ctx *c, int x, int kernel, int stride, int padding);
int tl_dropout(tl_ctx *c, int x, double p);
int tl_mse_loss(tl_ctx *c, int pred, int target);
int tl_cross_entropy(tl_ctx *c, int logits, int target);

#ifdef __cplusplus
}
#endif
#endif
