/* exec/exec_internal.h - PRIVATE: what the autograd driver (exec/autograd.c) reads from an exec.
 * Ownership: every pointer in tl_exec_env is borrowed from the exec (valid until the exec or its
 * graph changes). */
#ifndef TORCHLEAN_RUNTIME_EXEC_INTERNAL_H
#define TORCHLEAN_RUNTIME_EXEC_INTERNAL_H

#include "exec/backend.h"

typedef struct tl_exec_env {
  tl_graph *g;
  const tl_backend *be;
  tl_kernels kernels;
  int training;
  uint64_t seed, step; /* step: the dropout step of the last forward (what backward uses) */
  tl_ws *ws;
} tl_exec_env;

/* Fill env; fails (naming the problem) in compiled mode without a forward of the current graph.
 * Node values come from tl_exec_value (NULL when not kept: the driver recomputes them). */
tl_code tl_exec_env_get(tl_exec *e, tl_exec_env *env, tl_status *st);

/* Eager mode: run node `id` now (called by the tl_ctx op functions, exec/ctx.c). */
tl_code tl_exec_run_node(tl_exec *e, int id, tl_status *st);

/* ---- what an optimizer may fuse (optim.c: tl_optim_step_exec) ----
 * A backward after tl_exec_zero_grad may leave the weight cotangent of a batch-1 linear (assigned,
 * FAST kernels) as rank-1 factors: grad[o*I + i] = +0 + g[o] x[i] (the bits tl_k_linear_bwd would
 * write), materialised when read (tl_exec_param_grads, tl_exec_grad, an accumulating backward) or
 * dropped by tl_exec_zero_grad.
 * tl_exec_param_grads_partial: the flat gradient buffer like tl_exec_param_grads, except that
 * deferred slices are NOT written (NULL when out of memory).
 * tl_exec_grad_factors: 1 when PARAM node id's gradient is deferred; g (O floats), x (numel/O floats)
 * are borrowed until the next backward or zero_grad.  tl_exec_grad_materialize writes one slice. */
float *tl_exec_param_grads_partial(tl_exec *e);
int tl_exec_grad_factors(const tl_exec *e, int id, const float **g, const float **x, int64_t *O);
void tl_exec_grad_materialize(tl_exec *e, int id);
tl_graph *tl_exec_graph(const tl_exec *e);

#endif
