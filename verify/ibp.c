/* ibp.c - interval bound propagation in the `real` and `f32-any` semantics.
 *
 * Every box is a pair of binary64 arrays computed with directed rounding: lower ends in
 * FE_DOWNWARD, upper ends in FE_UPWARD, so each box encloses the exact image of its parents'
 * boxes.  Affine ops use the midpoint-radius form (Rump): with c = mid, r = radius rounded up,
 * lo = down(W c + b) - up(|W| r), hi = up(W c + b) + up(|W| r).
 * f32-any widens every node by its rounding-error bound (see vinternal.h and
 * docs/certificates.md); a node that may overflow binary32 becomes unbounded (+-inf).
 * This file is the sweep; the per-op box rules are in rules/ (the rule table, vrules.h). */
#include <stdlib.h>
#include <string.h>

#include "vrules.h"

void tl_bounds_free(tl_bounds *b) {
  if (!b)
    return;
  for (int i = 0; i < b->nnodes; i++) {
    if (b->shared && b->shared[i])
      continue;
    free(b->lo[i]);
    free(b->hi[i]);
  }
  free(b->lo);
  free(b->hi);
  free(b->shared);
  free(b);
}

void tlv_set_unbounded(double *lo, double *hi, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    lo[i] = -INFINITY, hi[i] = INFINITY;
}

/* Elementwise passes in the current rounding mode, one clone per instruction set (they dominate
 * the IBP of wide elementwise nodes). */
/* e = rel max(|lo|, |hi|) + abs, hi += e */
TLV_CLONES static void widen_up(const double *lo, double *hi, double *e, double rel, double abs_, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double a = fabs(lo[i]), b = fabs(hi[i]);
    e[i] = rel * (a > b || b != b ? a : b) + abs_;
    hi[i] = hi[i] + e[i];
  }
}
/* lo -= e */
TLV_CLONES static void sub_pass(double *lo, const double *e, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    lo[i] = lo[i] - e[i];
}
/* f32-any: widen [lo, hi] by rel * max(|lo|, |hi|) + abs, elementwise (two rounding-mode switches
 * in all: each costs ~80 ns) */
static tl_code widen_rel(double *lo, double *hi, int64_t n, double rel, double abs_, tl_status *st) {
  double small[1024], *e = n <= 1024 ? small : malloc((size_t)n * sizeof *e);
  if (!e)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  rnd_up();
  widen_up(lo, hi, e, rel, abs_, n);
  rnd_down();
  sub_pass(lo, e, n);
  if (e != small)
    free(e);
  return TL_OK;
}

/* binary32 overflow: a value above FLT_MAX in magnitude (or NaN) may round to infinity.  On the
 * bits: |x| > FLT_MAX exactly when bits(|x|) + (2^63 - 1 - bits(FLT_MAX)) reaches bit 63 (NaN and
 * inf included); integer ops, no early exit, so the loop vectorises. */
TLV_CLONES int tlv_over_f32(const double *lo, const double *hi, int64_t n) {
  const double fm = FLT_MAX;
  uint64_t fmb, acc = 0;
  memcpy(&fmb, &fm, 8);
  const uint64_t k = 0x7fffffffffffffffu - fmb, m = 0x7fffffffffffffffu;
  for (int64_t i = 0; i < n; i++) {
    uint64_t a, b;
    memcpy(&a, &lo[i], 8), memcpy(&b, &hi[i], 8);
    acc |= ((a & m) + k) | ((b & m) + k);
  }
  return (int)(acc >> 63);
}

tl_code tlv_ibp_finish(const tl_graph *g, int id, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  int64_t N = g->nodes[id].numel;
  const tl_f32_err *m = tl_f32_model(g->nodes[id].op);
  double rel = m->kind == TL_F32_ELEM ? m->rel : 0, eabs = m->kind == TL_F32_ELEM ? m->eabs : 0;
  if (sem == TL_SEM_F32_ANY && (rel > 0 || eabs > 0))
    TL_TRY(widen_rel(lo, hi, N, rel, eabs, st));
  if (sem == TL_SEM_F32_ANY ? tlv_over_f32(lo, hi, N) : !tlv_box_finite(lo, hi, N))
    tlv_set_unbounded(lo, hi, N);
  return TL_OK;
}

/* node id through its row of the rule table (a node with a non-finite parent is unbounded) */
static tl_code ibp_node(const tl_verify_plan *pl, const tl_graph *g, int id, const tl_region *reg,
                        const tl_bounds *b, tl_semantics sem, double *lo, double *hi, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  for (int k = 0; k < n->nparents; k++) {
    if (!tlv_parent_finite(pl, b, g, n->parents[k])) {
      tlv_set_unbounded(lo, hi, n->numel);
      return TL_OK;
    }
  }
  const tlv_rule *r = tlv_rule_of(n->op);
  if (!r->ibp)
    return tl_fail(st, TL_EUNSUPPORTED, "verify: node %d: no interval rule for op %s", id,
                   tl_op_get(n->op)->name);
  return r->ibp(pl, g, id, reg, b, sem, lo, hi, st);
}

