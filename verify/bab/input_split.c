/* input_split.c - branch and bound by input splitting: the search loop, the tree and the result
 * (include/torchlean/bab.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bab_internal.h"
#include "torchlean/rand.h"

const char *tl_bab_status_name(tl_bab_status s) {
  return s == TL_BAB_VERIFIED    ? "verified"
         : s == TL_BAB_FALSIFIED ? "falsified"
         : s == TL_BAB_TIMEOUT   ? "timeout"
                                 : "open";
}

tl_bab_opts tl_bab_opts_default(void) {
  tl_bab_opts o;
  memset(&o, 0, sizeof o);
  o.sem = TL_SEM_F32_ANY, o.max_nodes = (int64_t)1 << 20, o.intermediate_crown = 1, o.attack = 1;
  o.candidates = 1;
  o.pgd_steps = 30, o.pgd_restarts = 4;
  return o;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void tl_bab_result_free(tl_bab_result *r) {
  if (!r)
    return;
  for (int i = 0; i < r->nleaves; i++) {
    tl_region_free(r->leaf_region[i]);
    tl_verify_result_free(r->leaf_res[i]);
  }
  free(r->leaf_region), free(r->leaf_res), free(r->nodes), free(r->cex);
  free(r);
}

typedef struct bab_run {
  bab_ctx c;
  bab_heap h;
  tl_bab_result *r;
  int node_cap, leaf_cap;
  int64_t seq, pops;
  int stuck; /* open boxes that cannot be split */
} bab_run;

/* a new leaf node of the tree (index), or -1 when out of memory */
static int node_new(bab_run *b) {
  tl_bab_result *r = b->r;
  if (r->nnodes == b->node_cap) {
    int cap = b->node_cap ? 2 * b->node_cap : 256;
    tl_bab_node *nn = realloc(r->nodes, (size_t)cap * sizeof *nn);
    if (!nn)
      return -1;
    r->nodes = nn, b->node_cap = cap;
  }
  tl_bab_node *nd = &r->nodes[r->nnodes];
  nd->split = -1, nd->at = 0, nd->child[0] = nd->child[1] = -1, nd->leaf = -1;
  return r->nnodes++;
}

/* node becomes verified leaf: region and result move into the result */
static tl_code leaf_add(bab_run *b, int node, tl_region *reg, tl_verify_result *res, tl_status *st) {
  tl_bab_result *r = b->r;
  if (r->nleaves == b->leaf_cap) {
    int cap = b->leaf_cap ? 2 * b->leaf_cap : 128;
    tl_region **lr = realloc(r->leaf_region, (size_t)cap * sizeof *lr);
    if (lr)
      r->leaf_region = lr;
    tl_verify_result **ls = lr ? realloc(r->leaf_res, (size_t)cap * sizeof *ls) : NULL;
    if (!ls) {
      tl_region_free(reg), tl_verify_result_free(res);
      return tl_fail(st, TL_ENOMEM, "bab: out of memory");
    }
    r->leaf_res = ls, b->leaf_cap = cap;
  }
  r->leaf_region[r->nleaves] = reg, r->leaf_res[r->nleaves] = res;
  r->nodes[node].leaf = r->nleaves++;
  return TL_OK;
}

/* The bounded box x of node: verified, it becomes a leaf; open, it is attacked at its points and
 * queued.  x is consumed. */
static tl_code finish_box(bab_run *b, int node, int depth, bab_box *x, tl_status *st) {
  if (depth > b->r->max_depth)
    b->r->max_depth = depth;
  if (x->res->verdict == TL_VERDICT_VERIFIED) {
    tl_code rc = leaf_add(b, node, x->reg, x->res, st);
    x->reg = NULL, x->res = NULL;
    bab_box_free(x);
    return rc;
  }
  tl_code rc = b->c.o->attack ? bab_attack_points(&b->c, x->reg, x->coef, &b->r->cex, st) : TL_OK;
  bab_entry e = {x->margin, b->seq++, node, depth, x->lo, x->hi, x->coef};
  if (rc == TL_OK && !b->r->cex) {
    if (bab_heap_push(&b->h, &e))
      rc = tl_fail(st, TL_ENOMEM, "bab: out of memory");
    else
      x->lo = x->hi = x->coef = NULL; /* moved into the queue */
  }
  bab_box_free(x);
  return rc;
}

