/* exec/autograd.c - forward-mode JVP and forward-over-reverse HVP driver.
 *
 * JVP: one tangent sweep in node order over the nodes that depend on `wrt` and feed `out`:
 * dy = J_node (tangents of the parents) (ad/tangent.c); every other leaf has tangent zero and a
 * node whose parents all have zero tangents is skipped (its tangent is recorded as zero).
 * HVP (Pearlmutter): H v = d/de grad L(w + e v).  The tangent sweep with v on `wrt`, then one
 * reverse sweep that carries each cotangent g and its tangent dg: for every node,
 * dgx = B(x, dg) (the backend's VJP kernel with seed dg) + [d_x B(x, g)] dx (ad/second.c).
 * Both run at the current values: the exec's kept values, and the ones a compiled plan dropped
 * recomputed with the same kernels (never at perturbed points, never writing the weight store:
 * batch-norm running statistics are left alone).  Cotangents live in the driver's own buffers,
 * so tl_exec_param_grads and tl_exec_grad are untouched. */
#include <stdlib.h>
#include <string.h>

#include "ad/ad_rules.h"
#include "exec/exec_internal.h"

typedef struct ad {
  tl_exec *e;
  tl_exec_env env;
  const tl_graph *g;
  int top;             /* nodes 0..top are looked at */
  unsigned char *in;   /* node depends on wrt and feeds top */
  const float **val;   /* values */
  float **vown;        /* recomputed values (owned) */
  float **dv;          /* tangents (NULL: zero) */
  float **gr, **dg;    /* HVP: cotangents and their tangents */
  unsigned char *dgnz; /* dg[i] may be non-zero */
  float *zeros;
  tl_status *st;
} ad;

static const char *opname(const tl_graph *g, int id) { return tl_op_get(g->nodes[id].op)->name; }

static int diff_parent(const tl_node *n, int k) { return !(n->op == TL_OP_EMBEDDING && k == 0); }

static void ad_free(ad *a) {
  for (int i = 0; a->vown && i <= a->top; i++) {
    free(a->vown[i]);
    if (a->dv && a->dv[i] && a->g->nodes[i].op != TL_OP_INPUT && a->g->nodes[i].op != TL_OP_PARAM)
      free(a->dv[i]);
    if (a->gr)
      free(a->gr[i]), free(a->dg[i]);
  }
  free(a->in), free((void *)a->val), free(a->vown), free(a->dv), free(a->gr), free(a->dg), free(a->dgnz);
  free(a->zeros);
}

static tl_kctx kctx_of(const ad *a, int id, const float *const *in) {
  const tl_node *n = &a->g->nodes[id];
  tl_kctx k = {.g = a->g,
               .id = id,
               .n = n,
               .in = in,
               .out = (float *)a->val[id],
               .kernels = a->env.kernels,
               .training = a->env.training,
               .seed = a->env.seed,
               .step = a->env.step,
               .weights = NULL,
               .be = a->env.be,
               .ws = a->env.ws,
               .pool = NULL,
               .st = a->st};
  return k;
}

/* parent value pointers of node id into buf (nparents entries, or a malloc'ed array) */
static const float **parent_vals(const ad *a, int id, const float **buf) {
  const tl_node *n = &a->g->nodes[id];
  const float **in = n->nparents <= 8 ? buf : malloc(sizeof *in * (size_t)n->nparents);
  for (int k = 0; in && k < n->nparents; k++)
    in[k] = a->val[n->parents[k]];
  return in;
}

/* a->in[i] = node i depends on wrt (a differentiable path) and feeds out (feed: scratch, zeroed) */
static void ad_mark_path(ad *a, int out, int wrt, unsigned char *feed) {
  const tl_graph *g = a->g;
  feed[out] = 1;
  for (int i = out; i >= 0; i--)
    if (feed[i])
      for (int k = 0; k < g->nodes[i].nparents; k++)
        if (diff_parent(&g->nodes[i], k))
          feed[g->nodes[i].parents[k]] = 1;
  if (wrt <= out && feed[wrt]) {
    a->in[wrt] = 1;
    for (int i = wrt + 1; i <= out; i++) {
      const tl_node *n = &g->nodes[i];
      if (!feed[i] || n->op == TL_OP_INPUT || n->op == TL_OP_PARAM)
        continue;
      for (int k = 0; k < n->nparents && !a->in[i]; k++)
        a->in[i] = diff_parent(n, k) && a->in[n->parents[k]];
    }
  }
}

