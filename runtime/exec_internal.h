/* exec_internal.h - PRIVATE: what the autograd driver (autograd.c) reads from an exec.
 * Ownership: every pointer in tl_exec_env is borrowed from the exec (valid until the exec or its
 * graph changes). */
#ifndef TORCHLEAN_RUNTIME_EXEC_INTERNAL_H
#define TORCHLEAN_RUNTIME_EXEC_INTERNAL_H

#include "backend.h"

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

#endif