/* the two halves of e's box on dimension d, bounded */
static tl_code halves(bab_run *b, const bab_entry *e, int d, bab_box h[2], tl_status *st) {
  int64_t n = b->c.n;
  double at = bab_split_at(e->lo[d], e->hi[d]);
  tl_code rc = TL_OK;
  memset(h, 0, 2 * sizeof *h);
  for (int k = 0; k < 2 && rc == TL_OK; k++) {
    h[k].lo = malloc((size_t)n * sizeof(double)), h[k].hi = malloc((size_t)n * sizeof(double));
    if (!h[k].lo || !h[k].hi) {
      rc = tl_fail(st, TL_ENOMEM, "bab: out of memory");
      break;
    }
    memcpy(h[k].lo, e->lo, (size_t)n * sizeof(double)), memcpy(h[k].hi, e->hi, (size_t)n * sizeof(double));
    if (k == 0)
      h[k].hi[d] = at; /* [lo, at] and [at, hi]: the same double on both sides */
    else
      h[k].lo[d] = at;
    rc = bab_bound(&b->c, &h[k], st);
    b->r->bounded++;
  }
  if (rc != TL_OK)
    bab_box_free(&h[0]), bab_box_free(&h[1]);
  return rc;
}

/* the split of e: every candidate dimension tried (both children bounded), the best kept in best[2];
 * *dim = -1 when no dimension can be split */
static tl_code choose_split(bab_run *b, const bab_entry *e, int *dim, bab_box best[2], tl_status *st) {
  int k = b->c.o->candidates;
  int *dims = malloc((size_t)(k > 0 ? k + 1 : 2) * sizeof *dims);
  if (!dims)
    return tl_fail(st, TL_ENOMEM, "bab: out of memory");
  int nc = bab_candidates(&b->c, e->lo, e->hi, e->coef, k, dims);
  double bscore = 0;
  tl_code rc = TL_OK;
  *dim = -1;
  for (int q = 0; q < nc && rc == TL_OK; q++) {
    bab_box h[2];
    rc = halves(b, e, dims[q], h, st);
    if (rc != TL_OK)
      break;
    /* what is left to prove in both halves; a half's bound is at least the parent's (CROWN's lines are
     * not monotone in the box: a half can get a worse bound than the whole, yet the parent's holds on it) */
    h[0].margin = fmax(h[0].margin, e->margin), h[1].margin = fmax(h[1].margin, e->margin);
    double sc = fmin(h[0].margin, 0) + fmin(h[1].margin, 0);
    if (*dim < 0 || sc > bscore) {
      if (*dim >= 0)
        bab_box_free(&best[0]), bab_box_free(&best[1]);
      best[0] = h[0], best[1] = h[1], bscore = sc, *dim = dims[q];
    } else {
      bab_box_free(&h[0]), bab_box_free(&h[1]);
    }
    if (best[0].res->verdict == TL_VERDICT_VERIFIED && best[1].res->verdict == TL_VERDICT_VERIFIED)
      break; /* both halves verified: nothing better to find */
  }
  if (rc != TL_OK && *dim >= 0)
    bab_box_free(&best[0]), bab_box_free(&best[1]), *dim = -1;
  free(dims);
  return rc;
}

/* split the popped box e (its arrays consumed): the tree node gets its split and two children */
static tl_code split_box(bab_run *b, bab_entry *e, tl_status *st) {
  int d = -1;
  bab_box h[2];
  tl_code rc = choose_split(b, e, &d, h, st);
  if (rc == TL_OK && d < 0)
    b->stuck++;
  if (rc == TL_OK && d >= 0) {
    int l = node_new(b), r = l >= 0 ? node_new(b) : -1;
    if (r < 0) {
      bab_box_free(&h[0]), bab_box_free(&h[1]);
      rc = tl_fail(st, TL_ENOMEM, "bab: out of memory");
    } else {
      tl_bab_node *nd = &b->r->nodes[e->node];
      nd->split = d, nd->at = h[0].hi[d], nd->child[0] = l, nd->child[1] = r;
      rc = finish_box(b, l, e->depth + 1, &h[0], st);
      if (rc == TL_OK && !b->r->cex)
        rc = finish_box(b, r, e->depth + 1, &h[1], st);
      bab_box_free(&h[1]);
    }
  }
  free(e->lo), free(e->hi), free(e->coef);
  return rc;
}

/* the PGD search on the popped box at pops 1, 2, 4, 8, ... (the worst boxes of the queue) */
static tl_code maybe_pgd(bab_run *b, const bab_entry *e, tl_status *st) {
  b->pops++;
  if (!b->c.o->attack || b->c.o->pgd_steps <= 0 || (b->pops & (b->pops - 1)) != 0)
    return TL_OK;
  tl_region *reg = NULL;
  TL_TRY(tl_region_box(&reg, e->lo, e->hi, b->c.n, st));
  b->r->attacked++;
  tl_code rc = bab_attack_pgd(&b->c, reg, tl_splitmix64(b->c.o->seed ^ (uint64_t)b->pops), &b->r->cex, st);
  tl_region_free(reg);
  return rc;
}

