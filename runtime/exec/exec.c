/* exec/exec.c - eager and compiled execution of a graph, backward sweep, autograd helpers.
 * Both modes call the same backend kernels in node order, so they are bit-identical. */
#include "torchlean/exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/backend.h"
#include "exec/exec_internal.h"

struct tl_exec {
  tl_graph *g;
  tl_exec_opts o;
  const tl_backend *be;
  int grad_enabled; /* compiled plan keeps what backward needs */
  int input_grads;  /* backward also computes cotangents of INPUT nodes */
  uint64_t step;
  int cap;     /* per-node arrays */
  float **val; /* current value pointer (NULL: not available) */
  float **own; /* eager values and input values: owned buffers */
  int64_t *owncap;
  unsigned char *ran;   /* eager: node ran; compiled: value valid after forward */
  unsigned char *isset; /* INPUT value supplied */
  float **grad;
  int64_t *gradcap;
  unsigned char *need; /* scratch for backward */
  int *gsole;          /* backward: the one consumer that may assign (not accumulate) this cotangent, or -1 */
  float *pgrad;
  int64_t npgrad;
  int pgrad_zero;        /* 1: pgrad is all +0; 2: logically all +0 but not yet cleared (lazy
                          * tl_exec_zero_grad: backward clears only what it does not assign) */
  unsigned char *galias; /* grad[i] points into pgrad (PARAM accumulated in place), not an owned buffer */
  /* deferred batch-1 linear weight cotangents: PARAM node i with dfer[i] has its pgrad slice
   * logically equal to +0 + g[o] x[i] (factors dfac[i] = g (O floats) then x (I floats)), written
   * only when read (tl_exec_param_grads, tl_exec_grad, the next accumulating backward); an
   * optimizer may instead fuse the factors into its update (tl_exec_grad_factors) */
  unsigned char *dfer;
  float **dfac;
  int64_t *dfcap, *dfO;
  int ndefer;
  tl_ws ws;
  tl_pool *tpool; /* our worker threads, started by the first FAST kernel that splits work */
  int tpool_tried;
  /* compiled plan */
  int planned_n, planned_grad;
  int *fuse_src;        /* relu node: id of the linear/conv it absorbs, else -1 */
  unsigned char *fused; /* linear/conv computed by its relu child */
  unsigned char *keep;  /* value stays valid after forward */
  int *buf_of;
  float **pool;
  int npool;
  int fwd_done;
};

tl_exec_opts tl_exec_opts_default(void) {
  tl_exec_opts o;
  memset(&o, 0, sizeof o);
  o.mode = TL_EAGER;
  o.kernels = TL_KERNELS_FAST;
  o.device = TL_DEVICE_CPU;
  return o;
}

static tl_code grow(tl_exec *e, int n, tl_status *st) {
  if (n <= e->cap)
    return TL_OK;
  int cap = e->cap ? e->cap : 16;
  while (cap < n)
    cap *= 2;
#define G(f)                                                                                                 \
  do {                                                                                                       \
    void *p_ = realloc(e->f, (size_t)cap * sizeof *e->f);                                                    \
    if (!p_)                                                                                                 \
      return tl_fail(st, TL_ENOMEM, "exec: out of memory");                                                  \
    e->f = p_;                                                                                               \
    memset(e->f + e->cap, 0, (size_t)(cap - e->cap) * sizeof *e->f);                                         \
  } while (0)
  G(val);
  G(own);
  G(owncap);
  G(ran);
  G(isset);
  G(grad);
  G(gradcap);
  G(need);
  G(galias);
  G(fuse_src);
  G(fused);
  G(keep);
  G(buf_of);
  G(gsole);
  G(dfer);
  G(dfac);
  G(dfcap);
  G(dfO);
#undef G
  e->cap = cap;
  return TL_OK;
}

tl_code tl_exec_new(tl_exec **out, tl_graph *g, const tl_exec_opts *opts, tl_status *st) {
  *out = NULL;
  tl_exec *e = calloc(1, sizeof *e);
  if (!e)
    return tl_fail(st, TL_ENOMEM, "exec: out of memory");
  e->g = g;
  e->o = opts ? *opts : tl_exec_opts_default();
  if (e->o.device == TL_DEVICE_CUDA) {
    free(e);
    return tl_fail(st, TL_EUNSUPPORTED, "exec: this build has no CUDA backend");
  }
  e->be = tl_backend_cpu();
  e->grad_enabled = 1;
  e->input_grads = 1;
  e->planned_n = -1;
  tl_code rc = grow(e, g->nnodes, st);
  if (rc != TL_OK) {
    tl_exec_free(e);
    return rc;
  }
  *out = e;
  return TL_OK;
}

static void free_pool(tl_exec *e) {
  for (int i = 0; i < e->npool; i++)
    e->be->free(e->pool[i]);
  free(e->pool);
  e->pool = NULL;
  e->npool = 0;
}