/* values: the rules read a node's parents and its output; vneed[i] = node i's value is read, a->val
 * the exec's kept values (a node without one needs its parents' values to be recomputed) */
static tl_code ad_find_values(ad *a, int out, int wrt, unsigned char *vneed, tl_status *st) {
  const tl_graph *g = a->g;
  for (int i = 0; i <= out; i++)
    if (a->in[i] && i != wrt) {
      vneed[i] = 1;
      for (int k = 0; k < g->nodes[i].nparents; k++)
        vneed[g->nodes[i].parents[k]] = 1;
    }
  for (int i = out; i >= 0; i--) {
    if (!vneed[i])
      continue;
    const tl_node *n = &g->nodes[i];
    a->val[i] = tl_exec_value(a->e, i);
    if (a->val[i])
      continue;
    if (n->op == TL_OP_INPUT)
      return tl_fail(st, TL_EARG,
                     "autograd: input '%s' (node %d) has no value (call tl_exec_set_input and forward)",
                     n->name, i);
    for (int k = 0; k < n->nparents; k++) /* recomputed below: its parents too */
      vneed[n->parents[k]] = 1;
  }
  return TL_OK;
}

/* recompute, in node order with the same kernels, the needed values a compiled plan dropped */
static tl_code ad_recompute(ad *a, int out, const unsigned char *vneed, tl_status *st) {
  const tl_graph *g = a->g;
  tl_code rc = TL_OK;
  for (int i = 0; i <= out && rc == TL_OK; i++) {
    const tl_node *n = &g->nodes[i];
    if (!vneed[i] || a->val[i] || n->op == TL_OP_INPUT || n->op == TL_OP_PARAM)
      continue;
    if (!(a->vown[i] = malloc(sizeof(float) * (size_t)(n->numel ? n->numel : 1))))
      return tl_fail(st, TL_ENOMEM, "node %d (%s): out of memory for a recomputed value", i, opname(g, i));
    const float *buf[8], **inv = parent_vals(a, i, buf);
    for (int k = 0; inv && k < n->nparents && rc == TL_OK; k++)
      if (!inv[k])
        rc =
            tl_fail(st, TL_EARG, "node %d (%s): parent node %d has no value", i, opname(g, i), n->parents[k]);
    if (!inv)
      rc = tl_fail(st, TL_ENOMEM, "autograd: out of memory");
    if (rc == TL_OK) {
      tl_kctx k = kctx_of(a, i, inv);
      rc = tl_ad_call_fwd(&k, n, inv, a->vown[i]);
    }
    if (inv && inv != buf)
      free((void *)inv);
    a->val[i] = a->vown[i];
  }
  return rc;
}