tl_code tl_ibp(const tl_graph *g, const tl_region *r, tl_semantics sem, tl_bounds **out, tl_status *st) {
  *out = NULL;
  tl_verify_plan *pl;
  TL_TRY(tl_verify_plan_new(&pl, g, st));
  tl_code rc = tlv_ibp_plan(pl, r, sem, out, st);
  tl_verify_plan_free(pl);
  return rc;
}

tl_code tl_ibp_plan(const tl_verify_plan *pl, const tl_region *r, tl_semantics sem, tl_bounds **out,
                    tl_status *st) {
  *out = NULL;
  return tlv_ibp_plan(pl, r, sem, out, st);
}

tl_code tlv_ibp_plan(const tl_verify_plan *pl, const tl_region *r, tl_semantics sem, tl_bounds **out,
                     tl_status *st) {
  const tl_graph *g = pl->g;
  *out = NULL;
  if (g->ninputs != 1)
    return tl_fail(st, TL_EUNSUPPORTED, "verify: the graph must have exactly one input (has %d)", g->ninputs);
  tl_bounds *b = calloc(1, sizeof *b);
  if (!b)
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  b->nnodes = g->nnodes;
  b->sem = sem;
  b->lo = calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *b->lo);
  b->hi = calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *b->hi);
  b->shared = calloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
  if (!b->lo || !b->hi || !b->shared) {
    tl_bounds_free(b);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  }
  int old = fegetround();
  tl_code rc = TL_OK;
  for (int i = 0; i < g->nnodes && rc == TL_OK; i++) {
    size_t n = (size_t)(g->nodes[i].numel ? g->nodes[i].numel : 1);
    if (!pl->reference && pl->wonly[i])
      continue; /* a weight operand of a fast node: read from the graph, no box (NULL) */
    tl_op op = g->nodes[i].op;
    int p0 = g->nodes[i].nparents ? g->nodes[i].parents[0] : -1;
    if ((op == TL_OP_FLATTEN || op == TL_OP_RESHAPE || op == TL_OP_DROPOUT) && p0 >= 0 && b->lo[p0] &&
        g->nodes[p0].numel == g->nodes[i].numel) { /* the same values: share the parent's arrays */
      b->lo[i] = b->lo[p0], b->hi[i] = b->hi[p0], b->shared[i] = 1;
      continue;
    }
    b->lo[i] = malloc(n * sizeof(double));
    b->hi[i] = malloc(n * sizeof(double));
    if (!b->lo[i] || !b->hi[i])
      rc = tl_fail(st, TL_ENOMEM, "verify: out of memory for node %d", i);
    else
      rc = ibp_node(pl, g, i, r, b, sem, b->lo[i], b->hi[i], st);
  }
  fesetround(old);
  if (rc != TL_OK) {
    tl_bounds_free(b);
    return rc;
  }
  *out = b;
  return TL_OK;
}

/* The real image box of node id from the boxes of its parents (an elementwise op), and the
 * f32-any error radius E[o] such that fl(result) = exact op(float parents) + e, |e| <= E[o]
 * (the op's f32model.h row: rel max|box| + eabs, or batch norm's model). */
tl_code tlv_elem_err(const tl_graph *g, int id, const tl_bounds *b, double *E, tl_status *st) {
  const tl_node *n = &g->nodes[id];
  int64_t N = n->numel;
  double *lo = malloc((size_t)(N ? N : 1) * sizeof *lo), *hi = malloc((size_t)(N ? N : 1) * sizeof *hi);
  if (!lo || !hi) {
    free(lo), free(hi);
    return tl_fail(st, TL_ENOMEM, "verify: out of memory");
  }
  int old = fegetround();
  tl_code rc = ibp_node(NULL, g, id, NULL, b, TL_SEM_REAL, lo, hi, st);
  const tl_f32_err *m = tl_f32_model(n->op);
  double rel = m->kind == TL_F32_ELEM ? m->rel : 0, eabs = m->kind == TL_F32_ELEM ? m->eabs : 0;
  if (rc == TL_OK && m->kind == TL_F32_BN) {
    rc = tlv_bn_err(g, id, b, E, st);
  } else {
    rnd_up();
    for (int64_t o = 0; rc == TL_OK && o < N; o++)
      E[o] = rel * vmax(fabs(lo[o]), fabs(hi[o])) + eabs;
  }
  fesetround(old);
  free(lo), free(hi);
  return rc;
}