void tl_exec_free(tl_exec *e) {
  if (!e)
    return;
  for (int i = 0; i < e->cap; i++) {
    e->be->free(e->own[i]);
    if (!e->galias[i])
      free(e->grad[i]);
    free(e->dfac[i]);
  }
  free_pool(e);
  free(e->val);
  free(e->own);
  free(e->owncap);
  free(e->ran);
  free(e->isset);
  free(e->grad);
  free(e->gradcap);
  free(e->need);
  free(e->galias);
  free(e->fuse_src);
  free(e->fused);
  free(e->keep);
  free(e->buf_of);
  free(e->gsole);
  free(e->dfer);
  free(e->dfac);
  free(e->dfcap);
  free(e->dfO);
  free(e->pgrad);
  tl_ws_free(&e->ws);
  tl_pool_free(e->tpool);
  free(e);
}

void tl_exec_set_training(tl_exec *e, int training) { e->o.training = training != 0; }
void tl_exec_set_step(tl_exec *e, uint64_t step) { e->step = step; }
uint64_t tl_exec_step(const tl_exec *e) { return e->step; }
int tl_exec_is_compiled(const tl_exec *e) { return e->o.mode == TL_COMPILED; }
void tl_exec_set_grad_enabled(tl_exec *e, int on) { e->grad_enabled = on != 0; }
void tl_exec_set_input_grads(tl_exec *e, int on) { e->input_grads = on != 0; }

/* the thread pool for FAST kernels that split their work into tasks (conv2d, max pool), or NULL */
static tl_pool *pool_for(tl_exec *e, tl_op op) {
  if (e->o.kernels != TL_KERNELS_FAST || (op != TL_OP_CONV2D && op != TL_OP_MAX_POOL2D))
    return NULL;
  if (!e->tpool_tried) {
    e->tpool_tried = 1;
    e->tpool = tl_pool_new(e->o.threads > 0 ? e->o.threads : tl_pool_default_threads());
  }
  return e->tpool;
}

static const char *opname(const tl_graph *g, int id) { return tl_op_get(g->nodes[id].op)->name; }

/* owned buffer of node id with at least n floats */
static float *own_buf(tl_exec *e, int id, int64_t n) {
  if (e->owncap[id] < n || !e->own[id]) {
    e->be->free(e->own[id]);
    e->own[id] = e->be->alloc((size_t)(n ? n : 1) * sizeof(float));
    e->owncap[id] = e->own[id] ? n : 0;
  }
  return e->own[id];
}

tl_code tl_exec_set_input(tl_exec *e, int input_id, const float *data, tl_status *st) {
  tl_graph *g = e->g;
  if (input_id < 0 || input_id >= g->nnodes || g->nodes[input_id].op != TL_OP_INPUT)
    return tl_fail(st, TL_EARG, "exec: node %d is not an input", input_id);
  TL_TRY(grow(e, g->nnodes, st));
  int64_t n = g->nodes[input_id].numel;
  float *b = own_buf(e, input_id, n);
  if (!b)
    return tl_fail(st, TL_ENOMEM, "exec: out of memory for input '%s'", g->nodes[input_id].name);
  memcpy(b, data, (size_t)n * sizeof(float));
  e->val[input_id] = b;
  e->isset[input_id] = 1;
  e->ran[input_id] = 1;
  return TL_OK;
}

/* value of node id for reading, or NULL */
static const float *value_of(const tl_exec *e, int id) {
  const tl_node *n = &e->g->nodes[id];
  if (n->op == TL_OP_PARAM)
    return e->g->weights + n->woff;
  if (n->op == TL_OP_INPUT)
    return e->isset[id] ? e->val[id] : NULL;
  return e->val[id];
}

static tl_code missing(const tl_exec *e, int id, int p, tl_status *st) {
  const tl_graph *g = e->g;
  const tl_node *pn = &g->nodes[p];
  if (pn->op == TL_OP_INPUT)
    return tl_fail(st, TL_EARG, "node %d (%s): input '%s' (node %d) has no value (call tl_exec_set_input)",
                   id, opname(g, id), pn->name, p);
  return tl_fail(st, TL_EARG, "node %d (%s): parent node %d (%s) has no value", id, opname(g, id), p,
                 opname(g, p));
}

/* run kernel of node `src` writing into `out` (fuse_relu when computing a fused relu) */
static tl_code run_kernel(tl_exec *e, int src, float *out, int fuse_relu, tl_status *st) {
  const tl_graph *g = e->g;
  const tl_node *n = &g->nodes[src];
  const float *inl[8];
  const float **in = n->nparents <= 8 ? inl : malloc((size_t)n->nparents * sizeof *in);
  if (!in)
    return tl_fail(st, TL_ENOMEM, "exec: out of memory");
  tl_code rc = TL_OK;
  for (int i = 0; i < n->nparents && rc == TL_OK; i++)
    if (!(in[i] = value_of(e, n->parents[i])))
      rc = missing(e, src, n->parents[i], st);
  if (rc == TL_OK) {
    tl_kctx k = {.g = g,
                 .id = src,
                 .n = n,
                 .in = in,
                 .out = out,
                 .kernels = e->o.kernels,
                 .training = e->o.training,
                 .seed = e->o.seed,
                 .step = e->step,
                 .fuse_relu = fuse_relu,
                 .weights = e->g->weights,
                 .be = e->be,
                 .ws = &e->ws,
                 .pool = pool_for(e, n->op),
                 .st = st};
    tl_kernel_fn f = e->be->forward[n->op];
    rc = f ? f(&k) : tl_fail(st, TL_EUNSUPPORTED, "node %d (%s): no kernel", src, opname(g, src));
  }
  if (in != inl)
    free((void *)in);
  return rc;
}