/* set up: which nodes matter, their values (recomputing what a compiled plan dropped) */
static tl_code ad_init(ad *a, tl_exec *e, int out, int wrt, tl_status *st) {
  memset(a, 0, sizeof *a);
  a->e = e, a->st = st;
  TL_TRY(tl_exec_env_get(e, &a->env, st));
  const tl_graph *g = a->g = a->env.g;
  if (wrt < 0 || wrt >= g->nnodes || (g->nodes[wrt].op != TL_OP_INPUT && g->nodes[wrt].op != TL_OP_PARAM))
    return tl_fail(st, TL_EARG, "autograd: node %d is not an input or parameter", wrt);
  if (out < 0 || out >= g->nnodes)
    return tl_fail(st, TL_EARG, "autograd: node %d does not exist", out);
  int N = a->top = out, n1 = N + 1;
  int64_t maxn = 1;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].numel > maxn)
      maxn = g->nodes[i].numel;
  a->in = calloc((size_t)n1, 1);
  a->val = calloc((size_t)n1, sizeof *a->val);
  a->vown = calloc((size_t)n1, sizeof *a->vown);
  a->dv = calloc((size_t)n1, sizeof *a->dv);
  a->zeros = calloc((size_t)maxn, sizeof(float));
  unsigned char *feed = calloc((size_t)n1, 1), *vneed = calloc((size_t)n1, 1);
  tl_code rc = TL_OK;
  if (!a->in || !a->val || !a->vown || !a->dv || !a->zeros || !feed || !vneed) {
    rc = tl_fail(st, TL_ENOMEM, "autograd: out of memory");
  } else {
    ad_mark_path(a, out, wrt, feed);
    rc = ad_find_values(a, out, wrt, vneed, st);
    if (rc == TL_OK)
      rc = ad_recompute(a, out, vneed, st);
  }
  free(feed);
  free(vneed);
  return rc;
}

/* tangent sweep: dv[wrt] = v, dv[i] = J_i (dv of parents) for the nodes in a->in */
static tl_code ad_tangents(ad *a, int wrt, const float *v) {
  const tl_graph *g = a->g;
  if (wrt > a->top || !a->in[wrt])
    return TL_OK;
  a->dv[wrt] = (float *)v; /* borrowed: never freed nor written (leaf) */
  for (int i = wrt + 1; i <= a->top; i++) {
    const tl_node *n = &g->nodes[i];
    if (!a->in[i])
      continue;
    const float *dl[8], **din = n->nparents <= 8 ? dl : malloc(sizeof *din * (size_t)n->nparents);
    const float *bl[8], **inv = parent_vals(a, i, bl);
    tl_code rc = din && inv ? TL_OK : tl_fail(a->st, TL_ENOMEM, "autograd: out of memory");
    int any = 0;
    for (int k = 0; rc == TL_OK && k < n->nparents; k++) {
      din[k] = diff_parent(n, k) ? a->dv[n->parents[k]] : NULL;
      any |= din[k] != NULL;
    }
    if (rc == TL_OK && any) {
      a->dv[i] = malloc(sizeof(float) * (size_t)(n->numel ? n->numel : 1));
      if (!a->dv[i]) {
        rc = tl_fail(a->st, TL_ENOMEM, "node %d (%s): out of memory for its tangent", i, opname(g, i));
      } else {
        tl_kctx k = kctx_of(a, i, inv);
        tl_adrule r = {.k = &k, .din = din, .dy = NULL, .zeros = a->zeros};
        rc = tl_ad_tangent(&r, a->dv[i]);
      }
    }
    if (din && din != dl)
      free((void *)din);
    if (inv && inv != bl)
      free((void *)inv);
    TL_TRY(rc);
  }
  return TL_OK;
}

tl_code tl_autograd_jvp(tl_exec *e, int wrt, const float *v, int out, float *out_tangent, tl_status *st) {
  ad a;
  tl_code rc = ad_init(&a, e, out, wrt, st);
  if (rc == TL_OK)
    rc = ad_tangents(&a, wrt, v);
  if (rc == TL_OK) {
    int64_t m = a.g->nodes[out].numel;
    if (a.dv[out])
      memcpy(out_tangent, a.dv[out], sizeof(float) * (size_t)m);
    else
      memset(out_tangent, 0, sizeof(float) * (size_t)m);
  }
  if (a.dv && a.in && wrt <= a.top)
    a.dv[wrt] = NULL; /* borrowed */
  ad_free(&a);
  return rc;
}

