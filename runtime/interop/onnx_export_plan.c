/* interop/onnx_export_plan.c - what the ONNX exporter writes, decided before any message exists:
 *   outputs   the graph's outputs in order; a loss output (mse_loss, cross_entropy: training only)
 *             is replaced by its prediction (parent 0);
 *   live      the nodes some output depends on (labels used only by losses drop out);
 *   batch     whether axis 0 can be the symbolic batch dimension: every live input has rank >= 1
 *             and the same leading size, and every op keeps samples apart (per-op rules below);
 *   names     PARAM and INPUT names kept exactly (state-dict names), op nodes their own name or
 *             "<op>_<id>", made unique. */
#include <stdio.h>
#include <stdlib.h>

#include "interop/onnx_export_internal.h"

static int is_loss(tl_op op) { return op == TL_OP_MSE_LOSS || op == TL_OP_CROSS_ENTROPY; }

static tl_code plan_outputs(oe *x) {
  const tl_graph *g = x->g;
  if (g->noutputs < 1)
    return oe_fail(x, TL_EARG, "the graph has no outputs (mark one with tl_graph_mark_output)");
  x->outs = malloc((size_t)g->noutputs * sizeof *x->outs);
  if (!x->outs)
    return oe_fail(x, TL_ENOMEM, "out of memory");
  for (int k = 0; k < g->noutputs; k++) {
    int o = g->outputs[k];
    if (is_loss(g->nodes[o].op))
      x->losses_dropped++;
    while (is_loss(g->nodes[o].op)) /* the prediction the loss compares */
      o = g->nodes[o].parents[0];
    x->outs[x->nouts++] = o;
  }
  return TL_OK;
}

static tl_code plan_live(oe *x) {
  const tl_graph *g = x->g;
  for (int k = 0; k < x->nouts; k++)
    x->live[x->outs[k]] = 1;
  for (int i = g->nnodes - 1; i >= 0; i--)
    if (x->live[i])
      for (int k = 0; k < g->nodes[i].nparents; k++)
        x->live[g->nodes[i].parents[k]] = 1;
  for (int i = 0; i < g->nnodes; i++)
    if (x->live[i] && is_loss(g->nodes[i].op)) {
      char w[160];
      return oe_fail(x, TL_EUNSUPPORTED,
                     "%s: a training-only loss used by another node cannot be exported (only a loss "
                     "that is a graph output is, as its prediction)",
                     oe_where(x, i, w, sizeof w));
    }
  return TL_OK;
}

/* ---- batch polymorphism ------------------------------------------------------------------------ */

#define RANK(p) (g->nodes[p].ndim)
#define DIM0(p) (g->nodes[p].shape[0])

/* Broadcasting: a batch operand keeps axis 0 at output axis 0 (same rank); a constant operand
 * of the output's rank must have size 1 there (else it is shaped by the traced batch). */
static int bat_broadcast(const oe *x, const tl_node *n, int *out) {
  const tl_graph *g = x->g;
  int any = 0;
  for (int k = 0; k < n->nparents; k++)
    any |= x->bat[n->parents[k]];
  for (int k = 0; any && k < n->nparents; k++) {
    int p = n->parents[k];
    if (x->bat[p] ? RANK(p) != n->ndim : (RANK(p) == n->ndim && DIM0(p) != 1))
      return 0;
  }
  *out = any;
  return 1;
}

/* matmul: a's axis 0 is output axis 0 when ranks match (a row or a batch axis); b's only when it
 * is a batch axis (rank >= 3), never the contracted rows of a 2-D b */
static int bat_matmul(const oe *x, const tl_node *n, int *out) {
  const tl_graph *g = x->g;
  int a = n->parents[0], b = n->parents[1], r = n->ndim;
  *out = x->bat[a] || x->bat[b];
  if (!*out)
    return 1;
  if (x->bat[a] ? RANK(a) != r : (r >= 3 && RANK(a) == r && DIM0(a) != 1))
    return 0;
  if (x->bat[b] ? (RANK(b) != r || r < 3) : (r >= 3 && RANK(b) == r && DIM0(b) != 1))
    return 0;
  return 1;
}

/* ops whose parents after the first are weights: those must not depend on the batch */
static int weights_fixed(const oe *x, const tl_node *n) {
  for (int k = 1; k < n->nparents; k++)
    if (x->bat[n->parents[k]])
      return 0;
  return 1;
}

static int bat_concat(const oe *x, const tl_node *n, int *out) {
  int all = 1, any = 0;
  for (int k = 0; k < n->nparents; k++) {
    all &= x->bat[n->parents[k]];
    any |= x->bat[n->parents[k]];
  }
  *out = any;
  return !any || (all && n->attrs.axis != 0);
}

static int axis0_listed(const tl_attrs *a) {
  for (int i = 0; i < a->nlist; i++)
    if (a->list[i] == 0)
      return 1;
  return 0;
}