tl_code tl_exec_run_node(tl_exec *e, int id, tl_status *st) {
  tl_graph *g = e->g;
  if (id < 0 || id >= g->nnodes)
    return tl_fail(st, TL_EARG, "exec: node %d does not exist", id);
  TL_TRY(grow(e, g->nnodes, st));
  const tl_node *n = &g->nodes[id];
  if (n->op == TL_OP_PARAM || n->op == TL_OP_INPUT) {
    e->ran[id] = n->op == TL_OP_PARAM || e->isset[id];
    return TL_OK;
  }
  float *out = own_buf(e, id, n->numel);
  if (!out)
    return tl_fail(st, TL_ENOMEM, "node %d (%s): out of memory", id, opname(g, id));
  e->val[id] = out;
  e->ran[id] = 0;
  TL_TRY(run_kernel(e, id, out, 0, st));
  e->ran[id] = 1;
  return TL_OK;
}

void tl_exec_reset(tl_exec *e, int first) {
  if (first < 0)
    first = 0;
  for (int i = first; i < e->cap; i++) {
    if (e->val[i] && e->val[i] != e->own[i])
      e->val[i] = NULL;
    e->val[i] = NULL;
    e->ran[i] = 0;
    e->isset[i] = 0;
  }
  e->fwd_done = 0;
  e->step++;
}

/* ---- compiled plan ------------------------------------------------------------------------ */
static int is_fusable_src(tl_op op) { return op == TL_OP_LINEAR || op == TL_OP_CONV2D; }

/* planning scratch, one entry per node (buffers: per pool buffer) */
typedef struct plan_tmp {
  int *nuse;            /* consumers of node i */
  int *last;            /* position of node i's last read */
  int *fre;             /* free list of pool buffers */
  int64_t *psize;       /* floats of pool buffer b */
  unsigned char *isout; /* node i is a graph output */
  unsigned char *rel;   /* node i's buffer went back to the free list */
} plan_tmp;

/* consumer counts; fusion: linear/conv (+bias) + relu when the pre-activation is used only by
 * that relu */
static void plan_fuse(tl_exec *e, plan_tmp *t) {
  const tl_graph *g = e->g;
  int N = g->nnodes;
  for (int i = 0; i < g->noutputs; i++)
    t->isout[g->outputs[i]] = 1;
  for (int i = 0; i < N; i++) {
    e->fuse_src[i] = -1, e->fused[i] = 0, e->keep[i] = 0, e->buf_of[i] = -1, t->last[i] = -1;
    for (int k = 0; k < g->nodes[i].nparents; k++)
      t->nuse[g->nodes[i].parents[k]]++;
  }
  for (int i = 0; i < N; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_RELU)
      continue;
    int s = n->parents[0];
    if (is_fusable_src(g->nodes[s].op) && t->nuse[s] == 1 && !t->isout[s])
      e->fuse_src[i] = s, e->fused[s] = 1;
  }
}

/* last use position (a fused node's parents are read when its relu runs) */
static void plan_last_use(tl_exec *e, plan_tmp *t) {
  const tl_graph *g = e->g;
  int N = g->nnodes;
  for (int i = 0; i < N; i++) {
    const tl_node *n = &g->nodes[i];
    int pos = i;
    if (e->fused[i])
      for (int j = i + 1; j < N; j++)
        if (e->fuse_src[j] == i) {
          pos = j;
          break;
        }
    for (int k = 0; k < n->nparents; k++)
      if (t->last[n->parents[k]] < pos)
        t->last[n->parents[k]] = pos;
  }
}

/* what must stay: outputs, unconsumed nodes, and (with gradients) what backward reads */
static void plan_keep(tl_exec *e, const plan_tmp *t) {
  const tl_graph *g = e->g;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (t->isout[i] || t->nuse[i] == 0)
      e->keep[i] = 1;
    if (e->grad_enabled) {
      if (tl_op_bwd_needs_out(n->op))
        e->keep[i] = 1;
      if (tl_op_bwd_needs_in(n->op))
        for (int k = 0; k < n->nparents; k++)
          e->keep[n->parents[k]] = 1;
    }
  }
}