/* reverse sweep of node i: VJP of g and of dg, plus the second-order term */
static tl_code ad_reverse_node(ad *a, int i) {
  const tl_graph *g = a->g;
  const tl_node *n = &g->nodes[i];
  int np = n->nparents;
  const float *bl[8], **inv = parent_vals(a, i, bl);
  const float *dl[8], **din = np <= 8 ? dl : malloc(sizeof *din * (size_t)np);
  float *gl[8], *dgl[8], **gin = np <= 8 ? gl : malloc(sizeof *gin * (size_t)np);
  float **dgin = np <= 8 ? dgl : malloc(sizeof *dgin * (size_t)np);
  tl_code rc = inv && din && gin && dgin ? TL_OK : tl_fail(a->st, TL_ENOMEM, "autograd: out of memory");
  for (int k = 0; rc == TL_OK && k < np; k++) {
    int p = n->parents[k], want = diff_parent(n, k) && a->in[p];
    din[k] = diff_parent(n, k) ? a->dv[p] : NULL;
    gin[k] = want ? a->gr[p] : NULL;
    dgin[k] = want ? a->dg[p] : NULL;
    if (want)
      a->dgnz[p] = 1;
  }
  if (rc == TL_OK) {
    tl_kctx k = kctx_of(a, i, inv);
    rc = tl_ad_call_bwd(&k, n, inv, a->val[i], a->gr[i], gin); /* gx = B(x, g) */
    if (rc == TL_OK && a->dgnz[i])                             /* dgx = B(x, dg) + ... */
      rc = tl_ad_call_bwd(&k, n, inv, a->val[i], a->dg[i], dgin);
    if (rc == TL_OK) { /* ... + [d_x B(x, g)] dx */
      k.gout = a->gr[i];
      tl_adrule r = {.k = &k, .din = din, .dy = a->dv[i], .zeros = a->zeros};
      rc = tl_ad_second(&r, dgin);
    }
  }
  if (inv && inv != bl)
    free((void *)inv);
  if (din && din != dl)
    free((void *)din);
  if (gin && gin != gl)
    free(gin);
  if (dgin && dgin != dgl)
    free(dgin);
  return rc;
}

tl_code tl_autograd_hvp(tl_exec *e, int loss, int wrt, const float *v, float *hv, tl_status *st) {
  ad a;
  tl_code rc = ad_init(&a, e, loss, wrt, st);
  const tl_graph *g = a.g;
  if (rc == TL_OK && g->nodes[loss].numel != 1)
    rc = tl_fail(st, TL_EARG, "autograd: hvp of node %d (%s), which has %lld elements, not a scalar loss",
                 loss, opname(g, loss), (long long)g->nodes[loss].numel);
  if (rc == TL_OK)
    rc = ad_tangents(&a, wrt, v);
  int n1 = a.top + 1;
  if (rc == TL_OK) {
    a.gr = calloc((size_t)n1, sizeof *a.gr);
    a.dg = calloc((size_t)n1, sizeof *a.dg);
    a.dgnz = calloc((size_t)n1, 1);
    if (!a.gr || !a.dg || !a.dgnz)
      rc = tl_fail(st, TL_ENOMEM, "autograd: out of memory");
    for (int i = 0; rc == TL_OK && i < n1; i++) {
      if (!a.in[i])
        continue;
      size_t m = (size_t)(g->nodes[i].numel ? g->nodes[i].numel : 1);
      a.gr[i] = calloc(m, sizeof(float));
      a.dg[i] = calloc(m, sizeof(float));
      if (!a.gr[i] || !a.dg[i])
        rc = tl_fail(st, TL_ENOMEM, "node %d (%s): out of memory for cotangents", i, opname(g, i));
    }
  }
  if (rc == TL_OK && a.in[loss]) {
    a.gr[loss][0] = 1.0f; /* d loss / d loss; its tangent is 0 */
    for (int i = loss; i > wrt && rc == TL_OK; i--)
      if (a.in[i])
        rc = ad_reverse_node(&a, i);
  }
  if (rc == TL_OK) {
    int64_t m = g->nodes[wrt].numel;
    if (wrt <= a.top && a.in[wrt] && a.dg[wrt])
      memcpy(hv, a.dg[wrt], sizeof(float) * (size_t)m);
    else
      memset(hv, 0, sizeof(float) * (size_t)m);
  }
  if (a.dv && a.in && wrt <= a.top)
    a.dv[wrt] = NULL; /* borrowed */
  ad_free(&a);
  return rc;
}