/* 1 when node n keeps samples apart; *out: its axis 0 carries the batch */
static int bat_rule(const oe *x, const tl_node *n, int *out) {
  const tl_graph *g = x->g;
  int p = n->nparents ? n->parents[0] : -1, b = p >= 0 && x->bat[p];
  const tl_attrs *a = &n->attrs;
  *out = b;
  switch (n->op) {
  case TL_OP_INPUT: *out = 1; return n->ndim >= 1;
  case TL_OP_PARAM: return 1;
  case TL_OP_ADD:
  case TL_OP_SUB:
  case TL_OP_MUL:
  case TL_OP_DIV:
  case TL_OP_MAX:
  case TL_OP_MIN: return bat_broadcast(x, n, out);
  case TL_OP_MATMUL: return bat_matmul(x, n, out);
  case TL_OP_LINEAR:
  case TL_OP_LAYER_NORM: return weights_fixed(x, n) && (!b || RANK(p) >= 2);
  case TL_OP_CONV2D:
  case TL_OP_BATCH_NORM:
  case TL_OP_EMBEDDING:
  case TL_OP_ATTENTION: return weights_fixed(x, n);
  case TL_OP_SOFTMAX:
  case TL_OP_LOG_SOFTMAX:
  case TL_OP_SLICE: return !b || a->axis != 0;
  case TL_OP_SUM:
  case TL_OP_MEAN: return !b || (a->nlist > 0 && !axis0_listed(a));
  case TL_OP_RESHAPE: return !b || (n->ndim >= 1 && n->shape[0] == DIM0(p));
  case TL_OP_FLATTEN: return !b || a->axis >= 1 || a->axis_end == 0;
  case TL_OP_PERMUTE: return !b || a->list[0] == 0;
  case TL_OP_CONCAT: return bat_concat(x, n, out);
  case TL_OP_NEG:
  case TL_OP_ABS:
  case TL_OP_SQRT:
  case TL_OP_EXP:
  case TL_OP_LOG:
  case TL_OP_RELU:
  case TL_OP_LEAKY_RELU:
  case TL_OP_SIGMOID:
  case TL_OP_TANH:
  case TL_OP_GELU:
  case TL_OP_SILU:
  case TL_OP_CLAMP:
  case TL_OP_DROPOUT:
  case TL_OP_MAX_POOL2D:
  case TL_OP_AVG_POOL2D:
  case TL_OP_GLOBAL_AVG_POOL: return 1;
  default: return 0; /* losses (never live) and ops without a rule: keep the batch fixed */
  }
}

/* 1 when the whole live graph is batch-polymorphic; fills x->bat */
static int plan_batch(oe *x) {
  const tl_graph *g = x->g;
  int first = -1;
  for (int i = 0; i < g->nnodes; i++) {
    if (!x->live[i] || g->nodes[i].op != TL_OP_INPUT)
      continue;
    if (RANK(i) < 1 || (first >= 0 && DIM0(i) != DIM0(first)))
      return 0;
    if (first < 0)
      first = i;
  }
  if (first < 0)
    return 0;
  for (int i = 0; i < g->nnodes; i++) {
    int b = 0;
    if (x->live[i] && !bat_rule(x, &g->nodes[i], &b))
      return 0;
    x->bat[i] = (unsigned char)(x->live[i] && b);
  }
  return 1;
}

static tl_code plan_names(oe *x) {
  const tl_graph *g = x->g;
  char w[160], buf[96];
  for (int i = 0; i < g->nnodes; i++) { /* PARAM and INPUT names first: they are kept exactly */
    const tl_node *n = &g->nodes[i];
    if (!x->live[i] || (n->op != TL_OP_PARAM && n->op != TL_OP_INPUT))
      continue;
    if (!n->name || !n->name[0])
      return oe_fail(x, TL_EARG, "%s has no name", oe_where(x, i, w, sizeof w));
    x->tname[i] = oe_name_exact(x, n->name);
  }
  for (int i = 0; i < g->nnodes && x->err == TL_OK; i++) {
    const tl_node *n = &g->nodes[i];
    if (!x->live[i] || n->op == TL_OP_PARAM || n->op == TL_OP_INPUT)
      continue;
    snprintf(buf, sizeof buf, "%s_%d", tl_op_get(n->op)->name, i);
    x->tname[i] = oe_name_unique(x, n->name && n->name[0] ? n->name : buf);
  }
  return x->err;
}

tl_code oe_plan(oe *x, const tl_onnx_export_opts *opts) {
  size_t n = (size_t)(x->g->nnodes > 0 ? x->g->nnodes : 1);
  x->live = calloc(n, 1);
  x->bat = calloc(n, 1);
  x->tname = calloc(n, sizeof *x->tname);
  if (!x->live || !x->bat || !x->tname)
    return oe_fail(x, TL_ENOMEM, "out of memory");
  if (opts->batch_name && opts->batch_name[0])
    x->batch_name = opts->batch_name;
  TL_TRY(plan_outputs(x));
  TL_TRY(plan_live(x));
  x->symbolic = !opts->fixed_batch && plan_batch(x);
  if (!x->symbolic)
    for (size_t i = 0; i < n; i++)
      x->bat[i] = 0;
  return plan_names(x);
}