/* buffer assignment with reuse (best fit from the free list); returns the number of buffers */
static int plan_buffers(tl_exec *e, plan_tmp *t) {
  const tl_graph *g = e->g;
  int nfree = 0, npool = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op == TL_OP_PARAM || n->op == TL_OP_INPUT || e->fused[i])
      continue;
    int best = -1;
    for (int f = 0; f < nfree; f++)
      if (t->psize[t->fre[f]] >= n->numel && (best < 0 || t->psize[t->fre[f]] < t->psize[t->fre[best]]))
        best = f;
    int b;
    if (best >= 0) {
      b = t->fre[best];
      t->fre[best] = t->fre[--nfree];
    } else {
      b = npool++;
      t->psize[b] = n->numel;
    }
    e->buf_of[i] = b;
    int src = e->fuse_src[i] >= 0 ? e->fuse_src[i] : i;
    const tl_node *sn = &g->nodes[src];
    for (int k = 0; k < sn->nparents; k++) {
      int p = sn->parents[k];
      if (e->buf_of[p] >= 0 && t->last[p] == i && !e->keep[p] && !t->rel[p]) {
        t->rel[p] = 1;
        t->fre[nfree++] = e->buf_of[p];
      }
    }
  }
  return npool;
}
/* the planned buffers (psize[b] floats each) */
static tl_code plan_alloc(tl_exec *e, const int64_t *psize, int npool, tl_status *st) {
  tl_code rc = TL_OK;
  e->pool = calloc((size_t)npool + 1, sizeof *e->pool);
  if (!e->pool)
    rc = tl_fail(st, TL_ENOMEM, "exec: out of memory while planning");
  for (int b = 0; rc == TL_OK && b < npool; b++) {
    e->pool[b] = e->be->alloc((size_t)(psize[b] ? psize[b] : 1) * sizeof(float));
    e->npool = b + 1;
    if (!e->pool[b])
      rc = tl_fail(st, TL_ENOMEM, "exec: out of memory for planned buffers");
  }
  return rc;
}

tl_code tl_exec_plan(tl_exec *e, tl_status *st) {
  tl_graph *g = e->g;
  int N = g->nnodes;
  TL_TRY(grow(e, N, st));
  free_pool(e);
  plan_tmp t = {.nuse = calloc((size_t)N + 1, sizeof(int)),
                .last = calloc((size_t)N + 1, sizeof(int)),
                .fre = calloc((size_t)N + 1, sizeof(int)),
                .psize = calloc((size_t)N + 1, sizeof(int64_t)),
                .isout = calloc((size_t)N + 1, 1),
                .rel = calloc((size_t)N + 1, 1)};
  tl_code rc = TL_OK;
  if (!t.nuse || !t.last || !t.fre || !t.psize || !t.isout || !t.rel) {
    rc = tl_fail(st, TL_ENOMEM, "exec: out of memory while planning");
  } else {
    plan_fuse(e, &t);
    plan_last_use(e, &t);
    plan_keep(e, &t);
    rc = plan_alloc(e, t.psize, plan_buffers(e, &t), st);
  }
  if (rc == TL_OK) {
    e->planned_n = N;
    e->planned_grad = e->grad_enabled;
  }
  free(t.nuse);
  free(t.last);
  free(t.fre);
  free(t.psize);
  free(t.isout);
  free(t.rel);
  return rc;
}

static tl_code compiled_forward(tl_exec *e, tl_status *st) {
  tl_graph *g = e->g;
  if (e->planned_n != g->nnodes || e->planned_grad != e->grad_enabled)
    TL_TRY(tl_exec_plan(e, st));
  int N = g->nnodes;
  e->fwd_done = 0;
  for (int i = 0; i < N; i++)
    if (g->nodes[i].op != TL_OP_INPUT && g->nodes[i].op != TL_OP_PARAM)
      e->val[i] = NULL, e->ran[i] = 0;
  for (int i = 0; i < N; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op == TL_OP_PARAM || n->op == TL_OP_INPUT || e->fused[i])
      continue;
    float *out = e->pool[e->buf_of[i]];
    e->val[i] = out;
    if (e->fuse_src[i] >= 0)
      TL_TRY(run_kernel(e, e->fuse_src[i], out, 1, st));
    else
      TL_TRY(run_kernel(e, i, out, 0, st));
  }
  for (int i = 0; i < N; i++) {
    const tl_node *n = &g->nodes[i];
    if (n->op != TL_OP_PARAM && n->op != TL_OP_INPUT) {
      e->ran[i] = e->keep[i] && !e->fused[i];
      if (!e->ran[i])
        e->val[i] = NULL;
    }
  }
  e->fwd_done = 1;
  return TL_OK;
}

tl_code tl_exec_forward(tl_exec *e, tl_status *st) {
  TL_TRY(grow(e, e->g->nnodes, st));
  if (e->o.mode == TL_COMPILED) {
    tl_code rc = compiled_forward(e, st);
    e->step++;
    return rc;
  }
  for (int i = 0; i < e->g->nnodes; i++)
    if (!e->ran[i])
      TL_TRY(tl_exec_run_node(e, i, st));
  return TL_OK;
}