/* the loop: pop the worst open box, attack it now and then, split it; until a limit */
static tl_code search(bab_run *b, double t0, tl_status *st) {
  const tl_bab_opts *o = b->c.o;
  bab_entry e;
  while (!b->r->cex && b->h.n > 0) {
    if (o->timeout_s > 0 && now_s() - t0 > o->timeout_s) {
      b->r->status = TL_BAB_TIMEOUT;
      return TL_OK;
    }
    if ((int64_t)b->r->nnodes + 2 > o->max_nodes)
      return TL_OK; /* open */
    bab_heap_pop(&b->h, &e);
    tl_code rc = maybe_pgd(b, &e, st);
    if (rc != TL_OK || b->r->cex) {
      free(e.lo), free(e.hi), free(e.coef);
      TL_TRY(rc);
      break;
    }
    TL_TRY(split_box(b, &e, st));
  }
  if (b->r->cex)
    b->r->status = TL_BAB_FALSIFIED;
  else if (b->h.n == 0 && b->stuck == 0)
    b->r->status = TL_BAB_VERIFIED;
  return TL_OK;
}

/* shapes: one input of root->n elements (a box region), the property on the first output */
static tl_code check_args(const tl_graph *g, const tl_region *root, const tl_property *p, tl_status *st) {
  if (g->ninputs != 1 || g->nodes[g->inputs[0]].numel != root->n)
    return tl_fail(st, TL_EARG, "bab: the graph needs one input of %lld elements", (long long)root->n);
  if (root->kind != TL_REGION_BOX)
    return tl_fail(st, TL_EARG, "bab: input splitting needs a box region");
  int out = g->noutputs ? g->outputs[0] : g->nnodes - 1;
  if (out < 0 || g->nodes[out].numel != p->nout)
    return tl_fail(st, TL_EARG, "bab: the property has %lld outputs, the graph %lld", (long long)p->nout,
                   out >= 0 ? (long long)g->nodes[out].numel : 0LL);
  return tl_verify_supports(g, st);
}

/* the context's arrays (rows, coefficients, root widths) and the root's box copies */
static tl_code setup(bab_run *b, const tl_region *root, double **lo, double **hi, tl_status *st) {
  bab_ctx *c = &b->c;
  int64_t n = root->n, m = c->p->nrows;
  c->n = n;
  c->a = malloc((size_t)m * (size_t)c->p->nout * sizeof *c->a);
  c->incoef = malloc((size_t)m * (size_t)(n ? n : 1) * sizeof *c->incoef);
  c->rootw = malloc((size_t)(n ? n : 1) * sizeof *c->rootw);
  *lo = malloc((size_t)(n ? n : 1) * sizeof **lo), *hi = malloc((size_t)(n ? n : 1) * sizeof **hi);
  b->r = calloc(1, sizeof *b->r);
  if (!c->a || !c->incoef || !c->rootw || !*lo || !*hi || !b->r || node_new(b) != 0)
    return tl_fail(st, TL_ENOMEM, "bab: out of memory");
  tl_objective_rows(c->p, c->a);
  memcpy(*lo, root->lo, (size_t)n * sizeof **lo), memcpy(*hi, root->hi, (size_t)n * sizeof **hi);
  for (int64_t i = 0; i < n; i++)
    c->rootw[i] = root->hi[i] - root->lo[i];
  return TL_OK;
}

tl_code tl_bab_input(const tl_graph *g, const tl_region *root, const tl_property *p, const tl_bab_opts *o,
                     tl_bab_result **out, tl_status *st) {
  *out = NULL;
  double t0 = now_s();
  TL_TRY(check_args(g, root, p, st));
  bab_run b;
  memset(&b, 0, sizeof b);
  b.c.g = g, b.c.p = p, b.c.o = o;
  tl_verify_plan *own = NULL;
  tl_code rc = o->plan ? TL_OK : tl_verify_plan_new(&own, g, st);
  b.c.pl = o->plan ? o->plan : own;
  if (rc == TL_OK && b.c.pl->g != g)
    rc = tl_fail(st, TL_EARG, "bab: the options' plan belongs to another graph");
  double *lo = NULL, *hi = NULL;
  if (rc == TL_OK)
    rc = setup(&b, root, &lo, &hi, st);
  if (rc == TL_OK) { /* the root */
    bab_box x = {lo, hi, NULL, NULL, NULL, 0, 0};
    lo = hi = NULL;
    rc = bab_bound(&b.c, &x, st);
    b.r->bounded++;
    if (rc == TL_OK)
      rc = finish_box(&b, 0, 0, &x, st);
    bab_box_free(&x);
  }
  if (rc == TL_OK)
    rc = search(&b, t0, st);
  free(lo), free(hi);
  bab_heap_free(&b.h);
  free(b.c.a), free(b.c.incoef), free(b.c.rootw);
  tl_verify_plan_free(own);
  if (rc != TL_OK) {
    tl_bab_result_free(b.r);
    return rc;
  }
  b.r->seconds = now_s() - t0;
  *out = b.r;
  return TL_OK;
}