const float *tl_exec_value(const tl_exec *e, int id) {
  if (id < 0 || id >= e->g->nnodes || id >= e->cap)
    return NULL;
  if (e->g->nodes[id].op == TL_OP_PARAM)
    return value_of(e, id);
  return e->ran[id] ? e->val[id] : NULL;
}

/* ---- backward ----------------------------------------------------------------------------- */
static float *grad_buf(tl_exec *e, int id, int64_t n) {
  if (e->galias[id]) { /* was an alias into pgrad: back to an owned buffer */
    e->grad[id] = NULL, e->gradcap[id] = 0, e->galias[id] = 0;
  }
  if (e->gradcap[id] < n || !e->grad[id]) {
    free(e->grad[id]);
    e->grad[id] = malloc((size_t)(n ? n : 1) * sizeof(float));
    e->gradcap[id] = e->grad[id] ? n : 0;
  }
  return e->grad[id];
}

/* clear a lazily zeroed pgrad for real */
static void pgrad_materialize(tl_exec *e) {
  if (e->pgrad_zero == 2) {
    if (e->npgrad)
      memset(e->pgrad, 0, (size_t)e->npgrad * sizeof *e->pgrad);
    e->pgrad_zero = 1;
  }
}

/* write deferred cotangent of PARAM node id into its pgrad slice */
static void defer_materialize(tl_exec *e, int id) {
  if (id >= e->cap || !e->dfer[id])
    return;
  e->dfer[id] = 0;
  e->ndefer--;
  if (id >= e->g->nnodes || e->g->nodes[id].op != TL_OP_PARAM) /* the graph lost that node */
    return;
  const tl_node *n = &e->g->nodes[id];
  int64_t O = e->dfO[id], I = O ? n->numel / O : 0;
  if (n->woff + n->numel <= e->npgrad)
    e->be->ger_assign(e->pgrad + n->woff, e->dfac[id], e->dfac[id] + O, O, I);
}

static void defer_materialize_all(tl_exec *e) {
  for (int i = 0; e->ndefer > 0 && i < e->cap; i++)
    defer_materialize(e, i);
}

static void defer_drop(tl_exec *e) {
  for (int i = 0; e->ndefer > 0 && i < e->cap; i++)
    if (e->dfer[i])
      e->dfer[i] = 0, e->ndefer--;
}

/* record gW = +0 + g x^T for PARAM node w (g: O floats, x: I floats); 0 when out of memory */
static int defer_record(tl_exec *e, int w, const float *g, const float *x, int64_t O, int64_t I) {
  if (e->dfcap[w] < O + I) {
    float *p = realloc(e->dfac[w], (size_t)(O + I) * sizeof *p);
    if (!p)
      return 0;
    e->dfac[w] = p, e->dfcap[w] = O + I;
  }
  memcpy(e->dfac[w], g, (size_t)O * sizeof *g);
  memcpy(e->dfac[w] + O, x, (size_t)I * sizeof *x);
  e->dfO[w] = O;
  if (!e->dfer[w])
    e->dfer[w] = 1, e->ndefer++;
  return 1;
}

static tl_code ensure_pgrad(tl_exec *e, tl_status *st) {
  if (e->npgrad < e->g->nweights) {
    float *p = realloc(e->pgrad, (size_t)e->g->nweights * sizeof *p);
    if (!p)
      return tl_fail(st, TL_ENOMEM, "exec: out of memory for parameter gradients");
    memset(p + e->npgrad, 0, (size_t)(e->g->nweights - e->npgrad) * sizeof *p);
    if (p != e->pgrad)
      for (int i = 0; i < e->cap; i++) /* aliases into the old buffer are stale */
        if (e->galias[i])
          e->grad[i] = NULL, e->gradcap[i] = 0, e->galias[i] = 0;
    e->pgrad = p;
    e->npgrad = e->g->nweights;
  }
  return TL_OK;
}

/* backward phase 1: the arguments and the state a backward from `out` needs */
static tl_code bwd_check(tl_exec *e, int out, const float *seed, tl_status *st) {
  tl_graph *g = e->g;
  if (out < 0 || out >= g->nnodes)
    return tl_fail(st, TL_EARG, "exec: backward from node %d, which does not exist", out);
  TL_TRY(grow(e, g->nnodes, st));
  if (e->o.mode == TL_COMPILED && (!e->fwd_done || e->planned_n != g->nnodes))
    return tl_fail(st, TL_EARG, "exec: backward needs a compiled forward of the current graph first");
  if (e->o.mode == TL_COMPILED && !e->planned_grad)
    return tl_fail(st, TL_EARG, "exec: the plan was made with gradients disabled (tl_exec_set_grad_enabled)");
  const tl_node *on = &g->nodes[out];
  if (!seed && on->numel != 1)
    return tl_fail(st, TL_EARG, "exec: backward from node %d (%s) of %lld elements needs a seed", out,
                   opname(g, out), (long long)on->numel);
  return TL_OK;
}

/* backward phase 2: need[i] = node i is on a path to out (and, without input gradients, above a
 * wanted leaf) */
static void bwd_mark_needed(tl_exec *e, int out, int force_wrt) {
  const tl_graph *g = e->g;
  memset(e->need, 0, (size_t)e->cap);
  e->need[out] = 1;
  for (int i = out; i >= 0; i--) {
    if (!e->need[i])
      continue;
    const tl_node *n = &g->nodes[i];
    for (int k = 0; k < n->nparents; k++) {
      int p = n->parents[k];
      if (n->op == TL_OP_EMBEDDING && k == 0)
        continue; /* indices are not differentiable */
      if (!e->input_grads && p != force_wrt &&
          (g->nodes[p].op == TL_OP_INPUT ||
           (g->nodes[p].op == TL_OP_PARAM && g->nodes[p].pkind != TL_PARAM_TRAINABLE)))
        continue; /* training: no cotangents for inputs, constants and buffers */
      e->need[p] = 1;
    }
  }
  if (!e->input_grads) /* keep only nodes that also lie above a wanted leaf (prunes e.g. x - mean) */
    for (int i = 0; i < out; i++) {
      const tl_node *n = &g->nodes[i];
      if (!e->need[i] || n->op == TL_OP_INPUT || n->op == TL_OP_PARAM)
        continue;
      int any = 0;
      for (int k = 0; k < n->nparents && !any; k++)
        any = e->need[n->parents[k]] && !(n->op == TL_OP_EMBEDDING && k == 0);
      e->need[i] = (unsigned char)any;
    }
}

/* backward phase 3: a cotangent written by exactly one backward call (parent 0 of an op whose
 * kernel can assign) is not zeroed first: that kernel writes +0 + its contribution, the same bits.
 * gsole[p] = that consumer, -1 none, -2 several (or an input) */
static void bwd_mark_sole(tl_exec *e, int out) {
  const tl_graph *g = e->g;
  for (int i = 0; i <= out; i++)
    e->gsole[i] = -1;
  for (int i = 0; i <= out; i++) {
    const tl_node *n = &g->nodes[i];
    if (!e->need[i] || n->op == TL_OP_INPUT || n->op == TL_OP_PARAM)
      continue;
    for (int k = 0; k < n->nparents; k++) {
      int p = n->parents[k];
      if (!e->need[p] || (n->op == TL_OP_EMBEDDING && k == 0))
        continue;
      if (g->nodes[p].op == TL_OP_INPUT) {
        e->gsole[p] = -2;
        continue;
      }
      if (g->nodes[p].op == TL_OP_PARAM) { /* linear assigns its weight and bias cotangents */
        e->gsole[p] = e->gsole[p] == -1 && k >= 1 && n->op == TL_OP_LINEAR ? i : -2;
        continue;
      }
      e->gsole[p] = e->gsole[p] == -1 && k == 0 && tl_op_bwd_can_assign(n->op) ? i : -2;
    }
  }
}

/* backward phase 4 (in place, lazily zeroed pgrad): clear pgrad except the regions a kernel
 * assigns */
static void bwd_clear_pgrad(tl_exec *e, int out) {
  const tl_graph *g = e->g;
  int64_t lo[64], hi[64];
  int na = 0, over = 0;
  for (int i = 0; i < out; i++) {
    const tl_node *n = &g->nodes[i];
    if (!e->need[i] || n->op != TL_OP_PARAM || e->gsole[i] < 0 || n->numel <= 0)
      continue;
    if (na == 64) {
      over = 1;
      break;
    }
    int j = na++;
    for (; j > 0 && lo[j - 1] > n->woff; j--)
      lo[j] = lo[j - 1], hi[j] = hi[j - 1];
    lo[j] = n->woff, hi[j] = n->woff + n->numel;
  }
  if (over) {
    pgrad_materialize(e); /* assigning over +0 gives the same bits */
    return;
  }
  int64_t at = 0;
  for (int j = 0; j <= na; j++) {
    int64_t end = j < na ? lo[j] : e->npgrad;
    if (end > at)
      memset(e->pgrad + at, 0, (size_t)(end - at) * sizeof *e->pgrad);
    if (j < na && hi[j] > at)
      at = hi[j];
  }
}

/* backward phase 5: cotangent buffers: the seed at out, +0 where several calls accumulate, PARAM
 * cotangents aliasing their pgrad slice when in place */
static tl_code bwd_grad_buffers(tl_exec *e, int out, const float *seed, int inplace, tl_status *st) {
  const tl_graph *g = e->g;
  for (int i = 0; i <= out; i++) {
    if (!e->need[i])
      continue;
    if (inplace && g->nodes[i].op == TL_OP_PARAM && i != out) {
      if (!e->galias[i])
        free(e->grad[i]);
      e->grad[i] = e->pgrad + g->nodes[i].woff;
      e->gradcap[i] = g->nodes[i].numel;
      e->galias[i] = 1;
      continue;
    }
    float *b = grad_buf(e, i, g->nodes[i].numel);
    if (!b)
      return tl_fail(st, TL_ENOMEM, "exec: out of memory for gradients");
    if (i == out) {
      if (seed)
        memcpy(b, seed, (size_t)g->nodes[out].numel * sizeof(float));
      else
        b[0] = 1.0f;
    } else if (e->gsole[i] < 0) {
      memset(b, 0, (size_t)g->nodes[i].numel * sizeof(float));
    }
  }
  return TL_OK;
}

/* backward phase 6, one node: gather parent values and cotangent buffers, run its VJP kernel */
static tl_code bwd_node(tl_exec *e, int i, int inplace, tl_status *st) {
  tl_graph *g = e->g;
  const tl_node *n = &g->nodes[i];
  const float *inl[8];
  float *ginl[8];
  int np = n->nparents;
  const float **in = np <= 8 ? inl : malloc((size_t)np * sizeof *in);
  float **gin = np <= 8 ? ginl : malloc((size_t)np * sizeof *gin);
  tl_code rc = (in && gin) ? TL_OK : tl_fail(st, TL_ENOMEM, "exec: out of memory");
  int needs_in = tl_op_bwd_needs_in(n->op);
  unsigned assign = 0;
  for (int k = 0; rc == TL_OK && k < np; k++) {
    int p = n->parents[k];
    if (k < 32 && e->gsole[p] == i)
      assign |= 1u << k;
    in[k] = value_of(e, p);
    if (needs_in && !in[k])
      rc = missing(e, i, p, st);
    gin[k] = (e->need[p] && !(n->op == TL_OP_EMBEDDING && k == 0)) ? e->grad[p] : NULL;
  }
  if (rc == TL_OK && inplace && n->op == TL_OP_LINEAR && np >= 2 && gin[1] && (assign & 2u) && in[0] &&
      e->be->ger_assign && e->o.kernels == TL_KERNELS_FAST) {
    /* batch-1 weight cotangent assigned straight into pgrad: keep its rank-1 factors instead
     * (written when read, or fused into the optimizer's update: tl_optim_step_exec) */
    const tl_node *w = &g->nodes[n->parents[1]];
    int64_t O = w->shape[0], I = w->shape[1];
    if (O > 0 && n->numel == O && defer_record(e, n->parents[1], e->grad[i], in[0], O, I))
      gin[1] = NULL, assign &= ~2u;
  }
  const float *y = e->val[i];
  if (rc == TL_OK && tl_op_bwd_needs_out(n->op) && !y)
    rc = tl_fail(st, TL_EARG, "node %d (%s): value not kept for backward", i, opname(g, i));
  if (rc == TL_OK) {
    tl_kctx k = {.g = g,
                 .id = i,
                 .n = n,
                 .in = in,
                 .out = (float *)y,
                 .gout = e->grad[i],
                 .gin = gin,
                 .kernels = e->o.kernels,
                 .training = e->o.training,
                 .seed = e->o.seed,
                 .step = e->o.mode == TL_COMPILED ? e->step - 1 : e->step,
                 .weights = g->weights,
                 .be = e->be,
                 .ws = &e->ws,
                 .pool = pool_for(e, n->op),
                 .gin_assign = assign,
                 .st = st};
    tl_kernel_fn f = e->be->backward[n->op];
    rc = f ? f(&k) : tl_fail(st, TL_EUNSUPPORTED, "node %d (%s): no backward kernel", i, opname(g, i));
  }
  if (in && in != inl)
    free((void *)in);
  if (gin && gin != ginl)
    free(gin);
  return rc;
}

/* backward phase 7 (accumulate, not in place): PARAM cotangents added onto pgrad */
static void bwd_accumulate(tl_exec *e, int out) {
  const tl_graph *g = e->g;
  for (int i = 0; i <= out; i++) {
    const tl_node *n = &g->nodes[i];
    if (e->need[i] && n->op == TL_OP_PARAM && !e->galias[i])
      for (int64_t j = 0; j < n->numel; j++)
        e->pgrad[n->woff + j] += e->grad[i][j];
  }
  e->pgrad_zero = 0;
}

/* Reverse sweep; force_wrt >= 0 forces gradients for that node even if it is an INPUT. */
static tl_code backward_impl(tl_exec *e, int out, const float *seed, int accumulate, int force_wrt,
                             tl_status *st) {
  tl_graph *g = e->g;
  TL_TRY(bwd_check(e, out, seed, st));
  bwd_mark_needed(e, out, force_wrt);
  /* PARAM cotangents accumulate straight into the flat buffer when it is known to be zero:
   * the same additions from the same +0 start, so the same bits as a separate buffer + copy */
  if (accumulate && e->ndefer) /* this backward adds onto the previous gradients */
    defer_materialize_all(e);
  int inplace = accumulate && e->pgrad_zero && e->npgrad >= g->nweights;
  bwd_mark_sole(e, out);
  if (accumulate && !inplace)
    pgrad_materialize(e);
  if (inplace && e->pgrad_zero == 2)
    bwd_clear_pgrad(e, out);
  TL_TRY(bwd_grad_buffers(e, out, seed, inplace, st));
  for (int i = out; i >= 0; i--) {
    const tl_node *n = &g->nodes[i];
    if (!e->need[i] || n->op == TL_OP_INPUT || n->op == TL_OP_PARAM)
      continue;
    int any = 0;
    for (int k = 0; k < n->nparents; k++)
      any |= e->need[n->parents[k]] && !(n->op == TL_OP_EMBEDDING && k == 0);
    if (!any)
      continue;
    TL_TRY(bwd_node(e, i, inplace, st));
  }
  if (accumulate) {
    TL_TRY(ensure_pgrad(e, st));
    bwd_accumulate(e, out);
  }
  for (int i = out + 1; i < e->cap; i++)
    e->need[i] = 0;
  return TL_OK;
}

tl_code tl_exec_backward(tl_exec *e, int out, const float *seed, tl_status *st) {
  return backward_impl(e, out, seed, 1, -1, st);
}

const float *tl_exec_grad(const tl_exec *e, int id) {
  if (id < 0 || id >= e->cap || id >= e->g->nnodes || !e->need[id])
    return NULL;
  if (e->dfer[id] && e->galias[id]) /* logically const: the deferred values become visible */
    defer_materialize((tl_exec *)e, id);
  return e->grad[id];
}

float *tl_exec_param_grads(tl_exec *e) {
  if (ensure_pgrad(e, NULL) != TL_OK)
    return NULL;
  pgrad_materialize(e);
  defer_materialize_all(e);
  e->pgrad_zero = 0; /* the caller may write into it */
  return e->pgrad;
}

void tl_exec_zero_grad(tl_exec *e) {
  defer_drop(e);
  if (ensure_pgrad(e, NULL) == TL_OK)
    e->pgrad_zero = 2; /* cleared lazily: by backward (except what it assigns) or on access */
}

/* private (exec_internal.h): parameter gradients with deferred slices left to the caller */
float *tl_exec_param_grads_partial(tl_exec *e) {
  if (ensure_pgrad(e, NULL) != TL_OK)
    return NULL;
  pgrad_materialize(e);
  e->pgrad_zero = 0;
  return e->pgrad;
}

int tl_exec_grad_factors(const tl_exec *e, int id, const float **g, const float **x, int64_t *O) {
  if (id < 0 || id >= e->cap || id >= e->g->nnodes || !e->dfer[id])
    return 0;
  *g = e->dfac[id], *x = e->dfac[id] + e->dfO[id], *O = e->dfO[id];
  return 1;
}

void tl_exec_grad_materialize(tl_exec *e, int id) {
  if (id >= 0)
    defer_materialize(e, id);
}

tl_graph *tl_exec_graph(const tl_exec *e) { return e->g; }

/* ---- autograd helpers --------------------------------------------------------------------- */
static tl_code check_wrt(const tl_exec *e, int wrt, tl_status *st) {
  if (wrt < 0 || wrt >= e->g->nnodes ||
      (e->g->nodes[wrt].op != TL_OP_INPUT && e->g->nodes[wrt].op != TL_OP_PARAM))
    return tl_fail(st, TL_EARG, "autograd: node %d is not an input or parameter", wrt);
  return TL_OK;
}

tl_code tl_autograd_jacobian(tl_exec *e, int out, int wrt, float *jac, tl_status *st) {
  TL_TRY(check_wrt(e, wrt, st));
  if (out < 0 || out >= e->g->nnodes)
    return tl_fail(st, TL_EARG, "autograd: node %d does not exist", out);
  int64_t m = e->g->nodes[out].numel, n = e->g->nodes[wrt].numel;
  float *seed = calloc((size_t)(m ? m : 1), sizeof *seed);
  if (!seed)
    return tl_fail(st, TL_ENOMEM, "autograd: out of memory");
  tl_code rc = TL_OK;
  for (int64_t r = 0; r < m && rc == TL_OK; r++) { /* row r = e_r^T J: one VJP */
    seed[r] = 1.0f;
    rc = backward_impl(e, out, seed, 0, wrt, st);
    seed[r] = 0.0f;
    if (rc == TL_OK) {
      const float *gr = tl_exec_grad(e, wrt);
      if (gr)
        memcpy(jac + r * n, gr, (size_t)n * sizeof *jac);
      else
        memset(jac + r * n, 0, (size_t)n * sizeof *jac);
    }
  }
  free(seed);
  return rc;
}

/* private (exec_internal.h): what the autograd driver needs to run kernels on this exec */
tl_code tl_exec_env_get(tl_exec *e, tl_exec_env *env, tl_status *st) {
  TL_TRY(grow(e, e->g->nnodes, st));
  if (e->o.mode == TL_COMPILED && (!e->fwd_done || e->planned_n != e->g->nnodes))
    return tl_fail(st, TL_EARG, "autograd: needs a compiled forward of the current graph first");
  env->g = e->g, env->be = e->be, env->kernels = e->o.kernels, env->training = e->o.training;
  env->seed = e->o.seed, env->step = e->o.mode == TL_COMPILED ? e->step - 1 : e->step, env->ws = &e->ws;
  return TL_OK;
}
